import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { MirrorReadError } from '../src/mirror/errors.ts';
import { openReader } from '../src/mirror/open.ts';
import { startServer } from '../src/server/serve.ts';
import { openStore } from '../src/store/open.ts';
import { autoctrl } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import {
  assertDevTookProd,
  deploymentYaml,
  openDeployment,
  runUntilSettled,
  sha256File,
  writeDeployment,
} from './mirror-world.ts';
import { postgresForThisFile } from './services/postgres.ts';

const pg = postgresForThisFile();
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

const RUNS = [355100, 355101, 355102];

async function prodWithRuns(dir: string, over: { store?: string; extra?: string } = {}) {
  const file = writeDeployment(
    join(dir, 'prod'),
    deploymentYaml({ environment: 'prod', version: '1.0', ...over }),
  );
  const prod = await openDeployment(file);
  await prod.rt.store.upsertRuns(
    RUNS.map((run, i) => ({ run, fill: 8000, start: 1000 * i, end: 1000 * i + 500, lumi: 10 })),
    'test',
  );
  await runUntilSettled(prod, RUNS);
  return prod;
}

describe('dev mirror', () => {
  it('processes prod’s runs from prod’s SQLite store, running only the task under test, and leaves prod’s store byte-identical', async () => {
    const dir = tempDir();
    const prod = await prodWithRuns(dir);
    const prodReco = await prod.rt.store.listOutputs({ task: 'reco', limit: 100 });
    await prod.close();
    const prodDb = join(dir, 'prod', 'state.db');
    const before = sha256File(prodDb);

    const devFile = writeDeployment(
      join(dir, 'dev'),
      deploymentYaml({
        environment: 'dev',
        version: '1.5',
        mirror: 'mirror: { from: "sqlite:../prod/state.db", tasks: [calib], interval: 100ms }',
      }),
    );
    const dev = await openDeployment(devFile);
    try {
      await assertDevTookProd(dev, RUNS, prodReco, join(dir, 'dev', 'data'));
    } finally {
      await dev.close();
    }
    assert.equal(sha256File(prodDb), before, 'prod’s store file is byte-identical');
    assert.ok(!existsSync(`${prodDb}-journal`));

    // The seeded difference: dev's calib has another constant, and another file.
    const json = await autoctrl([
      'diff-env',
      join(dir, 'dev'),
      join(dir, 'prod'),
      '--runs',
      `${RUNS[0]}-${RUNS.at(-1)}`,
      '--json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const diff = JSON.parse(json.stdout) as {
      a: string;
      b: string;
      compared: number;
      differ: number;
      rows: Array<{
        task: string;
        runs: number[];
        same: boolean;
        fields: unknown[];
        outputs: unknown[];
      }>;
    };
    assert.equal(diff.a, 'dev');
    assert.equal(diff.b, 'prod');
    assert.equal(diff.compared, 2 * RUNS.length);
    assert.equal(diff.differ, RUNS.length);
    for (const row of diff.rows) {
      if (row.task === 'reco') {
        assert.equal(row.same, true, 'reco was taken from prod');
        continue;
      }
      assert.deepEqual(row.fields, [{ name: 'constant', a: 1.5, b: 1 }]);
      assert.deepEqual(
        (row.outputs as Array<{ name: string; what: string }>).map((o) => [o.name, o.what]),
        [['calib.txt', 'content']],
      );
    }
    // One argument: the other side is what dev mirrors.
    const human = await autoctrl(['diff-env', join(dir, 'dev'), '--runs', String(RUNS[0])]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /runs\s+task\s+dev\s+prod\s+differences/);
    assert.match(
      human.stdout,
      new RegExp(
        `${RUNS[0]}\\s+calib\\s+done\\s+done\\s+constant: 1\\.5 ≠ 1; calib\\.txt: content differs`,
      ),
    );
    assert.match(human.stdout, /1 of 2 \(run, task\) pairs differ between dev and prod/);
    const bad = await autoctrl(['diff-env', join(dir, 'nowhere'), '--runs', '1-2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no deployment at .*nowhere: give a deployment directory/);
  });

  it('reads prod through its API, with the read token prod requires', async () => {
    const dir = tempDir();
    process.env.MIRROR_TEST_TOKEN = 'prod-read-token';
    const prod = await prodWithRuns(dir, {
      extra: 'auth: { read: token, operators: { reader: { token_env: MIRROR_TEST_TOKEN } } }',
    });
    const server = await startServer(
      prod.rt,
      { trigger: () => undefined, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
    try {
      const prodReco = await prod.rt.store.listOutputs({ task: 'reco', limit: 100 });
      const events = (await prod.rt.store.listEvents({ limit: 100_000 })).length;
      const anonymous = await openReader({ from: server.url }, silentLogger());
      await assert.rejects(anonymous.runsSince(null, 10), (err: unknown) => {
        assert.ok(err instanceof MirrorReadError);
        assert.match(err.message, /needs a token .*mirror\.token_env/);
        return true;
      });
      const devFile = writeDeployment(
        join(dir, 'dev'),
        deploymentYaml({
          environment: 'dev',
          version: '1.5',
          mirror: `mirror: { from: "${server.url}", token_env: MIRROR_TEST_TOKEN, tasks: [calib], interval: 100ms }`,
        }),
      );
      const dev = await openDeployment(devFile);
      try {
        await assertDevTookProd(dev, RUNS, prodReco, join(dir, 'dev', 'data'));
      } finally {
        await dev.close();
      }
      assert.equal((await prod.rt.store.listEvents({ limit: 100_000 })).length, events);
      const api = await autoctrl(
        [
          'diff-env',
          join(dir, 'dev'),
          server.url,
          '--runs',
          `${RUNS[0]}-${RUNS.at(-1)}`,
          '--json',
          '--token-env',
          'MIRROR_TEST_TOKEN',
        ],
        { MIRROR_TEST_TOKEN: 'prod-read-token' },
      );
      assert.equal(api.code, 0, api.stderr);
      assert.equal((JSON.parse(api.stdout) as { differ: number }).differ, RUNS.length);
    } finally {
      await server.close();
      await prod.close();
      delete process.env.MIRROR_TEST_TOKEN;
    }
  });

  it('reads a PostgreSQL prod store in read-only transactions: dev works, a write is refused', {
    skip: pg.skip,
  }, async () => {
    const dir = tempDir();
    const url = pg.server().url();
    const prod = await prodWithRuns(dir, { store: url });
    const prodReco = await prod.rt.store.listOutputs({ task: 'reco', limit: 100 });
    const events = (await prod.rt.store.listEvents({ limit: 100_000 })).length;
    await prod.close();
    const devFile = writeDeployment(
      join(dir, 'dev'),
      deploymentYaml({
        environment: 'dev',
        version: '1.5',
        mirror: `mirror: { from: "${url}", tasks: [calib], interval: 100ms }`,
      }),
    );
    const dev = await openDeployment(devFile);
    try {
      await assertDevTookProd(dev, RUNS, prodReco, join(dir, 'dev', 'data'));
    } finally {
      await dev.close();
    }
    const ro = await openStore(url, silentLogger(), { readOnly: true });
    try {
      assert.equal((await ro.listEvents({ limit: 100_000 })).length, events, 'prod unchanged');
      await assert.rejects(ro.upsertRuns([{ run: 1 }], 'test'), /read-only transaction/);
      await assert.rejects(ro.setCursor('x', 'y'), /read-only transaction/);
    } finally {
      await ro.close();
    }
  });
});
