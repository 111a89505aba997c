import { collectSpool } from '../app/spool.ts';
import type { Executor, ExecutorJobState } from '../executors/contract.ts';
import { setExecutorAvailable } from '../export/metrics-hooks.ts';
import type { Job } from '../model/types.ts';
import type { EngineContext } from './context.ts';
import { executorHealth, executorMemory } from './executor-state.ts';
import { cancelJob, jobLogPath, jobRef } from './launch.ts';
import { deadOnThisHost } from './liveness.ts';
import { markRunning, settleJob } from './outcome.ts';
import { recordSubmitted, submitBatch } from './submit.ts';

/**
 * Merges what an executor knows into the store: adopts jobs submitted before a
 * restart (or by a controller that died), marks started ones running, keeps
 * where queued ones wait (held, suspended), settles ended ones by their exit
 * code (the fallback when a job did not report), fails jobs gone for longer
 * than the executor's `lost_after`, and takes back the expired claims of jobs
 * that never reached the executor. Returns false when the executor did not
 * answer: its jobs are then held back, and the rest of the pass goes on.
 */
export async function syncExecutor(
  ctx: EngineContext,
  executor: Executor,
  asked: readonly Job[],
  told: ReadonlyMap<number, ExecutorJobState> = new Map(),
): Promise<boolean> {
  const tracked = asked.filter((j) => j.claimedBy !== null);
  const mem = executorMemory(ctx, executor.name);
  if (tracked.length === 0) return !mem.unavailable;
  // What the executor told (`onChange`) is not asked again: that is a status call saved per job end.
  const ask = tracked.filter((j) => !told.has(j.id));
  const states = new Map<number, ExecutorJobState>();
  for (const job of tracked) {
    const st = told.get(job.id);
    if (st !== undefined) states.set(job.id, st);
  }
  if (ask.length > 0 && !(await pollStates(ctx, executor, ask, states))) return false;
  await applyStates(ctx, executor, tracked, states);
  return true;
}

/** Asks the executor about `jobs` into `states`; false when it did not answer. */
async function pollStates(
  ctx: EngineContext,
  executor: Executor,
  jobs: readonly Job[],
  states: Map<number, ExecutorJobState>,
): Promise<boolean> {
  const mem = executorMemory(ctx, executor.name);
  try {
    for (const [id, st] of await executor.status(jobs.map((j) => jobRef(ctx, j))))
      states.set(id, st);
  } catch (err) {
    // Asked again after its poll interval, not at once: a batch system that is down is not hammered.
    mem.lastPolled = ctx.now();
    mem.unavailable = true;
    setExecutorAvailable(executor.name, false);
    ctx.logger.warn({ err, executor: executor.name }, 'executor status failed: its jobs wait');
    await executorHealth(ctx).failed(executor.name, err);
    return false;
  }
  mem.unavailable = false;
  setExecutorAvailable(executor.name, true);
  mem.lastPolled = ctx.now();
  await executorHealth(ctx).succeeded(executor.name);
  return true;
}

async function applyStates(
  ctx: EngineContext,
  executor: Executor,
  tracked: readonly Job[],
  states: ReadonlyMap<number, ExecutorJobState>,
): Promise<void> {
  const mem = executorMemory(ctx, executor.name);
  const by = `executor:${executor.name}`;
  for (const job of tracked) {
    const st = states.get(job.id) ?? noAnswer(job);
    if (st.state !== 'gone') mem.goneSince.delete(job.id);
    switch (st.state) {
      case 'queued':
      case 'held':
      case 'suspended':
      case 'running': {
        const mine = await adoptIfNeeded(ctx, job, st.executorId);
        if (st.state === 'running') {
          await markRunning(ctx, job, by);
          if (job.status === 'running' && job.queueState !== null && mine)
            await setQueue(ctx, job, null, null);
        } else if (mine) {
          await setQueue(ctx, job, st.state, st.reason ?? null);
        }
        break;
      }
      case 'exited': {
        // What it could not report over the network (no server, or unreachable) counts first.
        const settled = await collectSpooled(ctx, job);
        if (settled === null) break;
        await settleJob(ctx, settled, {
          status: st.exitCode === 0 ? 'done' : 'failed',
          reason: exitReason(st),
          exitCode: st.exitCode,
          by,
        });
        break;
      }
      case 'never-submitted':
        if (job.executorId === null && job.submittedAt === null) {
          await neverSubmitted(ctx, executor, job);
          break;
        }
        // It was handed over: the executor lost it, which is what `gone` says.
        await goneFor(ctx, executor, job, 'the executor has no record of it');
        break;
      case 'gone':
        await goneFor(
          ctx,
          executor,
          job,
          st.reason ?? 'neither the queue nor the accounting knows it',
        );
        break;
    }
  }
}

