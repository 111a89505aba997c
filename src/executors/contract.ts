import type { Logger } from '../logger.ts';
import type { Output, Run } from '../model/types.ts';

/**
 * The `Executor` contract, second version: where jobs run. Backends live in
 * `executors/<kind>/` behind a factory (`executors/registry.ts`), and each
 * passes `runExecutorConformance()`.
 *
 * What the core may assume of every executor:
 * - `submit` never goes through a shell with job values interpolated: `argv`
 *   is executed as given, values travel in `env`, and the job sees exactly
 *   `launch.env` (plus what its batch system always sets), nothing of the
 *   controller's own environment.
 * - A job's identity is `launch.jobId` with `launch.name`; from that and
 *   `workDir` the executor can tell whether a job was ever submitted, even
 *   after the controller was killed between `submit` and recording the id
 *   (`status` with `executorId: null` answers `queued`/`running`/`exited` for
 *   a job it has, `never-submitted` for one it never got). This is what makes
 *   a restart adopt jobs instead of running them twice.
 * - An attempt runs at most once: no automatic requeue by the batch system.
 * - `status` may be slow (a batch system query): the engine calls it at most
 *   once per `pollIntervalMs` for an executor, except for jobs `onChange` told
 *   of.
 * - Jobs outlive the controller: closing the executor does not kill them.
 * - The engine has at most `maxJobs` jobs in flight on it, and no campaign
 *   more than its share of `slots`.
 * - A batch system that cannot be reached makes `submit`, `status` and
 *   `cancel` throw `ExecutorUnavailableError`: the engine holds back this
 *   executor's jobs only and tries again later. Any other error from
 *   `status` is treated the same way; an error in one answer of `submit`
 *   fails that job's attempt.
 */
export interface Executor {
  /** The name given in the deployment file. */
  readonly name: string;
  /**
   * `host`: its jobs run on this machine, and only a controller on it can
   * watch or stop them (local). `cluster`: any controller can (batch systems).
   */
  readonly scope: 'host' | 'cluster';
  /** Jobs in flight at most (`max_jobs`): running, or queued in the executor or its batch system. */
  readonly maxJobs: number;
  /**
   * Jobs that run at once, when fewer than `maxJobs` (the rest wait in the
   * executor's own queue, e.g. the local executor's): campaign shares are
   * computed from it, so bulk work queued ahead never takes `prompt`'s
   * slots. Default: `maxJobs`.
   */
  readonly slots?: number;
  /** The least time between two `status` calls by the engine. */
  readonly pollIntervalMs: number;
  /**
   * Hands a batch of jobs over (the engine sends the jobs of one instance
   * together: one HTCondor cluster, one Slurm array). Stages each job's
   * inputs (`launch.inputs`) where the job will read them. Answers per
   * launch, in order. Throws `ExecutorUnavailableError` when the batch system
   * did not answer: whether the jobs arrived is then learnt from `status`.
   */
  submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]>;
  /** What became of the given jobs: one entry per job. */
  status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>>;
  /** Stops a job (timeout, cancellation, lost). Resolves when the batch system took the request. */
  cancel(job: JobRef, reason: string): Promise<void>;
  /**
   * The job's log (stdout and stderr), or its last `tail` lines. With
   * `follow`, goes on yielding what is appended until `signal` aborts; it
   * then yields what the log holds at that moment and ends. Throws
   * `LogNotFoundError` when there is no log (yet).
   */
  readLog(job: JobRef, opts?: LogOptions): AsyncIterable<Uint8Array>;
  /**
   * Registers a listener told as soon as a job the executor watches ends, so the
   * engine reacts at once instead of at the next poll. `state` is the job's
   * final state, as `status()` would answer it from then on: the engine settles
   * the job with it without asking `status()` again. An executor that queues
   * jobs itself (answered without `running`) also tells when one starts
   * (`running`), since the engine does not poll it for that. Optional for
   * executors that can only be polled.
   */
  onChange?(listener: (jobId: number, state: ExecutorJobState) => void): void;
  /**
   * Lets held jobs go on (an operator's action, never the engine's): they
   * are queued again, and `status` says so once the batch system does.
   * Resolves when the batch system took the request; a job that is no longer
   * held (released meanwhile, ended) is no error. Optional: an executor
   * whose jobs are never held has none, and the action is refused for it.
   */
  release?(jobs: readonly JobRef[]): Promise<void>;
  /** Releases resources (timers, watchers). Running jobs keep running. */
  close(): Promise<void>;
}

