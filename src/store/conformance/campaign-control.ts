import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CampaignCounts } from '../../model/campaign.ts';
import { canTransitionInstance, canTransitionJob } from '../../model/transitions.ts';
import type { Instance, InstanceStatus, Job } from '../../model/types.ts';
import { sampleCampaign } from './campaigns.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

const who = { by: 'cli:alice', at: T0 + 100 };

/** A small deterministic generator (mulberry32): the same "random" transitions on every backend. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The counts of a campaign from its records, the slow way. */
async function recount(f: Fixture, campaign: string): Promise<CampaignCounts> {
  const instances = await f.store.findInstances({ campaign });
  const jobs = await f.store.jobsForInstances(instances.map((i) => i.id));
  const c: CampaignCounts = {
    instances: { new: 0, waiting: 0, processing: 0, done: 0, failed: 0 },
    jobs: { idle: 0, running: 0, done: 0, failed: 0 },
  };
  for (const i of instances) c.instances[i.status]++;
  for (const j of jobs) c.jobs[j.status]++;
  return c;
}

export async function startWith(f: Fixture, inst: Instance, jobs: number, executor = 'local') {
  return f.store.startInstance(inst.id, {
    from: inst.status,
    configHash: `cfg-${inst.attempt}`,
    config: {},
    jobs: Array.from({ length: jobs }, (_, i) => newJob(i, { executor })),
    reason: null,
    by: 'engine',
    at: T0,
  });
}

async function finish(f: Fixture, job: Job, to: 'done' | 'failed'): Promise<void> {
  await f.store.transitionJob(job.id, { from: job.status, to, reason: null, by: 'e', at: T0 });
}

