import type { Executor } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { EngineContext } from './context.ts';
import { jobLogPath } from './launch.ts';
import { markRunning, settleJob } from './outcome.ts';
import { jobRef, submitOne } from './submit.ts';

/**
 * Merges what an executor knows into the store: adopts jobs submitted before a
 * restart, marks started ones running, settles ended ones by their exit code
 * (the fallback when a job did not report), and submits claimed jobs that
 * never reached the executor.
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
  for (const job of tracked) {
    const st = states.get(job.id) ?? { state: 'unknown' as const };
    switch (st.state) {
      case 'queued':
      case 'running':
        if (job.executorId === null && st.executorId !== null)
          await ctx.store.setJobSubmitted(job.id, st.executorId, jobLogPath(ctx, job));
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
          // Claimed but never handed over (the controller died in between): submit it now, same attempt.
          await submitOne(ctx, executor, job);
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
