import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttemptEndedError,
  ClaimLostError,
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  StaleStateError,
} from '../../errors.ts';
import type { StateStore } from '../contract.ts';
import { type Fixture, firstJob, newJob, T0 } from './fixture.ts';

/** Jobs: claims, transitions, retries, reported data and outputs. */
export function testJobs(f: Fixture): void {
  describe('jobs', () => {
    it('lists active jobs and counts them per executor, campaign, status and claim', async () => {
      const s = await f.store.startInstance((await f.oneInstance()).id, {
        from: 'new',
        configHash: 'h',
        config: {},
        jobs: [newJob(0), newJob(1, { executor: 'slurm' }), newJob(2)],
        reason: null,
        by: 'e',
        at: T0,
      });
      const [a, b, c] = s.jobs;
      assert.ok(a && b && c);
      await f.store.claimJobs([a.id], { owner: 'ctl-1', ttlMs: 60_000 });
      await f.store.transitionJob(c.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'e',
        at: T0 + 2,
      });
      await f.store.transitionJob(c.id, {
        from: 'running',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0 + 3,
      });
      assert.deepEqual(
        (await f.store.activeJobs()).map((j) => j.id),
        [a.id, b.id],
      );
      assert.deepEqual(
        (await f.store.activeJobs('slurm')).map((j) => j.id),
        [b.id],
      );
      assert.deepEqual((await f.store.activeJobs('htcondor')).length, 0);
      const counts = (await f.store.activeJobCounts()).map(
        (r) => `${r.executor}/${r.campaign}/${r.status}/${r.claimed}/${r.count}`,
      );
      assert.deepEqual(counts.sort(), ['local/prompt/idle/true/1', 'slurm/prompt/idle/false/1']);
    });

    it('reads jobs in flight, ready ones per executor and campaign, and the next delayed retry', async () => {
      const s = await f.store.startInstance((await f.oneInstance()).id, {
        from: 'new',
        configHash: 'h',
        config: {},
        jobs: [
          newJob(0),
          newJob(1),
          newJob(2, { notBefore: T0 + 500 }),
          newJob(3, { notBefore: T0 + 100 }),
          newJob(4, { executor: 'slurm' }),
          newJob(5),
        ],
        reason: null,
        by: 'e',
        at: T0,
      });
      const [a, b, c, d, e, g] = s.jobs;
      assert.ok(a && b && c && d && e && g);
      await f.store.claimJobs([a.id, e.id], { owner: 'ctl-1', ttlMs: 60_000 });
      await f.store.transitionJob(g.id, {
        from: 'idle',
        to: 'failed',
        reason: 'x',
        by: 'e',
        at: T0,
      });
      assert.deepEqual(
        (await f.store.jobsInFlight()).map((j) => j.id),
        [a.id, e.id],
      );
      const ready = (now: number, limit = 10, executor = 'local', campaign = 'prompt') =>
        f.store.readyJobs({ executor, campaign, now, limit }).then((jobs) => jobs.map((j) => j.id));
      assert.deepEqual(await ready(T0), [b.id]);
      assert.deepEqual(await ready(T0 + 100), [b.id, d.id]);
      assert.deepEqual(await ready(T0 + 500), [b.id, c.id, d.id]);
      assert.deepEqual(await ready(T0 + 500, 2), [b.id, c.id]);
      assert.deepEqual(await ready(T0, 10, 'slurm'), [], 'claimed: not ready');
      assert.deepEqual(await ready(T0 + 500, 10, 'local', 'rereco'), []);
      assert.equal(await f.store.nextJobRetry(T0), T0 + 100);
      assert.equal(await f.store.nextJobRetry(T0 + 100), T0 + 500);
      assert.equal(await f.store.nextJobRetry(T0 + 500), null);
      assert.deepEqual(
        (await f.store.getJobs([g.id, a.id, 999_999])).map((j) => [j.id, j.status]),
        [
          [a.id, 'idle'],
          [g.id, 'failed'],
        ],
      );
      assert.deepEqual(await f.store.getJobs([]), []);
    });

    it('claims a job once, ever', async () => {
      const s = await f.started(3);
      const [a, b, c] = s.jobs;
      assert.ok(a && b && c);
      await f.store.transitionJob(c.id, {
        from: 'idle',
        to: 'failed',
        reason: 'cancelled',
        by: 'e',
        at: T0,
      });
      assert.deepEqual(
        (await f.store.claimJobs([a.id, b.id, c.id], { owner: 'ctl-1', ttlMs: 60_000 })).sort(),
        [a.id, b.id].sort(),
      );
      assert.deepEqual(
        await f.store.claimJobs([a.id, b.id], { owner: 'ctl-2', ttlMs: 60_000 }),
        [],
      );
      assert.deepEqual(await f.store.claimJobs([a.id], { owner: 'ctl-1', ttlMs: 60_000 }), []);
      const job = await f.store.getJob(a.id);
      assert.deepEqual([job?.claimedBy, job?.submittedAt, job?.status], ['ctl-1', null, 'idle']);
      assert.ok(job?.claimedAt !== null && job?.claimExpiresAt === (job?.claimedAt ?? 0) + 60_000);
      await f.store.setJobSubmitted(a.id, {
        owner: 'ctl-1',
        executorId: '4242',
        logPath: '/logs/a.log',
      });
      const sub = await f.store.getJob(a.id);
      assert.deepEqual(
        [sub?.executorId, sub?.logPath, sub?.status],
        ['4242', '/logs/a.log', 'idle'],
      );
      assert.ok((sub?.submittedAt ?? 0) >= (job?.claimedAt ?? Number.POSITIVE_INFINITY));
      await assert.rejects(
        f.store.setJobSubmitted(a.id + 1000, { owner: 'ctl-1', executorId: 'x', logPath: null }),
        NotFoundError,
      );
      const jobEvents = await f.store.listEvents({ entity: 'job', entityId: String(a.id) });
      assert.equal(jobEvents.length, 1, 'claiming and submission are not state changes');

      // An executor that answers "running": both recorded in one call, the move with its event.
      const running = { by: 'executor:local', at: T0 + 5 };
      await f.store.setJobSubmitted(b.id, {
        owner: 'ctl-1',
        executorId: '7',
        logPath: null,
        running,
      });
      const runs = await f.store.getJob(b.id);
      assert.deepEqual([runs?.executorId, runs?.status, runs?.startedAt], ['7', 'running', T0 + 5]);
      const moved = await f.store.listEvents({ entity: 'job', entityId: String(b.id) });
      assert.deepEqual(
        moved.map((e) => [e.from, e.to, e.by]),
        [
          [null, 'idle', moved[0]?.by],
          ['idle', 'running', 'executor:local'],
        ],
      );
      // Submitted again (a restarted controller adopting it): already running, nothing more.
      await f.store.setJobSubmitted(b.id, {
        owner: 'ctl-1',
        executorId: '7',
        logPath: null,
        running,
      });
      assert.equal((await f.store.listEvents({ entity: 'job', entityId: String(b.id) })).length, 2);
      await assert.rejects(
        f.store.setJobSubmitted(b.id, { owner: 'ctl-2', executorId: '7', logPath: null, running }),
        ClaimLostError,
      );
    });

    it('moves a job with times, exit code and an event', async () => {
      const job = firstJob(await f.started());
      const { job: running, retry } = await f.store.transitionJob(job.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'job:1',
        at: T0 + 20,
      });
      assert.equal(retry, null);
      assert.deepEqual(
        [running.status, running.startedAt, running.endedAt],
        ['running', T0 + 20, null],
      );
      const { job: done } = await f.store.transitionJob(job.id, {
        from: 'running',
        to: 'done',
        reason: 'finished',
        by: 'job:1',
        at: T0 + 30,
        exitCode: 0,
      });
      assert.deepEqual(
        [done.status, done.startedAt, done.endedAt, done.exitCode, done.reason],
        ['done', T0 + 20, T0 + 30, 0, 'finished'],
      );
      assert.deepEqual(await f.store.getJob(job.id), done);
      const last = (await f.store.listEvents({ entity: 'job', entityId: String(job.id) })).at(-1);
      assert.deepEqual(
        last && [
          last.from,
          last.to,
          last.campaign,
          last.task,
          last.instanceId,
          last.by,
          last.data?.exitCode,
        ],
        ['running', 'done', 'prompt', 'reco', job.instanceId, 'job:1', 0],
      );
      assert.equal(last?.data?.attempt, 1);
    });

    it('refuses a stale from and an illegal move, changing nothing', async () => {
      const job = firstJob(await f.started());
      const change = { reason: null, by: 't', at: T0 } as const;
      await assert.rejects(
        f.store.transitionJob(job.id, { ...change, from: 'running', to: 'done' }),
        (e: unknown) => e instanceof StaleStateError && e.actual === 'idle',
      );
      await f.store.transitionJob(job.id, { ...change, from: 'idle', to: 'done', exitCode: 0 });
      await assert.rejects(
        f.store.transitionJob(job.id, { ...change, from: 'done', to: 'running' }),
        IllegalTransitionError,
      );
      await assert.rejects(
        f.store.transitionJob(job.id + 1000, { ...change, from: 'idle', to: 'done' }),
        NotFoundError,
      );
      assert.equal((await f.store.getJob(job.id))?.status, 'done');
      assert.equal(
        (await f.store.listEvents({ entity: 'job', entityId: String(job.id) })).length,
        2,
      );
    });

    it('creates the next attempt of a failed job in the same step', async () => {
      const job = firstJob(await f.started());
      const retryOf = {
        index: job.index,
        attempt: 2,
        executor: job.executor,
        input: 'in-2',
        notBefore: T0 + 500,
      };
      await assert.rejects(
        f.store.transitionJob(job.id, {
          from: 'idle',
          to: 'done',
          reason: null,
          by: 'e',
          at: T0,
          retry: retryOf,
        }),
        InvalidInputError,
      );
      assert.equal((await f.store.jobsForInstance(job.instanceId)).length, 1);
      await f.store.transitionJob(job.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'e',
        at: T0 + 1,
      });
      const { job: failed, retry } = await f.store.transitionJob(job.id, {
        from: 'running',
        to: 'failed',
        reason: 'exit 3',
        by: 'e',
        at: T0 + 2,
        exitCode: 3,
        retry: retryOf,
      });
      assert.deepEqual([failed.status, failed.exitCode, failed.endedAt], ['failed', 3, T0 + 2]);
      assert.ok(retry);
      assert.deepEqual(
        [retry.instanceId, retry.campaign, retry.task, retry.index, retry.attempt, retry.executor],
        [job.instanceId, 'prompt', 'reco', 0, 2, 'local'],
      );
      assert.deepEqual(
        [retry.status, retry.claimedBy, retry.input, retry.notBefore, retry.createdAt],
        ['idle', null, 'in-2', T0 + 500, T0 + 2],
      );
      assert.deepEqual(
        (await f.store.jobsForInstance(job.instanceId)).map((j) => j.id),
        [job.id, retry.id],
      );
      assert.deepEqual(await f.store.getJob(retry.id), retry);
      assert.deepEqual(
        (await f.store.activeJobs()).map((j) => j.id),
        [retry.id],
      );
    });

    it('merges reported fields and lists outputs with their instance', async () => {
      const s = await f.started(2);
      const [a, b] = s.jobs;
      assert.ok(a && b);
      await f.store.recordJobData(a.id, {
        fields: { constant: 1.25, tag: 'v1' },
        outputs: [
          { path: '/out/a.db', kind: 'sqlite', meta: { iov: 100 } },
          { path: '/out/a.txt' },
        ],
        at: T0 + 40,
      });
      await f.store.transitionJob(a.id, {
        from: 'idle',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0 + 41,
      });
      await f.store.recordJobData(a.id, { fields: { constant: 1.5, events: 1000 }, at: T0 + 42 });
      await f.store.recordJobData(b.id, {
        outputs: [{ path: '/out/b.db', kind: 'sqlite' }],
        at: T0 + 43,
      });
      assert.deepEqual((await f.store.getJob(a.id))?.fields, {
        constant: 1.5,
        tag: 'v1',
        events: 1000,
      });
      const outputs = await f.store.listOutputs({ campaign: 'prompt', task: 'reco' });
      assert.deepEqual(
        outputs.map((o) => [
          o.path,
          o.kind,
          o.jobId,
          o.instanceId,
          o.campaign,
          o.task,
          o.runs,
          o.meta,
          o.createdAt,
        ]),
        [
          [
            '/out/a.db',
            'sqlite',
            a.id,
            s.instance.id,
            'prompt',
            'reco',
            [100],
            { iov: 100 },
            T0 + 40,
          ],
          ['/out/a.txt', null, a.id, s.instance.id, 'prompt', 'reco', [100], {}, T0 + 40],
          ['/out/b.db', 'sqlite', b.id, s.instance.id, 'prompt', 'reco', [100], {}, T0 + 43],
        ],
      );
      assert.deepEqual(await f.store.outputsForInstances([s.instance.id]), outputs);
      assert.deepEqual(await f.store.outputsForInstances([s.instance.id + 1000]), []);
      await assert.rejects(
        f.store.recordJobData(b.id + 1000, { fields: { x: 1 }, at: T0 }),
        NotFoundError,
      );
    });

    it('with an attempt, writes reported data only while that attempt is queued or running', async () => {
      const s = await f.started(2);
      const [a, b] = s.jobs;
      assert.ok(a && b);
      const head = await f.store.recordJobData(a.id, { fields: { n: 1 }, at: T0 + 1, attempt: 1 });
      assert.deepEqual(head, { id: a.id, status: 'idle', attempt: 1 });
      await f.store.transitionJob(a.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'e',
        at: T0 + 2,
      });
      await f.store.recordJobData(a.id, { fields: { n: 2 }, at: T0 + 3, attempt: 1 });
      await f.store.transitionJob(a.id, {
        from: 'running',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0 + 4,
      });
      const late = { fields: { n: 3 }, outputs: [{ path: '/late' }], at: T0 + 5 };
      await assert.rejects(
        f.store.recordJobData(a.id, { ...late, attempt: 1 }),
        (err: unknown) => err instanceof AttemptEndedError && err.ended === 'done',
      );
      await assert.rejects(
        f.store.recordJobData(b.id, { ...late, attempt: 2 }),
        (err: unknown) =>
          err instanceof AttemptEndedError && err.ended === 'superseded' && err.current === 1,
      );
      await assert.rejects(
        f.store.recordJobData(b.id + 1000, { ...late, attempt: 1 }),
        NotFoundError,
      );
      assert.deepEqual((await f.store.getJob(a.id))?.fields, { n: 2 });
      assert.deepEqual((await f.store.getJob(b.id))?.fields, {});
      assert.deepEqual(await f.store.outputsForInstances([s.instance.id]), []);
      // Without an attempt, as before: a final job's data is still accepted.
      await f.store.recordJobData(a.id, late);
      assert.deepEqual((await f.store.getJob(a.id))?.fields, { n: 3 });
    });

    it('filters outputs by campaign, task and run range', async () => {
      const [r1, r2] = await f.instancesOf('reco', 1, 2);
      const [c2] = await f.instancesOf('calib', 2);
      assert.ok(r1 && r2 && c2);
      for (const inst of [r1, r2, c2]) {
        const s = await f.store.startInstance(inst.id, {
          from: 'new',
          configHash: 'h',
          config: {},
          jobs: [newJob(0)],
          reason: null,
          by: 'e',
          at: T0,
        });
        const job = firstJob(s);
        await f.store.recordJobData(job.id, {
          outputs: [{ path: `/${inst.task}/${inst.runs[0]}` }],
          at: T0,
        });
      }
      const paths = async (q: Parameters<StateStore['listOutputs']>[0]) =>
        (await f.store.listOutputs(q)).map((o) => o.path);
      assert.deepEqual(await paths({}), ['/reco/1', '/reco/2', '/calib/2']);
      assert.deepEqual(await paths({ task: 'reco', runFrom: 2 }), ['/reco/2']);
      assert.deepEqual(await paths({ campaign: 'prompt', runTo: 1 }), ['/reco/1']);
      assert.deepEqual(await paths({ runFrom: 2, runTo: 2 }), ['/reco/2', '/calib/2']);
      assert.deepEqual(await paths({ limit: 1 }), ['/reco/1']);
      assert.deepEqual(await paths({ campaign: 'rereco' }), []);
    });
  });
}
