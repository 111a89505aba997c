import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROMPT } from '../../model/campaign.ts';
import { canTransitionJob } from '../../model/transitions.ts';
import type { Instance, InstanceStatus, Job } from '../../model/types.ts';
import type { StatusCounts } from '../contract.ts';
import { random, startWith } from './campaign-control.ts';
import { sampleCampaign } from './campaigns.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

const at = { by: 'e', at: T0 };

/** What `statusCounts` must equal: a GROUP BY of every record of the listed campaigns, the slow way. */
async function recount(f: Fixture): Promise<StatusCounts> {
  const instances = new Map<string, number>();
  const jobs = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string[]) => {
    const key = JSON.stringify(k);
    m.set(key, (m.get(key) ?? 0) + 1);
  };
  for (const campaign of [PROMPT, ...(await f.store.campaignNames())]) {
    const list = await f.store.findInstances({ campaign, limit: 10_000 });
    for (const i of list) bump(instances, [campaign, i.task, i.status]);
    for (const j of await f.store.jobsForInstances(list.map((i) => i.id)))
      bump(jobs, [campaign, j.executor, j.status]);
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .map(([k, count]) => [JSON.parse(k) as string[], count] as const)
      .sort(([a], [b]) => byKeys(a, b));
  return {
    instances: sorted(instances).map(([[campaign = '', task = '', status], count]) => ({
      campaign,
      task,
      status: status as InstanceStatus,
      count,
    })),
    jobs: sorted(jobs).map(([[campaign = '', executor = '', status], count]) => ({
      campaign,
      executor,
      status: status as Job['status'],
      count,
    })),
  };
}

/** Element by element, in code-point order (SQLite's, and PostgreSQL's with COLLATE "C"). */
function byKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** One random step of an instance's life: a lock wait, a start, a job's move (with a retry), an end, a reprocess. */
async function step(f: Fixture, inst: Instance, rnd: () => number): Promise<void> {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const jobs = (await f.store.jobsForInstance(inst.id)).filter(
    (j) => j.instanceAttempt === inst.attempt && (j.status === 'idle' || j.status === 'running'),
  );
  const r = rnd();
  if (inst.status === 'processing' && jobs.length > 0) {
    const j = pick(jobs);
    const to = pick<Job['status']>(['running', 'done', 'failed']);
    if (!canTransitionJob(j.status, to)) return;
    const retry = to === 'failed' && r < 0.5;
    await f.store.transitionJob(j.id, {
      from: j.status,
      to,
      reason: null,
      ...at,
      ...(retry
        ? { retry: newJob(j.index, { attempt: j.attempt + 1, executor: j.executor }) }
        : {}),
    });
  } else if (inst.status === 'processing') {
    const to = pick<InstanceStatus>(['done', 'failed']);
    await f.store.transitionInstance(inst.id, { from: 'processing', to, reason: null, ...at });
  } else if (inst.status === 'new' || (inst.status === 'waiting' && r < 0.5)) {
    if (r < 0.3) {
      const reason = `lock ${Math.floor(rnd() * 3)}`;
      await f.store.transitionInstance(inst.id, {
        from: inst.status,
        to: 'waiting',
        reason,
        ...at,
      });
    } else await startWith(f, inst, 1 + Math.floor(rnd() * 3), pick(['local', 'slurm']));
  } else {
    await f.store.reprocessInstances([inst.id], { reason: 'again', ...at });
  }
}

/** Counts by status for `/metrics`, kept by the store as records change. */
export function testStatusCounts(f: Fixture): void {
  describe('counts by status', () => {
    it('equal a GROUP BY of the records after transitions, retries, reprocessing and a campaign deleted', async () => {
      assert.deepEqual(await f.store.statusCounts(), { instances: [], jobs: [] });
      await f.store.upsertRuns(
        Array.from({ length: 10 }, (_, i) => ({ run: i + 1, end: T0 })),
        'test',
      );
      await f.store.createCampaign(sampleCampaign('rereco', { runs: [1, 2, 3, 4] }));
      await f.store.createCampaign(sampleCampaign('gone', { runs: [5, 6] }));
      const of = (campaign: string, task: string, runs: number[]) =>
        runs.map((run) => ({ campaign, task, groupKey: `run:${run}`, runs: [run] }));
      const all = Array.from({ length: 10 }, (_, i) => i + 1);
      const made = await f.store.createInstances(
        [
          ...of(PROMPT, 'reco', all),
          ...of(PROMPT, 'calib', all),
          ...of('rereco', 'reco', [1, 2, 3, 4]),
          ...of('gone', 'reco', [5, 6]),
        ],
        'engine',
      );
      const rnd = random(7);
      for (let n = 0; n < 400; n++) {
        const id = made[Math.floor(rnd() * made.length)]?.id ?? 0;
        await step(f, (await f.store.getInstance(id)) as Instance, rnd);
      }
      assert.deepEqual(await f.store.statusCounts(), await recount(f), 'after the random walk');

      // Settle and delete `gone`: it leaves the counts as it leaves the lists.
      await f.store.cancelCampaign('gone', { reason: 'wrong GT', ...at });
      for (const inst of await f.store.findInstances({ campaign: 'gone' })) {
        for (const j of await f.store.jobsForInstance(inst.id))
          if (j.status === 'idle' || j.status === 'running')
            await f.store.transitionJob(j.id, { from: j.status, to: 'failed', reason: 'x', ...at });
        if (inst.status !== 'done' && inst.status !== 'failed')
          await f.store.transitionInstance(inst.id, {
            from: inst.status,
            to: 'failed',
            reason: 'cancelled',
            ...at,
          });
      }
      const before = await f.store.statusCounts();
      assert.ok(before.instances.some((r) => r.campaign === 'gone'));
      await f.store.deleteCampaign('gone', { reason: null, ...at });
      const after = await f.store.statusCounts();
      assert.deepEqual(after, await recount(f), 'after the delete');
      assert.ok(!after.instances.some((r) => r.campaign === 'gone'));
      assert.ok(
        after.jobs.some((r) => r.executor === 'slurm'),
        'jobs of both executors counted',
      );
      assert.ok(after.instances.every((r) => r.count > 0) && after.jobs.every((r) => r.count > 0));
    });
  });
}