export interface LogOptions {
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
}

/**
 * Per launch: the executor's id for it (null when the batch system gives it
 * later), or why it failed. `running`: the job is running as the answer is
 * given (a process started here, not a queue entry): the engine marks it so
 * without asking `status()`.
 */
export type SubmitAnswer = { executorId: string | null; running?: boolean } | { error: Error };

/** What a job reads: the runs it processes, its upstream outputs, its own input (split tasks). */
export interface JobInputs {
  runs: Run[];
  outputs: Output[];
  input: string | null;
}

export interface JobLaunch {
  jobId: number;
  /** 1 for the first try of the job, +1 per retry. */
  attempt: number;
  /** The instance the job belongs to: launches of one instance come in one batch. */
  instanceId: number;
  /** The name in the batch system: `<deployment>-<environment>-<jobId>.<attempt>`. */
  name: string;
  argv: readonly string[];
  /** The job's whole environment. */
  env: Readonly<Record<string, string>>;
  cwd: string;
  /**
   * A directory owned by this job attempt; the executor creates it (on a
   * filesystem the job sees, or as the job's scratch directory), with
   * `out/` for outputs and `inputs.json` holding `inputs`. `AUTOCTRL_INPUTS`
   * and `AUTOCTRL_OUTPUT_DIR` in `env` name them as the controller sees
   * them; an executor that stages elsewhere rewrites both.
   */
  workDir: string;
  inputs: JobInputs;
  /** Where stdout and stderr go. */
  logPath: string;
  /** Run-time limit, counted from the job's start; null for none. */
  timeoutMs: number | null;
  /** Batch-system options of the task (`request_memory`, `partition`...), passed through. */
  resources: Readonly<Record<string, string | number>>;
}

export interface JobRef {
  jobId: number;
  attempt: number;
  name: string;
  executorId: string | null;
  workDir: string;
  logPath: string | null;
  /** When the job was submitted (for timeouts after a controller restart). */
  submittedAt: number | null;
  timeoutMs: number | null;
}

export type ExecutorJobState =
  /** Accepted, not running yet; the id may not be known yet. `reason`: why it waits, when the batch system says. */
  | { state: 'queued'; executorId: string | null; reason?: string | null }
  | { state: 'running'; executorId: string }
  /** Held by the batch system (or an operator) until released. */
  | { state: 'held'; executorId: string; reason: string }
  | { state: 'suspended'; executorId: string; reason?: string | null }
  /**
   * Ended. `exitCode` null when killed by a signal (`signal` names it when
   * known); `reason` says why (timeout, cancelled, node failure).
   */
  | {
      state: 'exited';
      executorId: string | null;
      exitCode: number | null;
      signal?: string | null;
      reason: string | null;
    }
  /** The executor never got this job: safe to submit. */
  | { state: 'never-submitted' }
  /**
   * Submitted once, and now neither the queue nor the accounting knows it.
   * The engine waits a grace period before it calls the job lost.
   */
  | { state: 'gone'; executorId: string | null; reason?: string | null };

export interface ExecutorContext {
  logger: Logger;
  /** The deployment's data directory (job work areas live below it). */
  dataDir: string;
  /** The host this controller runs on (`os.hostname()`, or `AUTOCTRL_HOSTNAME`). */
  host: string;
  /** The deployment file's directory: relative paths in executor options are relative to it. */
  configDir?: string;
  /** `max_jobs` and `poll_interval` from the deployment file; null: the backend's default. */
  maxJobs: number | null;
  pollIntervalMs: number | null;
}

/** A backend's factory; `options` are the executor's section of the deployment file, already validated. */
export type ExecutorFactory = (
  name: string,
  options: Record<string, unknown>,
  ctx: ExecutorContext,
) => Promise<Executor>;
