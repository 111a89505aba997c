import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import {
  auditLedger,
  chainDone,
  endedRuns,
  killHard,
  seeded,
  startController,
  writeChainWorld,
} from './chain-world.ts';
import { assertNoLeaksAtEnd, sleep, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

// Enough work that the daemon is killed at least 10 times before it is done: 200 runs took 8 kills in 2026-12.
const RUNS = 500;

describe('crash safety', () => {
  it('SIGKILLed at random points, the daemon runs every job exactly once per attempt and loses none', {
    timeout: 240_000,
  }, async () => {
    const dir = tempDir('autoctrl-crash-');
    const world = writeChainWorld(dir, { store: 'sqlite:state.db', engine: '{ interval: 200ms }' });
    const store = await createSqliteStore(join(dir, 'state.db'), { logger: silentLogger() });
    try {
      await store.upsertRuns(endedRuns(RUNS), 'test');
      const random = seeded(12345);
      let kills = 0;
      const deadline = Date.now() + 150_000;
      while (!(await chainDone(store, RUNS)) && Date.now() < deadline) {
        const daemon = startController(world.file);
        // Live between 0.2 s and 1.5 s: long enough to start up and do some work, short enough to die mid-pass.
        await sleep(200 + random() * 1300);
        if (kills < 25) {
          await killHard(daemon);
          kills++;
        } else {
          while (!(await chainDone(store, RUNS)) && Date.now() < deadline) await sleep(200);
          await killHard(daemon);
        }
      }
      assert.ok(await chainDone(store, RUNS), 'every run reached the end of the chain');
      assert.ok(kills >= 10, `the daemon was killed ${kills} times`);
      await auditLedger(store, world.ledger);
    } finally {
      await store.close();
    }
  });
});
