import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import {
  auditLedger,
  chainDone,
  endedRuns,
  killHard,
  startController,
  writeChainWorld,
} from './chain-world.ts';
import { assertNoLeaksAtEnd, sleep, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

const { skip, server } = postgresForThisFile();
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

const RUNS = 150;
/** Long enough for every connection to fail and the lease to lapse; the minute is the bench's. */
const OUTAGE_MS = 15_000;

describe('PostgreSQL going away under load', { skip }, () => {
  it('loses nothing: the engine waits, logs once, and goes on when the database is back', {
    timeout: 240_000,
  }, async () => {
    const url = server().url();
    const store = await createPostgresStore(url, { logger: silentLogger() });
    const dir = tempDir('autoctrl-outage-');
    const world = writeChainWorld(dir, {
      store: url,
      engine: '{ interval: 1s, lease_ttl: 2s }',
    });
    const controller = startController(world.file, 'warn');
    let log = '';
    controller.stdout?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    try {
      await store.upsertRuns(endedRuns(RUNS), 'test');
      // Mid-run: some of the chain done, jobs running.
      const started = Date.now();
      while ((await store.findInstances({ task: 'reco', statuses: ['done'] })).length < RUNS / 3) {
        assert.ok(Date.now() - started < 120_000, 'work started');
        await sleep(100);
      }
      await store.close();
      await server().pause();
      await sleep(OUTAGE_MS);
      await server().resume();
      const back = await createPostgresStore(url, { logger: silentLogger() });
      try {
        const deadline = Date.now() + 150_000;
        while (!(await chainDone(back, RUNS)) && Date.now() < deadline) await sleep(250);
        assert.ok(await chainDone(back, RUNS), 'every run reached the end of the chain');
        await auditLedger(back, world.ledger);
      } finally {
        await back.close();
      }
      const lines = (pattern: RegExp) => log.split('\n').filter((l) => pattern.test(l)).length;
      assert.equal(lines(/the store is unreachable/), 1, `logged once:\n${log.slice(0, 3000)}`);
      assert.equal(lines(/the store is reachable again/), 1, 'and once when it is back');
    } finally {
      await killHard(controller);
    }
  });
});
