import { ClaimLostError } from '../errors.ts';
import type { Executor, JobRef } from '../executors/contract.ts';
import { DEFAULT_SHARE, PROMPT } from '../model/campaign.ts';
import type { Job } from '../model/types.ts';
import { type EngineContext, taskByName, taskIn } from './context.ts';
import { buildLaunch, jobWorkDir } from './launch.ts';
import { settleJob } from './outcome.ts';
import { chooseJobs, executorSlots } from './slot-share.ts';

export function jobRef(ctx: EngineContext, job: Job): JobRef {
  return {
    jobId: job.id,
    executorId: job.executorId,
    workDir: jobWorkDir(ctx, job),
    submittedAt: job.submittedAt,
    timeoutMs: taskByName(ctx, job.task, job.campaign)?.timeoutMs ?? null,
  };
}

/**
 * Hands idle jobs to their executor, oldest first, no more than it has room
 * for. Each job is claimed in the store before it is submitted, so it is
 * submitted by one controller only.
 */
export async function submitIdle(
  ctx: EngineContext,
  executor: Executor,
  active: readonly Job[],
): Promise<number> {
  // Free slots as the executor counts them (it knows the jobs it runs, adopted ones included).
  const room = executor.capacity();
  const busy = active.filter((j) => j.claimedBy !== null).length;
  const slots = executorSlots(ctx.memory.slots, executor, busy, room);
  if (room <= 0) return 0;
  const now = ctx.now();
  const ready = active.filter(
    (j) => j.status === 'idle' && j.claimedBy === null && (j.notBefore ?? 0) <= now,
  );
  if (ready.length === 0) return 0;
  // `prompt` first; each other campaign within its share of the slots, so bulk work never starves it.
  const chosen = chooseJobs(ready, active, room, slots, (campaign) =>
    campaign === PROMPT ? null : (ctx.campaigns.get(campaign)?.share ?? DEFAULT_SHARE),
  );
  const claimed = new Set(
    await ctx.store.claimJobs(
      chosen.map((j) => j.id),
      { owner: ctx.controllerId, ttlMs: ctx.claimTtlMs },
      ctx.fence,
    ),
  );
  // Handed over together: each waits on the executor (a fork, a batch system), not on the others.
  const mine = chosen.filter((j) => claimed.has(j.id));
  await Promise.all(mine.map((job) => submitOne(ctx, executor, job)));
  return mine.length;
}

/** Records that this controller handed a job it claims to its executor. */
export async function recordSubmitted(
  ctx: EngineContext,
  jobId: number,
  executorId: string,
  logPath: string | null,
): Promise<void> {
  await ctx.store.setJobSubmitted(jobId, { owner: ctx.controllerId, executorId, logPath });
}

/** Submits a claimed job; a job that cannot be started fails (and is retried if it may). */
export async function submitOne(ctx: EngineContext, executor: Executor, job: Job): Promise<void> {
  const task = await taskIn(ctx, job.task, job.campaign);
  const instance = await ctx.store.getInstance(job.instanceId);
  if (task === undefined || instance === null) {
    await settleJob(ctx, job, {
      status: 'failed',
      reason: `task ${job.task} is no longer in the deployment file`,
      by: 'engine',
    });
    return;
  }
  try {
    const launch = await buildLaunch(ctx, task, instance, job);
    const { executorId } = await executor.submit(launch);
    await recordSubmitted(ctx, job.id, executorId, launch.logPath);
  } catch (err) {
    if (err instanceof ClaimLostError) {
      // Submitted after its claim was taken back: the executor's marker keeps the attempt single.
      ctx.logger.error({ err, job: job.id }, 'job submitted after its claim expired');
      return;
    }
    ctx.logger.warn({ err, job: job.id, task: job.task }, 'job submission failed');
    await settleJob(ctx, job, {
      status: 'failed',
      reason: `submission to ${executor.name} failed: ${(err as Error).message}`,
      by: 'engine',
    });
  }
}