/**
 * Applies the reports a job spooled (`bin/autoctrl-job` without a server)
 * and returns the job as it is now, or null when it is gone from the store.
 * A spool that cannot be read is logged: the exit code still settles the job.
 */
async function collectSpooled(ctx: EngineContext, job: Job): Promise<Job | null> {
  try {
    const got = await collectSpool(ctx, job);
    if (got.applied === 0) return job;
  } catch (err) {
    ctx.logger.warn({ err, job: job.id }, 'could not collect the job’s spooled reports');
    return job;
  }
  return ctx.store.getJob(job.id);
}

/** An executor that answered without this job: as if it said so. */
function noAnswer(job: Job): ExecutorJobState {
  return job.executorId === null && job.submittedAt === null
    ? { state: 'never-submitted' }
    : { state: 'gone', executorId: job.executorId };
}

function exitReason(st: Extract<ExecutorJobState, { state: 'exited' }>): string | null {
  if (st.reason !== null) return st.reason;
  if (st.exitCode === 0) return null;
  if (st.exitCode === null && st.signal) return `killed by ${st.signal}`;
  return `exit code ${st.exitCode ?? 'unknown'}`;
}

async function setQueue(
  ctx: EngineContext,
  job: Job,
  state: Job['queueState'],
  reason: string | null,
): Promise<void> {
  if (job.queueState === state && (state === null || job.reason === reason)) return;
  await ctx.store.setJobQueueState(job.id, { owner: ctx.controllerId, state, reason });
}

/** A claimed job the executor never got: submitted now if the claim is ours, taken back if its owner is gone. */
async function neverSubmitted(ctx: EngineContext, executor: Executor, job: Job): Promise<void> {
  if (job.claimedBy === ctx.controllerId) {
    // Claimed but never handed over (a failed or interrupted submission): same attempt.
    await submitBatch(ctx, executor, [job]);
    return;
  }
  if (job.claimedBy === null) return;
  // Another process's claim, never handed over: once it has expired that process is
  // gone, and the executor has just said it never got the job, so it is safe to take back.
  const clock = await ctx.store.clock();
  if ((job.claimExpiresAt ?? 0) <= clock || deadOnThisHost(job.claimedBy, ctx.controllerId))
    await ctx.store.releaseClaims([{ id: job.id, owner: job.claimedBy }]);
}

/**
 * A job its executor no longer knows. A batch system forgets a job for a
 * while (a restarted scheduler, a lagging accounting database): it is lost
 * only after `lost_after`, then cancelled (should it come back) and failed.
 */
async function goneFor(ctx: EngineContext, executor: Executor, job: Job, why: string) {
  if (job.status === 'done' || job.status === 'failed') return;
  const mem = executorMemory(ctx, executor.name);
  const now = ctx.now();
  const since = mem.goneSince.get(job.id) ?? now;
  mem.goneSince.set(job.id, since);
  const lostAfter = ctx.deployment.executors[executor.name]?.lostAfterMs ?? 0;
  if (now - since < lostAfter) return;
  mem.goneSince.delete(job.id);
  try {
    await cancelJob(ctx, executor, job, 'lost');
  } catch (err) {
    ctx.logger.warn({ err, job: job.id }, 'could not cancel a lost job');
  }
  await settleJob(ctx, job, {
    status: 'failed',
    reason: `lost: ${executor.name} ${job.executorId === null ? `job ${job.id}` : `job ${job.executorId}`}: ${why}`,
    by: `executor:${executor.name}`,
  });
}

/**
 * A job the executor has but the store does not know as submitted: a
 * controller died in between. Returns whether this controller holds its
 * claim now.
 */
async function adoptIfNeeded(
  ctx: EngineContext,
  job: Job,
  executorId: string | null,
): Promise<boolean> {
  if (job.executorId !== null || executorId === null) return job.claimedBy === ctx.controllerId;
  if (job.claimedBy !== null && job.claimedBy !== ctx.controllerId) {
    await ctx.store.releaseClaims([{ id: job.id, owner: job.claimedBy }]);
    await ctx.store.claimJobs(
      [job.id],
      { owner: ctx.controllerId, ttlMs: ctx.claimTtlMs },
      ctx.fence,
    );
  }
  await recordSubmitted(ctx, job.id, executorId, jobLogPath(ctx, job));
  return true;
}
