import type { Executor, ExecutorJobState } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { EngineContext } from './context.ts';
import { EXECUTOR_STREAK, HealthStreak } from './health-streak.ts';

/** What the engine remembers of one executor between passes (lost on restart: that only costs a poll). */
export interface ExecutorMemory {
  /** When its `status` last answered (local clock). */
  lastPolled: number;
  /** Jobs it said are gone, and since when: lost only after the executor's `lost_after`. */
  goneSince: Map<number, number>;
  /** Whether its last call failed: its jobs are held back until it answers. */
  unavailable: boolean;
  /**
   * This controller has just taken the executor over (its host lease): the
   * next poll asks about every job, to adopt those its last holder left.
   */
  adopt: boolean;
}

/** Infrastructure errors at submission: a job waits this long, doubling per failure, up to the cap. */
const BLOCKED_FIRST_MS = 15_000;
const BLOCKED_MAX_MS = 600_000;

export interface SubmissionBlock {
  until: number;
  failures: number;
  /** The executor that refused the job: its pass prunes the block once the job is no longer idle. */
  executor: string;
}

/** The executors' failure streak (alerts after a few failed calls in a row, then on recovery). */
export function executorHealth(ctx: EngineContext): HealthStreak {
  ctx.memory.executorHealth ??= new HealthStreak(ctx, EXECUTOR_STREAK);
  return ctx.memory.executorHealth;
}

export function executorMemory(ctx: EngineContext, name: string): ExecutorMemory {
  let mem = ctx.memory.executors.get(name);
  if (mem === undefined) {
    mem = {
      lastPolled: Number.NEGATIVE_INFINITY,
      goneSince: new Map(),
      unavailable: false,
      adopt: false,
    };
    ctx.memory.executors.set(name, mem);
  }
  return mem;
}

/** Whether the executor may be asked about its jobs now (at most once per its poll interval). */
export function pollDue(ctx: EngineContext, executor: Executor, now: number): boolean {
  return now >= executorMemory(ctx, executor.name).lastPolled + executor.pollIntervalMs;
}

/**
 * Which of an executor's active jobs to ask it about now. Jobs it told of are
 * always looked at; otherwise it is asked at most once per its poll interval:
 * about everything when it can only be polled (or in a full pass, or just
 * taken over), and, when it tells of exits itself, only about jobs handed
 * over and not seen running yet.
 */
export function jobsToAsk(
  ctx: EngineContext,
  executor: Executor,
  active: readonly Job[],
  told: ReadonlyMap<number, ExecutorJobState>,
  full: boolean,
  now: number,
): Job[] {
  const mem = executorMemory(ctx, executor.name);
  const due = pollDue(ctx, executor, now) || mem.adopt;
  const all = full || mem.adopt || executor.onChange === undefined;
  if (due) mem.adopt = false;
  // A job whose submission is under way is the submission's until it is recorded.
  return active.filter(
    (j) =>
      !ctx.memory.submitting.has(j.id) &&
      (told.has(j.id) || (due && (all || (j.status === 'idle' && j.executorId !== null)))),
  );
}

/** The jobs in flight (claimed), by executor: one read, bounded by the executors' `max_jobs`. */
export async function jobsInFlight(ctx: Pick<EngineContext, 'store'>): Promise<Map<string, Job[]>> {
  const byExecutor = new Map<string, Job[]>();
  for (const job of await ctx.store.jobsInFlight()) {
    const list = byExecutor.get(job.executor);
    if (list === undefined) byExecutor.set(job.executor, [job]);
    else list.push(job);
  }
  return byExecutor;
}

/** When a pass is next needed without any trigger: a delayed retry, a held-back job, an executor's poll. */
export async function nextWake(
  ctx: EngineContext,
  executors: ReadonlyMap<string, Executor>,
  inFlight: ReadonlyMap<string, readonly Job[]>,
): Promise<number | null> {
  const now = ctx.now();
  const times = [await ctx.store.nextJobRetry(now)];
  for (const block of ctx.memory.blocked.values()) if (block.until > now) times.push(block.until);
  for (const [name, executor] of executors)
    times.push(nextPoll(ctx, executor, inFlight.get(name) ?? []));
  const due = times.filter((t): t is number => t !== null);
  return due.length === 0 ? null : Math.min(...due);
}

/**
 * When an executor that can only be polled should be asked again, if it has
 * jobs in flight; null when it tells of exits itself (or asks for no pause,
 * where the timer's passes suffice).
 */
export function nextPoll(
  ctx: EngineContext,
  executor: Executor,
  jobs: readonly Job[],
): number | null {
  if (executor.onChange !== undefined || executor.pollIntervalMs <= 0) return null;
  if (!jobs.some((j) => j.claimedBy !== null)) return null;
  const mem = executorMemory(ctx, executor.name);
  return Number.isFinite(mem.lastPolled) ? mem.lastPolled + executor.pollIntervalMs : null;
}

/** Holds a job back after an infrastructure error of `executor`; returns how long it waits. */
export function blockSubmission(
  ctx: EngineContext,
  executor: string,
  jobId: number,
  now: number,
): number {
  const prev = ctx.memory.blocked.get(jobId);
  const failures = (prev?.failures ?? 0) + 1;
  const wait = Math.min(BLOCKED_MAX_MS, BLOCKED_FIRST_MS * 2 ** (failures - 1));
  ctx.memory.blocked.set(jobId, { until: now + wait, failures, executor });
  return wait;
}

/**
 * Forgets the blocks of `executor`'s jobs that are no longer idle: cancelled,
 * reprocessed or settled otherwise while held back.
 */
export async function pruneBlocked(ctx: EngineContext, executor: string): Promise<void> {
  const ids = [...ctx.memory.blocked].filter(([, b]) => b.executor === executor).map(([id]) => id);
  if (ids.length === 0) return;
  const idle = new Set(
    (await ctx.store.getJobs(ids)).filter((j) => j.status === 'idle').map((j) => j.id),
  );
  for (const id of ids) if (!idle.has(id)) ctx.memory.blocked.delete(id);
}

/** How many of `executor`'s jobs are held back by an infrastructure error. */
export function blockedOn(ctx: EngineContext, executor: string): number {
  let n = 0;
  for (const block of ctx.memory.blocked.values()) if (block.executor === executor) n++;
  return n;
}

/** Whether a job is held back by an infrastructure error now. */
export function submissionBlocked(ctx: EngineContext, jobId: number, now: number): boolean {
  return (ctx.memory.blocked.get(jobId)?.until ?? 0) > now;
}