/** Campaign control (cancel, extend, delete), counts kept incrementally, reprocessing with its cascade. */
export function testCampaignControl(f: Fixture): void {
  describe('campaign control and counts', () => {
    it('keeps counts that match a full recount after random transitions, in every campaign', async () => {
      await f.store.upsertRuns(
        Array.from({ length: 12 }, (_, i) => ({ run: i + 1, end: T0 })),
        'test',
      );
      await f.store.createCampaign(sampleCampaign('rereco', { runs: [1, 2, 3, 4, 5, 6] }));
      const made = await f.store.createInstances(
        [
          ...Array.from({ length: 12 }, (_, i) => ({
            campaign: 'prompt',
            task: 'reco',
            groupKey: `run:${i + 1}`,
            runs: [i + 1],
          })),
          ...Array.from({ length: 6 }, (_, i) => ({
            campaign: 'rereco',
            task: 'reco',
            groupKey: `run:${i + 1}`,
            runs: [i + 1],
          })),
        ],
        'engine',
      );
      const rnd = random(42);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
      for (let step = 0; step < 300; step++) {
        const inst = (await f.store.getInstance(pick(made).id)) as Instance;
        const jobs = (await f.store.jobsForInstance(inst.id)).filter(
          (j) =>
            j.instanceAttempt === inst.attempt && (j.status === 'idle' || j.status === 'running'),
        );
        const r = rnd();
        if (inst.status === 'processing' && jobs.length > 0) {
          const j = pick(jobs);
          const to = pick<Job['status']>(['running', 'done', 'failed']);
          if (!canTransitionJob(j.status, to)) continue;
          await f.store.transitionJob(j.id, {
            from: j.status,
            to,
            reason: null,
            by: 'e',
            at: T0,
            ...(to === 'failed' && r < 0.5
              ? { retry: newJob(j.index, { attempt: j.attempt + 1 }) }
              : {}),
          });
        } else if (inst.status === 'processing') {
          await f.store.transitionInstance(inst.id, {
            from: 'processing',
            to: pick<InstanceStatus>(['done', 'failed']),
            reason: null,
            by: 'e',
            at: T0,
          });
        } else if (inst.status === 'new' || (inst.status === 'waiting' && r < 0.5)) {
          if (r < 0.3)
            await f.store.transitionInstance(inst.id, {
              from: inst.status,
              to: 'waiting',
              reason: `lock ${step}`,
              by: 'e',
              at: T0,
            });
          else await startWith(f, inst, 1 + Math.floor(rnd() * 3));
        } else if (canTransitionInstance(inst.status, 'new')) {
          await f.store.reprocessInstances([inst.id], { reason: 'again', by: 'e', at: T0 });
        }
      }
      for (const name of ['prompt', 'rereco'])
        assert.deepEqual(await f.store.campaignCounts(name), await recount(f, name), name);
    });

    it('reprocesses several instances in one call: settled and waiting ones go back to new, the others are listed', async () => {
      const [a, b, c, d] = await f.instancesOf('reco', 1, 2, 3, 4);
      assert.ok(a && b && c && d);
      const sa = await startWith(f, a, 1);
      await finish(f, sa.jobs[0] as Job, 'done');
      await f.store.transitionInstance(a.id, {
        from: 'processing',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0,
      });
      await f.store.transitionInstance(b.id, {
        from: 'new',
        to: 'waiting',
        reason: 'lock x',
        by: 'e',
        at: T0,
      });
      await startWith(f, c, 1);
      const got = await f.store.reprocessInstances([a.id, b.id, c.id, d.id, 999_999], {
        reason: 'new GT',
        by: 'cli:alice',
        at: T0 + 5,
        data: { action: 'reprocess', downstreamOf: a.id },
      });
      assert.deepEqual(
        got.reprocessed.map((i) => [i.id, i.status, i.attempt, i.reason]),
        [
          [a.id, 'new', 2, 'new GT'],
          [b.id, 'new', 2, 'new GT'],
        ],
      );
      assert.deepEqual(got.skipped, [
        { id: c.id, status: 'processing' },
        { id: d.id, status: 'new' },
        { id: 999_999, status: null },
      ]);
      const events = (await f.store.listEvents({ instanceId: a.id })).at(-1);
      assert.deepEqual(
        [events?.from, events?.to, events?.by, events?.data],
        ['done', 'new', 'cli:alice', { action: 'reprocess', downstreamOf: a.id }],
      );
      assert.equal((await f.store.getInstance(a.id))?.configHash, null);
    });

    it('hands over outputs of the current attempt only: none of a superseded attempt or a retried job', async () => {
      const inst = await f.oneInstance();
      const s1 = await startWith(f, inst, 2);
      const [j0, j1] = s1.jobs as [Job, Job];
      await f.store.recordJobData(j0.id, { outputs: [{ path: '/a1-j0' }], at: T0 });
      await f.store.recordJobData(j1.id, { outputs: [{ path: '/a1-j1-try1' }], at: T0 });
      await finish(f, j0, 'done');
      const { retry } = await f.store.transitionJob(j1.id, {
        from: 'idle',
        to: 'failed',
        reason: 'x',
        by: 'e',
        at: T0,
        retry: newJob(1, { attempt: 2 }),
      });
      assert.ok(retry);
      await f.store.recordJobData(retry.id, { outputs: [{ path: '/a1-j1-try2' }], at: T0 });
      await finish(f, retry, 'done');
      await f.store.transitionInstance(inst.id, {
        from: 'processing',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0,
      });
      const paths = async () => (await f.store.outputsForInstances([inst.id])).map((o) => o.path);
      assert.deepEqual(await paths(), ['/a1-j0', '/a1-j1-try2']);
      await f.store.reprocessInstances([inst.id], { reason: 'again', by: 'e', at: T0 });
      assert.deepEqual(
        await paths(),
        [],
        'a reprocessed instance hands over nothing until its new attempt registers',
      );
      const again = (await f.store.getInstance(inst.id)) as Instance;
      const s2 = await startWith(f, again, 1);
      await f.store.recordJobData((s2.jobs[0] as Job).id, {
        outputs: [{ path: '/a2-j0' }],
        at: T0,
      });
      assert.deepEqual(await paths(), ['/a2-j0']);
      assert.equal((await f.store.listOutputs({})).length, 4, 'the history keeps every attempt');
    });

    it('cancels a campaign: its unclaimed idle jobs fail at once, claimed ones are left to the engine', async () => {
      await f.store.upsertRuns([{ run: 1, end: T0 }], 'test');
      await f.store.createCampaign(sampleCampaign('rereco', { runs: [1] }));
      const [inst] = await f.store.createInstances(
        [{ campaign: 'rereco', task: 'reco', groupKey: 'run:1', runs: [1] }],
        'engine',
      );
      assert.ok(inst);
      const { jobs } = await startWith(f, inst, 3);
      const [j0, j1] = jobs as [Job, Job, Job];
      await f.store.claimJobs([j0.id], { owner: 'ctl-a', ttlMs: 60_000 });
      await f.store.claimJobs([j1.id], { owner: 'ctl-a', ttlMs: 60_000 });
      await f.store.transitionJob(j1.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'e',
        at: T0,
      });
      const got = await f.store.cancelCampaign('rereco', { ...who, reason: 'wrong GT' });
      assert.equal(got.campaign.state, 'cancelled');
      assert.equal(got.campaign.revision, 2);
      assert.deepEqual(got.failedJobs, [(jobs[2] as Job).id]);
      const now = await f.store.jobsForInstance(inst.id);
      assert.deepEqual(
        now.map((j) => [j.status, j.reason]),
        [
          ['idle', null],
          ['running', null],
          ['failed', 'campaign rereco cancelled'],
        ],
      );
      const ev = await f.store.listEvents({ entity: 'campaign', entityId: 'rereco' });
      assert.deepEqual(
        ev.map((e) => [e.to, e.by, e.reason]),
        [
          ['created', 'cli:alice', null],
          ['cancelled', 'cli:alice', 'wrong GT'],
        ],
      );
      const jobEvent = (
        await f.store.listEvents({ entity: 'job', entityId: String(jobs[2]?.id) })
      ).at(-1);
      assert.deepEqual([jobEvent?.from, jobEvent?.to], ['idle', 'failed']);
      assert.equal(
        (await f.store.cancelCampaign('rereco', who)).failedJobs.length,
        0,
        'again: nothing more',
      );
      assert.equal((await f.store.listEvents({ entity: 'campaign' })).length, 2);
      assert.deepEqual(await f.store.campaignHeads(), [
        { name: 'rereco', state: 'cancelled', revision: 2 },
      ]);
      await assert.rejects(f.store.cancelCampaign('nope', who), { code: 'not_found' });
      await assert.rejects(f.store.extendCampaign('rereco', [2], who), {
        code: 'campaign_state',
        message: /campaign rereco is cancelled: create a new campaign/,
      });
    });

    it('extends an active campaign with runs it lacks, keeping its list in order, and gives them overview rows', async () => {
      await f.store.upsertRuns(
        [5, 6, 7, 8].map((run) => ({ run, end: T0 })),
        'test',
      );
      await f.store.createCampaign(sampleCampaign('rereco', { runs: [6, 7] }));
      const got = await f.store.extendCampaign('rereco', [8, 7, 5, 8], who);
      assert.deepEqual(got.added, [5, 8]);
      assert.deepEqual(
        got.campaign.runs,
        [6, 7, 5, 8],
        'appended: intake walks the list by position',
      );
      assert.equal(got.campaign.revision, 2);
      assert.deepEqual((await f.store.getCampaign('rereco'))?.runs, [6, 7, 5, 8]);
      const ev = (await f.store.listEvents({ entity: 'campaign', entityId: 'rereco' })).at(-1);
      assert.deepEqual([ev?.to, ev?.data], ['extended', { added: 2, runs: [5, 8] }]);
      assert.deepEqual((await f.store.extendCampaign('rereco', [6], who)).added, []);
      const rows = await f.store.overviewRuns({ campaign: 'rereco', order: 'asc', limit: 10 });
      assert.deepEqual(
        rows.map((r) => r.run.run),
        [5, 6, 7, 8],
      );
    });

    it('deletes a campaign only once settled; its history stays and it leaves the lists', async () => {
      await f.store.upsertRuns([{ run: 1, end: T0 }], 'test');
      await f.store.createCampaign(sampleCampaign('rereco', { runs: [1] }));
      const [inst] = await f.store.createInstances(
        [{ campaign: 'rereco', task: 'reco', groupKey: 'run:1', runs: [1] }],
        'engine',
      );
      assert.ok(inst);
      await assert.rejects(f.store.deleteCampaign('rereco', who), {
        code: 'campaign_state',
        message:
          /campaign rereco is active: 1 instance\(s\) not started yet: cancel it first \(`autoctrl campaign cancel rereco`\)/,
      });
      const { jobs } = await startWith(f, inst, 1);
      const job = jobs[0] as Job;
      await f.store.claimJobs([job.id], { owner: 'ctl-a', ttlMs: 60_000 });
      await f.store.recordJobData(job.id, { outputs: [{ path: '/out' }], at: T0 });
      await f.store.cancelCampaign('rereco', who);
      await assert.rejects(f.store.deleteCampaign('rereco', who), {
        code: 'campaign_state',
        message:
          /1 job\(s\) queued or running and 1 instance\(s\) processing: wait until its jobs have stopped/,
      });
      await finish(f, job, 'failed');
      await f.store.transitionInstance(inst.id, {
        from: 'processing',
        to: 'failed',
        reason: 'cancelled',
        by: 'e',
        at: T0,
      });
      const deleted = await f.store.deleteCampaign('rereco', who);
      assert.equal(deleted.state, 'deleted');
      assert.deepEqual(await f.store.listCampaigns(), []);
      assert.deepEqual(await f.store.campaignNames(), []);
      assert.deepEqual(await f.store.campaignHeads(), []);
      assert.equal(
        (await f.store.getCampaign('rereco'))?.state,
        'deleted',
        'still readable by name',
      );
      assert.deepEqual(
        (await f.store.listEvents({ entity: 'campaign', entityId: 'rereco' })).map((e) => e.to),
        ['created', 'cancelled', 'deleted'],
      );
      assert.deepEqual(
        (await f.store.listOutputs({ campaign: 'rereco' })).map((o) => o.path),
        ['/out'],
      );
      await assert.rejects(f.store.deleteCampaign('rereco', who), { code: 'not_found' });
      await assert.rejects(f.store.createCampaign(sampleCampaign('rereco')), {
        code: 'campaign_exists',
      });
    });
  });
}
