import type { Executor } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { EngineContext } from './context.ts';
import { jobLogPath } from './launch.ts';
import { deadOnThisHost } from './liveness.ts';
import { markRunning, settleJob } from './outcome.ts';
import { jobRef, recordSubmitted, submitOne } from './submit.ts';

/**
 * Merges what an executor knows into the store: adopts jobs submitted before a
 * restart (or by a controller that died), marks started ones running, settles
 * ended ones by their exit code (the fallback when a job did not report), and
 * takes back the expired claims of jobs that never reached the executor.
 */
export async function syncExecutor(
  ctx: EngineContext,
  executor: Executor,
  active: readonly Job[],
): Promise<void> {
  const tracked = active.filter((j) => j.claimedBy !== null);
  if (tracked.length === 0) return;
  const states = await executor.status(tracked.map((j) => jobRef(ctx, j)));
  const by = `executor:${executor.name}`;
  let clock: number | null = null;
  for (const job of tracked) {
    const st = states.get(job.id) ?? { state: 'unknown' as const };
    switch (st.state) {
      case 'queued':
      case 'running':
        if (job.executorId === null && st.executorId !== null)
          await adopt(ctx, job, st.executorId, jobLogPath(ctx, job));
        if (st.state === 'running') await markRunning(ctx, job, by);
        break;
      case 'exited':
        await settleJob(ctx, job, {
          status: st.exitCode === 0 ? 'done' : 'failed',
          reason: st.reason ?? (st.exitCode === 0 ? null : `exit code ${st.exitCode ?? 'unknown'}`),
          exitCode: st.exitCode,
          by,
        });
        break;
      case 'unknown':
        if (job.executorId === null && job.claimedBy === ctx.controllerId) {
          // Claimed but never handed over: submit it now, same attempt.
          await submitOne(ctx, executor, job);
        } else if (job.executorId === null && job.claimedBy !== null) {
          // Another process's claim, never handed over: once it has expired that process is
          // gone, and the executor has just said it never got the job, so it is safe to take back.
          clock ??= await ctx.store.clock();
          if ((job.claimExpiresAt ?? 0) <= clock || deadOnThisHost(job.claimedBy, ctx.controllerId))
            await ctx.store.releaseClaims([{ id: job.id, owner: job.claimedBy }]);
        } else if (job.executorId !== null && job.status !== 'done') {
          await settleJob(ctx, job, {
            status: 'failed',
            reason: `lost: ${executor.name} has no record of job ${job.executorId}`,
            by,
          });
        }
        break;
    }
  }
}

/** A job the executor has but the store does not know as submitted: a controller died in between. */
async function adopt(
  ctx: EngineContext,
  job: Job,
  executorId: string,
  logPath: string | null,
): Promise<void> {
  if (job.claimedBy !== null && job.claimedBy !== ctx.controllerId) {
    await ctx.store.releaseClaims([{ id: job.id, owner: job.claimedBy }]);
    await ctx.store.claimJobs(
      [job.id],
      { owner: ctx.controllerId, ttlMs: ctx.claimTtlMs },
      ctx.fence,
    );
  }
  await recordSubmitted(ctx, job.id, executorId, logPath);
}
