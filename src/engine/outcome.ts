import { StaleStateError } from '../errors.ts';
import type { Job } from '../model/types.ts';
import type { NewJob } from '../store/contract.ts';
import { type EngineContext, taskIn } from './context.ts';

export interface JobOutcome {
  status: 'done' | 'failed';
  reason: string | null;
  exitCode?: number | null;
  by: string;
}

/**
 * Records how a job ended. A failed job with attempts left gets its next
 * attempt in the same transaction, not before `retryDelay · 2^(attempt-1)`.
 * Returns false when the job had already ended (a report and an exit racing).
 */
export async function settleJob(
  ctx: Pick<EngineContext, 'store' | 'deployment' | 'now'> &
    Partial<Pick<EngineContext, 'campaigns'>>,
  job: Job,
  outcome: JobOutcome,
): Promise<boolean> {
  if (job.status === 'done' || job.status === 'failed') return false;
  const now = ctx.now();
  // The campaign's copy: a `--set task.retries=N` counts for its jobs.
  const task = await taskIn(ctx, job.task, job.campaign);
  let retry: NewJob | undefined;
  if (outcome.status === 'failed' && task !== undefined && job.attempt <= task.retries) {
    retry = {
      index: job.index,
      attempt: job.attempt + 1,
      executor: job.executor,
      input: job.input,
      notBefore: now + task.retryDelayMs * 2 ** (job.attempt - 1),
    };
  }
  try {
    await ctx.store.transitionJob(job.id, {
      from: job.status,
      to: outcome.status,
      reason: outcome.reason,
      by: outcome.by,
      at: now,
      exitCode: outcome.exitCode ?? null,
      ...(retry ? { retry } : {}),
    });
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

/** Marks a job running if it still looks idle; harmless when it moved on already. */
export async function markRunning(
  ctx: Pick<EngineContext, 'store' | 'now'>,
  job: Job,
  by: string,
): Promise<void> {
  if (job.status !== 'idle') return;
  try {
    await ctx.store.transitionJob(job.id, {
      from: 'idle',
      to: 'running',
      reason: null,
      by,
      at: ctx.now(),
    });
  } catch (err) {
    if (!(err instanceof StaleStateError)) throw err;
  }
}
