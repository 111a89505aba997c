import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { reprocessRange } from '../src/app/actions.ts';
import { cancelCampaign, deleteCampaign, extendCampaign } from '../src/app/campaign-control.ts';
import { createCampaign } from '../src/app/campaigns.ts';
import type { TaskConfig } from '../src/config/types.ts';
import { buildLaunch, instanceInputs, jobRef } from '../src/engine/launch.ts';
import { silentLogger } from '../src/logger.ts';
import type { Instance, Job } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { campaignProgress } from '../src/views/campaign-progress.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) {
    for (const job of await rt.store.activeJobs())
      await rt.executors.get(job.executor)?.cancel(jobRef(rt.engine.ctx, job), 'test over');
    await rt.close();
  }
});

async function world(tasks: TaskConfig[], over: { slots?: number; maxJobs?: number } = {}) {
  const dir = tempDir();
  const d = deployment(dir, tasks, {}, over.slots ?? 4);
  if (over.maxJobs !== undefined) d.limits.maxJobsPerInstance = over.maxJobs;
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  await rt.store.upsertRuns(
    [1, 2, 3].map((run) => ({ run, fill: 5, start: 1, end: 2, lumi: 3, type: 'collisions' })),
    'test',
  );
  return rt;
}

/** Passes until `check` holds. */
async function passUntil<T>(
  rt: Runtime,
  check: () => Promise<T | undefined | false>,
  what: string,
) {
  return until(
    async () => {
      await rt.engine.pass();
      return check();
    },
    20_000,
    what,
  );
}

/** Runs an instance through one attempt by hand, registering `paths` as its outputs. */
async function runByHand(rt: Runtime, inst: Instance, paths: string[]): Promise<Job> {
  const { jobs } = await rt.store.startInstance(inst.id, {
    from: inst.status,
    configHash: 'h',
    config: {},
    jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
    reason: null,
    by: 'test',
    at: 1,
  });
  const job = jobs[0] as Job;
  await rt.store.recordJobData(job.id, { outputs: paths.map((path) => ({ path })), at: 1 });
  await rt.store.transitionJob(job.id, { from: 'idle', to: 'done', reason: null, by: 't', at: 1 });
  return job;
}

const done = (rt: Runtime, id: number, from: Instance['status'] = 'processing') =>
  rt.store.transitionInstance(id, { from, to: 'done', reason: null, by: 't', at: 1 });

