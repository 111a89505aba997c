import { join, resolve } from 'node:path';
import type { Logger } from '../../logger.ts';
import { type LongTimer, setLongTimeout } from '../../timers.ts';
import type { Executor, ExecutorJobState, JobLaunch, JobRef, SubmitAnswer } from '../contract.ts';
import { FileLogExecutor } from '../shared/file-log-executor.ts';
import { makeWorkDir, writeInputs } from '../shared/staging.ts';
import { dropCgroup, findCgroupRoot, prepareCgroup } from './cgroup.ts';
import { asSiteError, ExecutorError, startFailure } from './errors.ts';
import { Follower } from './follow.ts';
import { executorIdOf, exitedState, inspectJob, timeoutReason } from './inspect.ts';
import {
  clearForeignJob,
  createMarker,
  FILES,
  isForeignMarker,
  readJobFiles,
  removeMarker,
  startedAtOf,
} from './job-files.ts';
import { type Ended, Launcher, type LauncherKind, type Spawned } from './launcher.ts';
import { isRunning } from './process-info.ts';
import { JobStopper } from './stopper.ts';

export interface LocalExecutorOptions {
  /** Jobs run at once. */
  slots: number;
  /**
   * Jobs handed over beyond `slots`, waiting in the launcher to start the
   * moment a slot frees (without a round trip to the engine); default:
   * as many as `slots`, at least `MIN_QUEUE`. 0: the engine hands a job
   * over only when a slot is free.
   */
  queue?: number;
  /** Least time between two status queries by the engine: reading a few files, so none by default. */
  pollIntervalMs?: number;
  logger: Logger;
  /** Between SIGTERM and SIGKILL when a job is stopped. */
  killGraceMs?: number;
  /**
   * Where each job gets its own cgroup (v2), so that nothing it starts
   * outlives it; default: under this process's cgroup when it may create
   * cgroups there; null: process groups only.
   */
  cgroupRoot?: string | null;
  /**
   * The id of the store whose jobs these are (`data-dir.ts`), written in each
   * job's `submitted` marker: a marker naming another store is that store's
   * job, not this one. null: markers name no store and all count as this one's.
   */
  storeId?: string | null;
  /** How jobs are started (`launcher.ts`): `node` only to test the fallback for machines without python3. */
  launcher?: LauncherKind;
}

/**
 * The least queue by default: each pass of the engine then hands over (and
 * settles) jobs by the dozen. 1,000 short jobs on 2 slots took 3.1 s with a
 * queue of 2, 2.6 s with 8, 2.5 s with 16 (PostgreSQL: 5.9, 5.3, 4.9 s).
 */
const MIN_QUEUE = 16;

type ChangeListener = (jobId: number, state: ExecutorJobState) => void;

/**
 * Runs jobs as processes of this machine, children of the launcher
 * (`launcher.ts`), in sessions of their own, so that they outlive the
 * controller and everything about them can be found again from their work
 * directory (`job-files.ts`).
 */
export class LocalExecutor extends FileLogExecutor implements Executor {
  readonly scope = 'host';
  readonly #log: Logger;
  readonly #timeouts = new Map<number, LongTimer>();
  readonly #stopper: JobStopper;
  /** Submissions in flight: `cancel` waits for them, so it can find the pid. */
  readonly #pending = new Map<number, Promise<unknown>>();
  readonly #listeners: ChangeListener[] = [];
  #closed = false;
  readonly #cgroupRoot: Promise<string | null>;
  readonly #launcher: Launcher;
  /** Jobs whose start and end this process's launcher tells; the others `status()` finds are followed. */
  readonly #own = new Set<number>();
  readonly #follower: Follower;
  readonly #storeId: string | null;
  readonly slots: number;

