import type { Logger } from '../logger.ts';

/**
 * The `Executor` contract: where jobs run. Backends live in
 * `executors/<kind>/` behind a factory (`executors/registry.ts`), and each
 * passes `runExecutorConformance()`.
 *
 * What the core may assume of every executor:
 * - `submit` never goes through a shell with job values interpolated: `argv`
 *   is executed as given, values travel in `env`.
 * - A job's identity is `launch.jobId`; the executor can tell, from that and
 *   `workDir` alone, whether a job was ever started, even after the controller
 *   was killed between `submit` and recording the returned id (`status` with
 *   `executorId: null`). This is what makes a restart adopt jobs instead of
 *   running them twice.
 * - `status` is cheap enough to call once per pass for the active jobs.
 * - Jobs outlive the controller: closing the executor does not kill them.
 * - `capacity()` is advisory: the engine submits no more than it says.
 */
export interface Executor {
  /** The name given in the deployment file. */
  readonly name: string;
  /** How many more jobs it accepts now (free slots); `Infinity` for a batch system. */
  capacity(): number;
  /** Starts one job. Resolves once the job is handed over, with the executor's id for it. */
  submit(launch: JobLaunch): Promise<{ executorId: string }>;
  /** What became of the given jobs. Jobs it knows nothing of are `unknown`. */
  status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>>;
  /** Stops a job (timeout, cancellation). Resolves when the signal is sent. */
  cancel(job: JobRef, reason: string): Promise<void>;
  /**
   * Registers a listener told as soon as a job the executor watches ends, so the
   * engine reacts at once instead of at the next poll. Optional for executors
   * that can only be polled.
   */
  onExit?(listener: (jobId: number, state: ExecutorJobState) => void): void;
  /** Releases resources (timers, watchers). Running jobs keep running. */
  close(): Promise<void>;
}

export interface JobLaunch {
  jobId: number;
  /** A stable, human-readable name for the batch system: `autoctrl-<jobId>`. */
  name: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** A directory owned by this job attempt (created by the engine, empty at first). */
  workDir: string;
  /** Where stdout and stderr go. */
  logPath: string;
  /** Kill the job after this long; null for no limit. */
  timeoutMs: number | null;
}

export interface JobRef {
  jobId: number;
  executorId: string | null;
  workDir: string;
  /** When the job was submitted (for timeouts after a controller restart). */
  submittedAt: number | null;
  timeoutMs: number | null;
}

export type ExecutorJobState =
  /** Accepted but not running yet (queued in the batch system); the id may not be known yet. */
  | { state: 'queued'; executorId: string | null }
  | { state: 'running'; executorId: string }
  /** Ended. `exitCode` null when killed by a signal; `reason` says why (timeout, killed). */
  | { state: 'exited'; executorId: string | null; exitCode: number | null; reason: string | null }
  /** Never started (safe to submit), or no trace of it at all. */
  | { state: 'unknown' };

export interface ExecutorContext {
  logger: Logger;
  /** The deployment's data directory (job work areas live below it). */
  dataDir: string;
}

/** A backend's factory; `options` are the executor's section of the deployment file, already validated. */
export type ExecutorFactory = (
  name: string,
  options: Record<string, unknown>,
  ctx: ExecutorContext,
) => Promise<Executor>;