describe('downstream inputs', () => {
  it('never hands a queued downstream job the outputs of a superseded upstream attempt', async () => {
    const rt = await world([task('reco'), task('calib', { after: ['reco'] })]);
    const [reco] = await rt.store.createInstances(
      [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
      'test',
    );
    const [calib] = await rt.store.createInstances(
      [{ campaign: 'prompt', task: 'calib', groupKey: 'run:1', runs: [1] }],
      'test',
    );
    assert.ok(reco && calib);
    await runByHand(rt, reco, ['/eos/reco-attempt1.root']);
    await done(rt, reco.id);
    const started = await rt.store.startInstance(calib.id, {
      from: 'new',
      configHash: 'h',
      config: {},
      jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
      reason: null,
      by: 'test',
      at: 1,
    });
    const calibTask = rt.deployment.tasks.find((t) => t.name === 'calib') as TaskConfig;
    const launch = async () => {
      const { ctx } = rt.engine;
      const inputs = await instanceInputs(ctx, calibTask, started.instance);
      return buildLaunch(ctx, calibTask, started.instance, started.jobs[0] as Job, 1, inputs);
    };
    assert.deepEqual(
      (await launch()).inputs.outputs.map((o) => o.path),
      ['/eos/reco-attempt1.root'],
    );
    // The upstream is reprocessed while its downstream's job waits to be launched.
    await reprocessRange(
      rt.store,
      { campaign: 'prompt', task: 'reco', from: 1, to: 1 },
      { by: 't' },
    );
    assert.deepEqual((await launch()).inputs.outputs, [], 'nothing of attempt 1');
    const again = (await rt.store.getInstance(reco.id)) as Instance;
    await runByHand(rt, again, ['/eos/reco-attempt2.root']);
    assert.deepEqual(
      (await launch()).inputs.outputs.map((o) => o.path),
      ['/eos/reco-attempt2.root'],
    );
  });

  it('holds one-job-per-input to the jobs limit: the instance waits, saying which setting raises it', async () => {
    const rt = await world(
      [task('reco'), task('split', { after: ['reco'], jobs: { per: 'input' } })],
      {
        maxJobs: 2,
      },
    );
    const made = await rt.store.createInstances(
      [1, 2, 3].map((r) => ({ campaign: 'prompt', task: 'reco', groupKey: `run:${r}`, runs: [r] })),
      'test',
    );
    for (const inst of made) {
      await runByHand(rt, inst, inst.runs[0] === 1 ? ['/a', '/b', '/c'] : ['/a']);
      await done(rt, inst.id);
    }
    const [split] = await passUntil(
      rt,
      async () => {
        const [i] = await rt.store.instancesForRuns('prompt', 'split', [1]);
        return i?.status === 'waiting' ? [i] : undefined;
      },
      'split of run 1 waiting',
    );
    assert.match(
      split?.reason ?? '',
      /^one job per input: 3 jobs is more than the 2 one instance may have: use fewer, or raise limits\.max_jobs_per_instance/,
    );
  });
});

describe('reprocess --downstream', () => {
  it('sends the dependent instances back too, in one transaction, and the chain runs again', async () => {
    const rt = await world([task('reco'), task('calib', { after: ['reco'] }), task('other')]);
    const settled = async () =>
      (await rt.store.findInstances({ campaign: 'prompt' })).every((i) => i.status === 'done') &&
      (await rt.store.findInstances({ campaign: 'prompt' })).length === 9;
    await passUntil(rt, settled, 'the chain done');
    const before = await rt.store.findInstances({ campaign: 'prompt', task: 'reco' });
    const got = await reprocessRange(
      rt.store,
      { campaign: 'prompt', task: 'reco', from: 1, to: 2 },
      { by: 'cli:alice', reason: 'new GT' },
      { deployment: rt.deployment },
    );
    const now = await rt.store.findInstances({ campaign: 'prompt' });
    const back = now.filter((i) => i.status === 'new');
    assert.deepEqual(back.map((i) => [i.task, i.runs[0], i.attempt]).sort(), [
      ['calib', 1, 2],
      ['calib', 2, 2],
      ['reco', 1, 2],
      ['reco', 2, 2],
    ]);
    assert.deepEqual(got.skipped, []);
    const calib = now.find((i) => i.task === 'calib' && i.runs[0] === 1) as Instance;
    const last = (await rt.store.listEvents({ instanceId: calib.id })).at(-1);
    assert.deepEqual(
      [last?.to, last?.by, last?.reason, last?.data],
      [
        'new',
        'cli:alice',
        'new GT',
        {
          action: 'reprocess',
          downstream: true,
          requested: before.filter((i) => i.runs[0] !== 3).map((i) => i.id),
        },
      ],
    );
    await passUntil(rt, settled, 'the chain done again');
  });
});

describe('campaign cancel, extend, delete', () => {
  it('cancel stops running jobs through the executor and starts nothing more; delete keeps the history', async () => {
    const rt = await world([task('slow', { command: ['sleep', '30'] })], { slots: 10 });
    await createCampaign(rt, { name: 'rr', runs: '1-3' }, 'test');
    const running = await passUntil(
      rt,
      async () => {
        const jobs = (await rt.store.activeJobs()).filter((j) => j.campaign === 'rr');
        return jobs.length === 3 && jobs.every((j) => j.status === 'running') && jobs;
      },
      'rr jobs running',
    );
    await assert.rejects(deleteCampaign(rt, 'rr', { by: 't' }), {
      code: 'campaign_state',
      message:
        /campaign rr is active: 3 job\(s\) queued or running and 3 instance\(s\) processing: cancel it first \(`autoctrl campaign cancel rr`\)/,
    });
    await cancelCampaign(rt, 'rr', { by: 'cli:alice', reason: 'wrong GT' });
    await passUntil(
      rt,
      async () =>
        (await rt.store.findInstances({ campaign: 'rr' })).every((i) => i.status === 'failed'),
      'rr instances failed',
    );
    for (const j of running) {
      const now = (await rt.store.getJob(j.id)) as Job;
      assert.deepEqual([now.status, now.reason], ['failed', 'campaign rr cancelled']);
      // `cancel` resolves once the signal is sent: the process ends soon after, not at once.
      const executor = rt.executors.get('local');
      await passUntil(
        rt,
        async () =>
          (await executor?.status([jobRef(rt.engine.ctx, now)]))?.get(j.id)?.state !== 'running',
        'the process was stopped',
      );
    }
    assert.equal(
      (
        await rt.store.jobsForInstances(
          (await rt.store.findInstances({ campaign: 'rr' })).map((i) => i.id),
        )
      ).length,
      3,
      'no retry',
    );
    const p = await campaignProgress(rt, 'rr');
    assert.deepEqual([p.state, p.complete], ['cancelled', true]);
    await assert.rejects(extendCampaign(rt, 'rr', '3', { by: 't' }), { code: 'campaign_state' });
    await deleteCampaign(rt, 'rr', { by: 't' });
    assert.deepEqual(await rt.store.campaignNames(), []);
    await assert.rejects(campaignProgress(rt, 'nope'), { code: 'not_found' });
    assert.equal((await rt.store.listEvents({ entity: 'campaign', entityId: 'rr' })).length, 3);
    await rt.engine.pass();
    assert.equal((await rt.store.findInstances({ campaign: 'rr' })).length, 3, 'history kept');
  });

  it('extend adds runs the engine takes in at its next pass', async () => {
    const rt = await world([task('reco')]);
    await createCampaign(rt, { name: 'rr', runs: '1-2' }, 'test');
    await passUntil(rt, async () => (await campaignProgress(rt, 'rr')).complete, 'rr complete');
    await assert.rejects(extendCampaign(rt, 'rr', '1-2', { by: 't' }), {
      code: 'invalid_input',
      message: /no ended run matches --runs 1-2 that rr lacks/,
    });
    const got = await extendCampaign(rt, 'rr', '2-3', { by: 't' });
    assert.deepEqual(got.added, [3]);
    assert.equal((await campaignProgress(rt, 'rr')).complete, false);
    await passUntil(
      rt,
      async () => (await campaignProgress(rt, 'rr')).complete,
      'rr complete again',
    );
    assert.deepEqual(
      (await rt.store.findInstances({ campaign: 'rr' })).map((i) => [i.runs[0], i.status]),
      [
        [1, 'done'],
        [2, 'done'],
        [3, 'done'],
      ],
    );
    await assert.rejects(cancelCampaign(rt, 'prompt', { by: 't' }), {
      message: /prompt is the live campaign: it cannot be cancelled/,
    });
  });
});
