import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { z } from 'zod';
import { applyJobReport } from '../src/app/report.ts';
import type { TaskConfig } from '../src/config/types.ts';
import { ExecutorUnavailableError, InfrastructureError } from '../src/errors.ts';
import type {
  Executor,
  ExecutorJobState,
  JobLaunch,
  JobRef,
  SubmitAnswer,
} from '../src/executors/contract.ts';
import { executorKinds } from '../src/executors/registry.ts';
import { readFileLog } from '../src/executors/shared/file-log.ts';
import { silentLogger } from '../src/logger.ts';
import type { EventRecord } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, deployment, sleep, task, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

/**
 * A batch system the test drives by hand: what the engine does with each
 * answer of the Executor contract (the real backends pass the conformance
 * suite against real or recorded batch systems; this checks the engine's side).
 */
class ScriptedBatch implements Executor {
  readonly scope = 'cluster';
  readonly maxJobs: number;
  readonly pollIntervalMs: number;
  readonly batches: JobLaunch[][] = [];
  readonly states = new Map<number, ExecutorJobState>();
  readonly cancelled: number[] = [];
  statusCalls = 0;
  down = false;
  /** Answers submissions with this error per launch, while set. */
  refuse: Error | null = null;

  constructor(
    readonly name: string,
    opts: { maxJobs?: number; pollIntervalMs?: number } = {},
  ) {
    this.maxJobs = opts.maxJobs ?? 100;
    this.pollIntervalMs = opts.pollIntervalMs ?? 0;
  }

  async submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]> {
    if (this.down) throw new ExecutorUnavailableError(this.name, 'schedd not answering');
    if (this.refuse !== null) return batch.map(() => ({ error: this.refuse as Error }));
    this.batches.push([...batch]);
    for (const l of batch) this.states.set(l.jobId, { state: 'queued', executorId: null });
    return batch.map((l) => ({ executorId: `${this.name}.${l.jobId}` }));
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    this.statusCalls++;
    if (this.down) throw new ExecutorUnavailableError(this.name, 'schedd not answering');
    return new Map(
      jobs.map((j) => [j.jobId, this.states.get(j.jobId) ?? { state: 'never-submitted' }]),
    );
  }

  async cancel(job: JobRef): Promise<void> {
    this.cancelled.push(job.jobId);
  }

  readLog(job: JobRef): AsyncIterable<Uint8Array> {
    return readFileLog(job.jobId, job.logPath);
  }

  async close(): Promise<void> {}

  set(jobId: number, state: ExecutorJobState): void {
    this.states.set(jobId, state);
  }
}

const scripted = new Map<string, ScriptedBatch>();
executorKinds.scripted = {
  options: z.object({}).passthrough(),
  load: async () => async (name) => scripted.get(name) as ScriptedBatch,
};

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
  scripted.clear();
});

