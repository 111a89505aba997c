import { StaleStateError } from '../errors.ts';
import type { Executor } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { CampaignView } from './campaign-book.ts';
import type { EngineContext } from './context.ts';
import { cancelJob } from './launch.ts';

/**
 * Stops the active jobs of cancelled campaigns: those an executor may have
 * (claimed, submitted, running) are cancelled through it first, then each
 * fails without a retry; settling then fails their instances. A job whose
 * executor does not answer stays as it is, and is tried again next pass:
 * marking it failed while it may still run would be a lie. A job handed
 * to an executor that another controller runs (a host-scoped one, see
 * host-jobs.ts) is left to that controller. Returns how many jobs it stopped.
 */
export async function stopCancelledCampaigns(
  ctx: EngineContext,
  campaigns: readonly CampaignView[],
  executors: ReadonlyMap<string, Executor> = ctx.executors,
): Promise<number> {
  const cancelled = new Set(campaigns.filter((c) => c.cancelled).map((c) => c.name));
  if (cancelled.size === 0) return 0;
  let stopped = 0;
  for (const job of await ctx.store.activeJobs()) {
    if (!cancelled.has(job.campaign)) continue;
    if (await stopJob(ctx, job, executors)) stopped++;
  }
  return stopped;
}

/** Stops one job of a cancelled campaign through `executors` (those this controller runs). */
export async function stopJob(
  ctx: EngineContext,
  listed: Job,
  executors: ReadonlyMap<string, Executor>,
): Promise<boolean> {
  let job = listed;
  if (ctx.memory.submitting.has(job.id)) {
    // Its submission is under way: a batch system finds the job only once that has answered,
    // and the job is recorded as submitted after (or a cancel would miss a job about to run).
    await ctx.memory.submitting.settled();
    const now = await ctx.store.getJob(job.id);
    if (now === null || (now.status !== 'idle' && now.status !== 'running')) return false;
    job = now;
  }
  const reason = `campaign ${job.campaign} cancelled`;
  const handedOver = job.claimedBy !== null || job.executorId !== null || job.status === 'running';
  const executor = executors.get(job.executor);
  // Still running where only its executor's holder can stop it: failed now, it would run on unseen.
  if (handedOver && executor === undefined && job.executor in ctx.deployment.executors)
    return false;
  if (handedOver && executor !== undefined) {
    try {
      await cancelJob(ctx, executor, job, reason);
    } catch (err) {
      ctx.logger.warn(
        { err, job: job.id, executor: job.executor },
        'could not cancel a job of a cancelled campaign: tried again next pass',
      );
      return false;
    }
  }
  try {
    await ctx.store.transitionJob(job.id, {
      from: job.status,
      to: 'failed',
      reason,
      by: 'engine',
      at: ctx.now(),
    });
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}