  constructor(name: string, opts: LocalExecutorOptions) {
    super(name, {
      maxJobs: opts.slots + (opts.queue ?? Math.max(opts.slots, MIN_QUEUE)),
      pollIntervalMs: opts.pollIntervalMs ?? 0,
    });
    this.slots = opts.slots;
    this.#log = opts.logger;
    this.#stopper = new JobStopper(opts.logger, opts.killGraceMs ?? 3000);
    this.#launcher = new Launcher(opts.logger, opts.launcher);
    this.#storeId = opts.storeId ?? null;
    this.#cgroupRoot =
      opts.cgroupRoot === undefined ? findCgroupRoot() : Promise.resolve(opts.cgroupRoot);
    this.#follower = new Follower(
      (ref) => this.#statusOf(ref, Date.now()),
      (jobId, state) => this.#tell(jobId, state),
      opts.logger,
    );
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Processes start independently: one failing does not hold back the
   * others. A job beyond the free slots is answered queued (no id yet); it
   * is told `running` to the `onChange` listeners when it starts.
   */
  submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]> {
    return Promise.all(
      batch.map((launch) =>
        this.#submitOne(launch).catch(
          (err: unknown): SubmitAnswer => ({ error: asSiteError(launch, err) }),
        ),
      ),
    );
  }

  async #submitOne(launch: JobLaunch): Promise<SubmitAnswer> {
    if (this.#closed) throw new ExecutorError(this.name, launch.jobId, 'the executor is closed');
    if (launch.argv.length === 0) {
      throw new ExecutorError(this.name, launch.jobId, 'argv is empty: the task has no command');
    }
    const started = this.#start(launch);
    this.#pending.set(launch.jobId, started);
    try {
      return await started;
    } finally {
      this.#pending.delete(launch.jobId);
    }
  }

  async #start(launch: JobLaunch): Promise<SubmitAnswer> {
    const { jobId } = launch;
    const workDir = resolve(launch.workDir);
    const cgroupRoot = await this.#cgroupRoot;
    makeWorkDir(launch);
    // The cgroup before the marker, which names it: one inode less per job than a file of its own.
    const cgroupPath = cgroupRoot === null ? null : prepareCgroup(cgroupRoot, workDir);
    if (cgroupRoot !== null && cgroupPath === null)
      this.#log.warn({ jobId, cgroupRoot }, 'no cgroup for the job: its process group only');
    // Not handed over, so never started: without the marker, status() says `unknown` and the job may be submitted again.
    const undo = async () => {
      await removeMarker(workDir);
      dropCgroup(cgroupPath);
    };
    // The marker before the inputs: a job handed over before must find its files untouched.
    if (!(await this.#mark(workDir, jobId, cgroupPath))) {
      dropCgroup(cgroupPath);
      const why = `${join(workDir, FILES.submitted)} says it was submitted already: ask status() what became of it`;
      throw new ExecutorError(this.name, jobId, why);
    }
    try {
      writeInputs(launch);
    } catch (err) {
      await undo();
      throw err;
    }
    const [file, ...args] = launch.argv as [string, ...string[]];
    let spawned: Spawned;
    try {
      spawned = await this.#launcher.spawn({
        file,
        args,
        // Exactly the launch's environment: the engine decides what a job inherits.
        env: { ...launch.env },
        cwd: launch.cwd,
        logPath: launch.logPath,
        workDir,
        cgroup: cgroupPath,
        slots: this.slots,
      });
    } catch (err) {
      // Only reached when nothing started.
      await undo();
      throw new ExecutorError(this.name, jobId, startFailure(launch, err), { cause: err });
    }
    this.#own.add(jobId);
    if (cgroupPath !== null) this.#stopper.noteCgroup(jobId, cgroupPath);
    const { pid } = spawned;
    if (pid === null) return this.#waits(launch, workDir, spawned);
    void spawned.ended.then(
      (how) => this.#exited(jobId, pid, workDir, how),
      () => this.#own.delete(jobId),
    );
    this.#limit(launch, workDir);
    const executorId = executorIdOf(pid);
    this.#log.debug({ jobId, executorId, workDir }, 'job started');
    return { executorId, running: true };
  }

  /** Follows a job that waits for a slot in the launcher: its start, then its end (or only its end, if stopped while it waited). */
  #waits(launch: JobLaunch, workDir: string, spawned: Spawned): SubmitAnswer {
    let pid: number | null = null;
    // The start's handler before the end's: both may have come already, and a start is told before its end.
    void spawned.started.then(
      (started) => {
        pid = started;
        this.#running(launch, workDir, started);
      },
      (err: unknown) => this.#neverStarted(launch, workDir, err),
    );
    void spawned.ended.then(
      (how) => this.#exited(launch.jobId, pid, workDir, how),
      () => this.#own.delete(launch.jobId),
    );
    this.#log.debug({ jobId: launch.jobId, workDir }, 'job waits for a slot');
    return { executorId: null };
  }

  /** A job that waited for a slot started: the engine is told, as it is of an end. */
  #running(launch: JobLaunch, workDir: string, pid: number): void {
    this.#limit(launch, workDir);
    if (this.#closed) return;
    const executorId = executorIdOf(pid);
    this.#log.debug({ jobId: launch.jobId, executorId, workDir }, 'job started');
    this.#tell(launch.jobId, { state: 'running', executorId });
  }

  /** A job that waited for a slot could not be started (or its launcher died): it ends here, as lost would. */
  async #neverStarted(launch: JobLaunch, workDir: string, err: unknown): Promise<void> {
    this.#own.delete(launch.jobId);
    if (this.#closed) return;
    const reason = startFailure(launch, err);
    this.#log.warn({ jobId: launch.jobId, err }, 'a job that waited for a slot did not start');
    // As with a start that fails at once: without the marker, status() says never-submitted.
    await removeMarker(workDir).catch(() => undefined);
    this.#tell(launch.jobId, { state: 'exited', executorId: null, exitCode: null, reason });
  }

  /** Creates the job's marker; another store's marker (and its job's files) is cleared first, unless that job still runs. */
  async #mark(workDir: string, jobId: number, cgroup: string | null): Promise<boolean> {
    if (createMarker(workDir, jobId, this.#storeId, cgroup)) return true;
    const files = await readJobFiles(workDir);
    if (!isForeignMarker(files, this.#storeId)) return false;
    const other = files.pid?.job ?? null;
    if (other !== null && isRunning(other, workDir)) {
      const why = `${workDir} is in use by a job of another store (pid ${other.pid}, see ${join(workDir, FILES.submitted)}): end it or move the data directory aside`;
      throw new ExecutorError(this.name, jobId, why);
    }
    this.#log.warn({ jobId, workDir }, "another store's job left this work directory: cleared");
    await clearForeignJob(workDir);
    return createMarker(workDir, jobId, this.#storeId, cgroup);
  }

  /** The run-time limit of a job that started here, counted from its start. */
  #limit(launch: JobLaunch, workDir: string): void {
    const { jobId } = launch;
    if (launch.timeoutMs === null) return;
    const ms = launch.timeoutMs;
    // Chained: a timeout of weeks is longer than one Node timer may wait.
    const timer = setLongTimeout(() => {
      this.#timeouts.delete(jobId);
      void this.#stopper.stopQuietly({ jobId, workDir }, timeoutReason(ms));
    }, ms);
    this.#timeouts.set(jobId, timer);
  }

  /** The launcher recorded the job's end (and killed its process group): nothing to read. */
  #exited(jobId: number, pid: number | null, workDir: string, how: Ended): void {
    this.#own.delete(jobId);
    this.#timeouts.get(jobId)?.clear();
    this.#timeouts.delete(jobId);
    // Once closed, the next controller's status() empties the cgroup: no I/O after close.
    if (this.#closed) return;
    // Not waited for: the engine hears of the end at once, while the cgroup's leftovers go.
    void this.#stopper.killCgroup(jobId, workDir);
    const state = exitedState(
      pid === null ? null : executorIdOf(pid),
      how.exit,
      how.reason,
      how.signal,
    );
    this.#log.debug({ jobId, state }, 'job ended');
    this.#tell(jobId, state);
  }

  #tell(jobId: number, state: ExecutorJobState): void {
    for (const listener of this.#listeners) {
      try {
        listener(jobId, state);
      } catch (err) {
        this.#log.error({ err, jobId }, 'a job-change listener threw');
      }
    }
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    const now = Date.now();
    const entries = await Promise.all(
      jobs.map(async (ref) => {
        const state = await this.#statusOf(ref, now);
        if (!this.#own.has(ref.jobId)) this.#follower.note(ref, state);
        return [ref.jobId, state] as const;
      }),
    );
    return new Map(entries);
  }

  async #statusOf(ref: JobRef, now: number): Promise<ExecutorJobState> {
    const workDir = resolve(ref.workDir);
    const { state, job, files } = await inspectJob(ref, workDir, now, this.#storeId);
    if (state.state !== 'running' || job === null) {
      if (state.state === 'exited') {
        // Ended while no controller watched (or before a restart): its cgroup may still hold leftovers.
        await this.#stopper.killCgroup(ref.jobId, workDir);
      }
      return state;
    }
    if (files.reasonAt !== null) {
      this.#stopper.killIfOverdue(ref.jobId, job, workDir, files.reasonAt, now);
    } else if (ref.timeoutMs !== null) {
      // Adopted after a restart, the start-time timer is gone: enforce the limit here, from the
      // start (a job that waited for a slot was submitted long before).
      const startedAt = (await startedAtOf(workDir)) ?? ref.submittedAt;
      if (startedAt !== null && now >= startedAt + ref.timeoutMs) {
        await this.#stopper.stopQuietly(
          { jobId: ref.jobId, workDir },
          timeoutReason(ref.timeoutMs),
        );
      }
    }
    return state;
  }

  async cancel(job: JobRef, reason: string): Promise<void> {
    await this.#pending.get(job.jobId)?.catch(() => undefined);
    await this.#stopper.stop({ jobId: job.jobId, workDir: resolve(job.workDir) }, reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timeouts.values()) timer.clear();
    this.#timeouts.clear();
    await this.#follower.close();
    await Promise.all([this.#cgroupRoot, this.#stopper.close()]);
    await this.#launcher.close();
  }
}
