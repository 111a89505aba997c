import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../../logger.ts';
import type { Executor, ExecutorJobState, JobLaunch, JobRef } from '../contract.ts';
import { ExecutorError } from './errors.ts';
import { executorIdOf, exitedState, inspectJob, pidOf } from './inspect.ts';
import { isWrapperOf, signalGroup } from './process-info.ts';
import {
  createMarker,
  readJobFiles,
  removeMarker,
  WRAPPER,
  WRAPPER_NAME,
  writeReason,
} from './wrapper.ts';

export interface LocalExecutorOptions {
  /** Jobs run at once. */
  slots: number;
  logger: Logger;
  /** Between SIGTERM and SIGKILL when a job is stopped. */
  killGraceMs?: number;
}

type ExitListener = (jobId: number, state: ExecutorJobState) => void;

/**
 * Runs jobs as child processes of this machine, each under the constant
 * wrapper of `wrapper.ts`, detached so that they outlive the controller and
 * everything about them can be found again from their work directory.
 */
export class LocalExecutor implements Executor {
  readonly #slots: number;
  readonly #log: Logger;
  readonly #graceMs: number;
  /** jobId → wrapper pid, for jobs started here or adopted by `status()`. */
  readonly #running = new Map<number, number>();
  readonly #timeouts = new Map<number, NodeJS.Timeout>();
  readonly #kills = new Set<NodeJS.Timeout>();
  /** Submissions in flight: `cancel` waits for them, so it can find the pid. */
  readonly #pending = new Map<number, Promise<unknown>>();
  readonly #listeners: ExitListener[] = [];
  #closed = false;

  constructor(
    readonly name: string,
    opts: LocalExecutorOptions,
  ) {
    this.#slots = opts.slots;
    this.#log = opts.logger;
    this.#graceMs = opts.killGraceMs ?? 3000;
  }

