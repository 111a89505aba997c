import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import {
  deploymentYaml,
  openDeployment,
  runUntilSettled,
  sha256File,
  writeDeployment,
} from './mirror-world.ts';

assertNoLeaksAtEnd();

const RUNS = [355100, 355101, 355102];

async function prodWithRuns(dir: string) {
  const file = writeDeployment(
    join(dir, 'prod'),
    deploymentYaml({ environment: 'prod', version: '1.0' }),
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
      const statuses = await runUntilSettled(dev, RUNS);
      assert.ok(
        [...statuses.values()].every((s) => s === 'done'),
        JSON.stringify([...statuses]),
      );
      const runs = await dev.rt.store.listRuns({});
      assert.deepEqual(runs.map((r) => r.run).sort(), RUNS, 'dev has prod’s runs');
      // reco is taken from prod: the same outputs and fields, no job of dev's ran it.
      const devReco = await dev.rt.store.listOutputs({ task: 'reco', limit: 100 });
      assert.deepEqual(devReco.map((o) => o.path).sort(), prodReco.map((o) => o.path).sort());
      const [recoInst] = await dev.rt.store.instancesForRuns('prompt', 'reco', [RUNS[0] as number]);
      const [recoJob] = await dev.rt.store.jobsForInstance(recoInst?.id ?? 0);
      assert.equal(recoJob?.executor, 'mirror');
      assert.equal(recoJob?.fields.hits, 100 + (RUNS[0] as number));
      // calib ran in dev, with dev's version, in dev's own data area.
      const devCalib = await dev.rt.store.listOutputs({ task: 'calib', limit: 100 });
      assert.equal(devCalib.length, RUNS.length);
      for (const o of devCalib) assert.ok(o.path.startsWith(join(dir, 'dev', 'data')), o.path);
      const [calibInst] = await dev.rt.store.instancesForRuns('prompt', 'calib', [
        RUNS[0] as number,
      ]);
      const [calibJob] = await dev.rt.store.jobsForInstance(calibInst?.id ?? 0);
      assert.equal(calibJob?.executor, 'local');
      assert.equal(calibJob?.fields.constant, 1.5);
    } finally {
      await dev.close();
    }
    assert.equal(sha256File(prodDb), before, 'prod’s store file is byte-identical');
    assert.ok(!existsSync(`${prodDb}-journal`));
  });
});