async function start(batch: ScriptedBatch, tasks: TaskConfig[], lostAfterMs = 600_000) {
  scripted.set(batch.name, batch);
  const dir = tempDir();
  const d = deployment(dir, tasks);
  d.executors[batch.name] = {
    type: 'scripted',
    maxJobs: null,
    pollIntervalMs: null,
    lostAfterMs,
    options: {},
  };
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  await rt.store.upsertRuns([{ run: 1, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
  return rt;
}

async function events(rt: Runtime, alert: string): Promise<EventRecord[]> {
  const all = await rt.store.listEvents({ limit: 10_000 });
  return all.filter((e) => e.data?.alert === alert);
}

async function jobsOf(rt: Runtime, taskName: string) {
  const [inst] = await rt.store.instancesForRuns('prompt', taskName, [1]);
  return inst === undefined ? [] : rt.store.jobsForInstance(inst.id);
}

describe('engine and executors', () => {
  it('hands the jobs of one instance over as one batch, with an explicit environment', async () => {
    process.env.AUTOCTRL_TEST_SECRET = 'operator token';
    process.env.AUTOCTRL_TEST_PASSED = 'passed on';
    try {
      const batch = new ScriptedBatch('farm');
      const rt = await start(batch, [task('reco', { executor: 'farm', jobs: 3 })]);
      rt.engine.ctx.deployment.envPass = ['AUTOCTRL_TEST_PASSED'];
      await until(async () => {
        await rt.engine.pass();
        return batch.batches.length > 0 || undefined;
      });
      assert.equal(batch.batches.length, 1);
      const [launches] = batch.batches;
      assert.deepEqual(
        launches?.map((l) => l.name),
        (await jobsOf(rt, 'reco')).map((j) => `fixture-test-${j.id}.1`),
      );
      const env = launches?.[0]?.env ?? {};
      assert.equal(env.AUTOCTRL_TEST_SECRET, undefined, "the controller's secrets reach no job");
      assert.equal(env.AUTOCTRL_TEST_PASSED, 'passed on');
      assert.equal(env.PATH, process.env.PATH);
      assert.ok(env.AUTOCTRL_TOKEN && env.AUTOCTRL_INPUTS);
    } finally {
      delete process.env.AUTOCTRL_TEST_SECRET;
      delete process.env.AUTOCTRL_TEST_PASSED;
    }
  });

  it('keeps a held job held with its reason, then running', async () => {
    const batch = new ScriptedBatch('farm');
    const rt = await start(batch, [task('reco', { executor: 'farm' })]);
    const job = await until(async () => {
      await rt.engine.pass();
      return (await jobsOf(rt, 'reco')).find((j) => j.executorId !== null);
    });
    batch.set(job.id, { state: 'held', executorId: 'farm.x', reason: 'held by admin' });
    await rt.engine.pass();
    const held = await rt.store.getJob(job.id);
    assert.deepEqual(
      [held?.status, held?.queueState, held?.reason],
      ['idle', 'held', 'held by admin'],
    );
    batch.set(job.id, { state: 'running', executorId: 'farm.x' });
    await rt.engine.pass();
    const running = await rt.store.getJob(job.id);
    assert.deepEqual([running?.status, running?.queueState], ['running', null]);
  });

  it('holds back only the jobs of an executor that does not answer, alerts, and goes on when it is back', async () => {
    const batch = new ScriptedBatch('farm');
    const rt = await start(batch, [
      task('reco', { executor: 'farm' }),
      task('quick', { command: ['true'] }),
    ]);
    const job = await until(async () => {
      await rt.engine.pass();
      return (await jobsOf(rt, 'reco')).find((j) => j.executorId !== null);
    });
    batch.down = true;
    // The local task finishes meanwhile: one batch system down stops nothing else.
    await until(async () => {
      await rt.engine.pass();
      return (await jobsOf(rt, 'quick'))[0]?.status === 'done' || undefined;
    });
    for (let i = 0; i < 3; i++) await rt.engine.pass();
    assert.equal((await events(rt, 'executor_unavailable')).length, 1);
    assert.equal((await rt.store.getJob(job.id))?.status, 'idle', 'nothing is failed meanwhile');
    batch.down = false;
    batch.set(job.id, { state: 'exited', executorId: 'farm.x', exitCode: 0, reason: null });
    await rt.engine.pass();
    assert.equal((await rt.store.getJob(job.id))?.status, 'done');
    assert.equal((await events(rt, 'executor_recovered')).length, 1);
  });

  it('polls an executor at most once per its poll interval, however many reports arrive', async () => {
    const batch = new ScriptedBatch('farm', { pollIntervalMs: 400 });
    const rt = await start(batch, [task('reco', { executor: 'farm', jobs: 5 })]);
    const jobs = await until(async () => {
      await rt.engine.pass();
      const js = await jobsOf(rt, 'reco');
      return js.every((j) => j.executorId !== null) ? js : undefined;
    });
    batch.statusCalls = 0;
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      const j = jobs[i % jobs.length];
      if (j === undefined) continue;
      await applyJobReport(rt.engine.ctx, j.id, { fields: { n: i } }, 'test');
      await rt.engine.pass({ full: i % 2 === 0 });
      await sleep(10);
    }
    const windows = Math.ceil((Date.now() - started) / 400) + 1;
    assert.ok(
      batch.statusCalls <= windows,
      `${batch.statusCalls} status calls in ${windows} intervals`,
    );
    assert.ok(batch.statusCalls >= 1);
  });

  it('fails a job gone from its batch system only after lost_after, cancelling it first', async () => {
    const batch = new ScriptedBatch('farm');
    const rt = await start(
      batch,
      [task('reco', { executor: 'farm', retries: 1, retryDelayMs: 0 })],
      300,
    );
    const job = await until(async () => {
      await rt.engine.pass();
      return (await jobsOf(rt, 'reco')).find((j) => j.executorId !== null);
    });
    batch.set(job.id, { state: 'gone', executorId: 'farm.x' });
    await rt.engine.pass();
    assert.equal((await rt.store.getJob(job.id))?.status, 'idle', 'not lost at once');
    await sleep(350);
    await rt.engine.pass();
    const lost = await rt.store.getJob(job.id);
    assert.equal(lost?.status, 'failed');
    assert.match(lost?.reason ?? '', /^lost: /);
    assert.deepEqual(batch.cancelled, [job.id]);
    const attempts = (await jobsOf(rt, 'reco')).map((j) => j.attempt);
    assert.deepEqual(attempts, [1, 2], 'retried');
  });

  it('keeps the retries of a job held back by an infrastructure error, and alerts once', async () => {
    const batch = new ScriptedBatch('farm');
    batch.refuse = new InfrastructureError('staging', 'no space left on device');
    const rt = await start(batch, [task('reco', { executor: 'farm', retries: 0 })]);
    for (let i = 0; i < 3; i++) await rt.engine.pass();
    const [job] = await jobsOf(rt, 'reco');
    assert.deepEqual([job?.status, job?.attempt, job?.claimedBy], ['idle', 1, null]);
    assert.equal((await events(rt, 'submission_blocked')).length, 1);
    batch.refuse = null;
    rt.engine.ctx.memory.blocked.clear(); // the backoff has passed
    await rt.engine.pass();
    assert.equal(batch.batches.length, 1);
    assert.notEqual((await rt.store.getJob(job?.id ?? 0))?.executorId, null);
  });

  it('forgets the hold on a job that ends otherwise meanwhile', async () => {
    const batch = new ScriptedBatch('farm');
    batch.refuse = new InfrastructureError('staging', 'no space left on device');
    const rt = await start(batch, [task('reco', { executor: 'farm', retries: 0 })]);
    await rt.engine.pass();
    const [job] = await jobsOf(rt, 'reco');
    assert.ok(job && rt.engine.ctx.memory.blocked.has(job.id));
    await rt.store.transitionJob(job.id, {
      from: 'idle',
      to: 'failed',
      reason: 'cancelled by operator',
      by: 'test',
      at: Date.now(),
      exitCode: null,
    });
    await rt.engine.pass();
    assert.deepEqual([...rt.engine.ctx.memory.blocked.keys()], []);
  });
});