  capacity(): number {
    return Math.max(0, this.#slots - this.#running.size);
  }

  onExit(listener: ExitListener): void {
    this.#listeners.push(listener);
  }

  async submit(launch: JobLaunch): Promise<{ executorId: string }> {
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

  async #start(launch: JobLaunch): Promise<{ executorId: string }> {
    const { jobId } = launch;
    const workDir = resolve(launch.workDir);
    if (!(await createMarker(workDir, jobId))) {
      throw new ExecutorError(
        this.name,
        jobId,
        `${workDir} says the job was already submitted: ask status() what became of it instead of starting it again`,
      );
    }
    let child: ChildProcess;
    try {
      await mkdir(dirname(launch.logPath), { recursive: true });
      const log = await open(launch.logPath, 'a');
      try {
        child = spawn('/bin/sh', ['-c', WRAPPER, WRAPPER_NAME, workDir, ...launch.argv], {
          detached: true,
          stdio: ['ignore', log.fd, log.fd],
          env: { ...process.env, ...launch.env },
          cwd: launch.cwd,
        });
        await spawned(child);
      } finally {
        await log.close();
      }
    } catch (err) {
      // Nothing started: without the marker, status() says `unknown` and the job may be retried.
      await removeMarker(workDir);
      const why = err instanceof Error ? err.message : String(err);
      throw new ExecutorError(
        this.name,
        jobId,
        `could not start the job in ${launch.cwd}: ${why}`,
        {
          cause: err,
        },
      );
    }
    const pid = child.pid as number;
    const executorId = executorIdOf(pid);
    child.unref();
    this.#running.set(jobId, pid);
    child.once('exit', (_code, signal) => void this.#exited(jobId, workDir, executorId, signal));
    if (launch.timeoutMs !== null) {
      const ms = launch.timeoutMs;
      const timer = setTimeout(() => {
        this.#timeouts.delete(jobId);
        void this.#cancelQuietly({ jobId, executorId, workDir }, timeoutReason(ms));
      }, ms);
      timer.unref();
      this.#timeouts.set(jobId, timer);
    }
    this.#log.debug({ jobId, executorId, workDir }, 'job started');
    return { executorId };
  }

  async #exited(
    jobId: number,
    workDir: string,
    executorId: string,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    clearTimeout(this.#timeouts.get(jobId));
    this.#timeouts.delete(jobId);
    this.#running.delete(jobId);
    if (this.#closed) return;
    let state: ExecutorJobState;
    try {
      const files = await readJobFiles(workDir);
      state = exitedState(executorId, files.exitStatus, files.reason, signal);
    } catch (err) {
      this.#log.warn({ err, jobId, workDir }, 'cannot read how the job ended; status() will tell');
      return;
    }
    this.#log.debug({ jobId, executorId, state }, 'job ended');
    for (const listener of this.#listeners) {
      try {
        listener(jobId, state);
      } catch (err) {
        this.#log.error({ err, jobId }, 'an exit listener threw');
      }
    }
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    const now = Date.now();
    const entries = await Promise.all(
      jobs.map(async (ref) => [ref.jobId, await this.#statusOf(ref, now)] as const),
    );
    return new Map(entries);
  }

  async #statusOf(ref: JobRef, now: number): Promise<ExecutorJobState> {
    const workDir = resolve(ref.workDir);
    const { state, pid, files } = await inspectJob(ref, workDir, now);
    if (state.state !== 'running' || pid === null) {
      if (state.state === 'exited') this.#running.delete(ref.jobId);
      return state;
    }
    this.#running.set(ref.jobId, pid);
    const target = { jobId: ref.jobId, executorId: state.executorId, workDir };
    if (files.reasonAt !== null) {
      // Stopped before, but still there: the SIGKILL of whoever stopped it never came (that controller died).
      if (now - files.reasonAt > this.#graceMs) signalGroup(pid, 'SIGKILL');
    } else if (ref.timeoutMs !== null && ref.submittedAt !== null) {
      // Adopted after a restart, the submit-time timer is gone: enforce the limit here.
      if (now >= ref.submittedAt + ref.timeoutMs)
        await this.#cancelQuietly(target, timeoutReason(ref.timeoutMs));
    }
    return state;
  }

  async cancel(job: JobRef, reason: string): Promise<void> {
    await this.#pending.get(job.jobId)?.catch(() => undefined);
    await this.#stop(
      { jobId: job.jobId, executorId: job.executorId, workDir: resolve(job.workDir) },
      reason,
    );
  }

  async #cancelQuietly(job: StopTarget, reason: string): Promise<void> {
    try {
      await this.#stop(job, reason);
    } catch (err) {
      this.#log.error({ err, jobId: job.jobId, reason }, 'could not stop the job');
    }
  }

  /** SIGTERM to the job's process group now, SIGKILL after the grace. */
  async #stop(job: StopTarget, reason: string): Promise<void> {
    const files = await readJobFiles(job.workDir);
    const pid = files.pid ?? pidOf(job.executorId);
    if (files.exitStatus !== null || pid === null || !isWrapperOf(pid, job.workDir)) return;
    // Written first, so that whoever looks next (even a restarted controller) knows why it died.
    await writeReason(job.workDir, reason);
    this.#log.info({ jobId: job.jobId, pid, reason }, 'stopping job');
    signalGroup(pid, 'SIGTERM');
    const kill = setTimeout(() => {
      this.#kills.delete(kill);
      // Also when the wrapper is gone: what the job left behind in its group goes too.
      if (signalGroup(pid, 'SIGKILL'))
        this.#log.info({ jobId: job.jobId, pid }, 'job killed after grace');
    }, this.#graceMs);
    kill.unref();
    this.#kills.add(kill);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of [...this.#timeouts.values(), ...this.#kills]) clearTimeout(timer);
    this.#timeouts.clear();
    this.#kills.clear();
  }
}

interface StopTarget {
  jobId: number;
  executorId: string | null;
  workDir: string;
}

function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
}

export function timeoutReason(ms: number): string {
  return `timeout after ${formatDuration(ms)}`;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}
