import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { createCampaign } from '../src/app/campaigns.ts';
import type { TaskConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { Instance } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { campaignProgress } from '../src/views/campaign-progress.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

async function start(tasks: TaskConfig[], slots = 4): Promise<Runtime> {
  const rt = await openRuntime(deployment(tempDir(), tasks, {}, slots), {
    logger: silentLogger(),
  });
  open.push(rt);
  return rt;
}

const addRuns = (rt: Runtime, numbers: number[], over: { fill?: number; type?: string } = {}) =>
  rt.store.upsertRuns(
    numbers.map((run) => ({
      run,
      fill: 1,
      lumi: 10,
      start: 1,
      end: 2,
      type: 'collisions',
      ...over,
    })),
    'test',
  );

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

async function configOf(rt: Runtime, inst: Instance | undefined) {
  assert.ok(inst?.configHash, 'the instance started');
  return (await rt.store.getConfig(inst.configHash)) as {
    env: Record<string, string>;
    command: string[];
    retries: number;
    campaign: string;
  };
}

describe('reprocessing campaigns', () => {
  it('reprocesses 50 runs beside prompt with overrides in each configuration, within its slot share', {
    timeout: 120_000,
  }, async () => {
    const rt = await start([
      task('reco', {
        command: ['sh', '-c', 'echo "GT=$GT args=$*"; sleep 0.05', 'reco'],
        env: { GT: '130X_prompt_v1' },
      }),
      task('calib', { after: ['reco'], command: ['sh', '-c', 'sleep 0.05'] }),
    ]);
    await addRuns(rt, range(1000, 50));
    const campaign = await createCampaign(
      rt,
      {
        name: 'rereco-gt4',
        runs: '1000-1049',
        type: 'collisions',
        set: {
          'reco.env.GT': '130X_dataRun3_v4',
          'reco.command.4': '--new-arg',
          'calib.retries': '1',
        },
        share: 0.5,
      },
      'test',
    );
    assert.equal(campaign.runs.length, 50);
    assert.deepEqual(campaign.tasks, ['reco', 'calib']);

    let live = 2000;
    let maxCampaign = 0;
    let maxPrompt = 0;
    await until(
      async () => {
        // Live runs keep arriving while the campaign goes on.
        if (live < 2010) await addRuns(rt, [live++]);
        await rt.engine.pass();
        const held = (await rt.store.activeJobs()).filter((j) => j.claimedBy !== null);
        const mine = held.filter((j) => j.campaign === 'rereco-gt4').length;
        assert.ok(mine <= 2, `${mine} campaign jobs held at once; its share is 0.5 of 4 slots`);
        maxCampaign = Math.max(maxCampaign, mine);
        maxPrompt = Math.max(maxPrompt, held.length - mine);
        return (await campaignProgress(rt, 'rereco-gt4')).complete;
      },
      90_000,
      'the campaign to complete',
    );
    assert.equal(maxCampaign, 2, 'the campaign used its share');
    assert.ok(maxPrompt >= 2, 'prompt ran beside it');

    const progress = await campaignProgress(rt, 'rereco-gt4');
    assert.deepEqual(progress.instances, {
      new: 0,
      waiting: 0,
      processing: 0,
      done: 100,
      failed: 0,
    });
    assert.equal(progress.percent, 100);
    const reco = await rt.store.findInstances({ campaign: 'rereco-gt4', task: 'reco' });
    assert.equal(reco.length, 50);
    const [promptReco] = await rt.store.instancesForRuns('prompt', 'reco', [1000]);
    const promptConfig = await until(async () => {
      await rt.engine.pass();
      const [i] = await rt.store.instancesForRuns('prompt', 'reco', [1000]);
      return i?.configHash ? configOf(rt, i) : undefined;
    });
    assert.equal(promptConfig.env.GT, '130X_prompt_v1');
    for (const inst of reco) {
      const config = await configOf(rt, inst);
      assert.equal(config.env.GT, '130X_dataRun3_v4');
      assert.equal(config.command.at(-1), '--new-arg');
      assert.equal(config.campaign, 'rereco-gt4');
      assert.notEqual(inst.configHash, promptReco?.configHash);
    }
    const [calib] = await rt.store.findInstances({
      campaign: 'rereco-gt4',
      task: 'calib',
      limit: 1,
    });
    assert.equal((await configOf(rt, calib)).retries, 1);
    // What the job saw: the override reached its environment and argv.
    const [job] = await rt.store.jobsForInstance(reco[0]?.id ?? 0);
    assert.match(readFileSync(job?.logPath ?? '', 'utf8'), /GT=130X_dataRun3_v4 args=--new-arg/);

    const before = await rt.store.findInstances({ campaign: 'rereco-gt4' });
    await rt.engine.pass();
    assert.equal((await rt.store.findInstances({ campaign: 'rereco-gt4' })).length, before.length);
  });

  it('takes upstream tasks it does not run from prompt', { timeout: 60_000 }, async () => {
    const rt = await start([task('reco'), task('calib', { after: ['reco'] })]);
    await addRuns(rt, [1, 2, 3]);
    await createCampaign(rt, { name: 'recalib', runs: '1-3', tasks: ['calib'] }, 'test');
    const done = await until(
      async () => {
        await rt.engine.pass();
        const p = await campaignProgress(rt, 'recalib');
        return p.complete ? p : undefined;
      },
      30_000,
      'the campaign to complete',
    );
    assert.equal(done.instances.done, 3);
    assert.deepEqual(await rt.store.findInstances({ campaign: 'recalib', task: 'reco' }), []);
    for (const run of [1, 2, 3]) {
      const [p] = await rt.store.instancesForRuns('prompt', 'reco', [run]);
      assert.equal(p?.status, 'done', 'the campaign waited for prompt reco');
    }
  });

  it('groups a fixed run list completely: the last fill and a luminosity remainder too', async () => {
    const rt = await start([
      task('per-fill', { group: { by: 'fill' } }),
      task('per-lumi', { group: { by: 'lumi', lumi: 25 } }),
    ]);
    await addRuns(rt, [1, 2], { fill: 7 });
    await addRuns(rt, [3], { fill: 8 });
    await createCampaign(rt, { name: 'fills', runs: '1-3' }, 'test');
    await rt.engine.pass();
    const groups = async (campaign: string, t: string) =>
      (await rt.store.findInstances({ campaign, task: t })).map((i) => i.groupKey);
    assert.deepEqual(
      await groups('prompt', 'per-fill'),
      ['fill:7'],
      'prompt waits for fill 8 to end',
    );
    assert.deepEqual(await groups('fills', 'per-fill'), ['fill:7', 'fill:8']);
    assert.deepEqual(await groups('prompt', 'per-lumi'), ['lumi:1-3']);
    await addRuns(rt, [4], { fill: 8 });
    await createCampaign(rt, { name: 'tail', runs: '1-4' }, 'test');
    await rt.engine.pass();
    assert.deepEqual(await groups('tail', 'per-lumi'), ['lumi:1-3', 'lumi:4-4']);
  });
});
