import type { Logger } from '../../logger.ts';
import { killCgroup } from './cgroup.ts';
import { type ProcessId, readJobFiles, writeReason } from './job-files.ts';
import { isRunning, signalJob } from './process-info.ts';

export interface StopTarget {
  jobId: number;
  workDir: string;
}

/**
 * How the local executor ends jobs and what they leave: the stop (reason
 * first, SIGTERM, SIGKILL after the grace) and the emptying of a job's
 * cgroup. It keeps the SIGKILL timers and the cleanups under way, which
 * `close()` clears and waits for.
 */
export class JobStopper {
  readonly #log: Logger;
  readonly #graceMs: number;
  readonly #kills = new Set<NodeJS.Timeout>();
  readonly #cleanups = new Set<Promise<void>>();
  /** The cgroups of the jobs started here, until they are emptied. */
  readonly #cgroups = new Map<number, string>();

  constructor(log: Logger, graceMs: number) {
    this.#log = log;
    this.#graceMs = graceMs;
  }

  /** The cgroup of a job started here: its end need not read it from the marker. */
  noteCgroup(jobId: number, cgroup: string): void {
    this.#cgroups.set(jobId, cgroup);
  }

  /** `stop`, its failure logged: for timers, which have no caller to throw to. */
  async stopQuietly(job: StopTarget, reason: string): Promise<void> {
    try {
      await this.stop(job, reason);
    } catch (err) {
      this.#log.error({ err, jobId: job.jobId, reason }, 'could not stop the job');
    }
  }

  /**
   * SIGTERM to the job's process group now, SIGKILL after the grace. Only
   * the job's own process, known by its pid file: a job that ended has had
   * its group killed by its launcher already.
   */
  async stop(job: StopTarget, reason: string): Promise<void> {
    let files = await readJobFiles(job.workDir);
    let written = false;
    const launcher = files.pid?.launcher ?? null;
    if (files.pid !== null && files.pid.job === null && launcher !== null) {
      // Waiting for a slot: its launcher finds the reason and does not start it (it ends as stopped).
      if (files.exitStatus !== null || !isRunning(launcher, job.workDir)) return;
      written = await writeReason(job.workDir, reason);
      if (!written) return;
      this.#log.info({ jobId: job.jobId, reason }, 'stopping job: it waited for a slot');
      // Unless it started just before the reason was there: then it is signalled as any other.
      files = await readJobFiles(job.workDir);
    }
    const proc = files.pid?.job ?? null;
    if (files.exitStatus !== null || proc === null || !isRunning(proc, job.workDir)) return;
    // Written before the signal, so that whoever looks next (even a restarted controller) knows why it died.
    if (!written && !(await writeReason(job.workDir, reason))) {
      if (files.reasonAt !== null)
        this.killIfOverdue(job.jobId, proc, job.workDir, files.reasonAt, Date.now());
      return;
    }
    const { pid } = proc;
    this.#log.info({ jobId: job.jobId, pid, reason }, 'stopping job');
    signalJob(proc, job.workDir, 'SIGTERM');
    const kill = setTimeout(() => {
      this.#kills.delete(kill);
      if (signalJob(proc, job.workDir, 'SIGKILL'))
        this.#log.info({ jobId: job.jobId, pid }, 'killed after grace');
      void this.killCgroup(job.jobId, job.workDir);
    }, this.#graceMs);
    kill.unref();
    this.#kills.add(kill);
  }

  /** Stopped before but still there: the SIGKILL of whoever stopped it never came (that controller died). */
  killIfOverdue(
    jobId: number,
    job: ProcessId,
    workDir: string,
    reasonAt: number,
    now: number,
  ): void {
    if (now - reasonAt <= this.#graceMs) return;
    if (signalJob(job, workDir, 'SIGKILL'))
      this.#log.info({ jobId, pid: job.pid }, 'killed: overdue after a stop');
    void this.killCgroup(jobId, workDir);
  }

  /** Empties the job's cgroup; tracked, so that `close()` waits for cleanups under way. */
  killCgroup(jobId: number, workDir: string): Promise<void> {
    // Known for a job started here: its marker need not be read.
    const known = this.#cgroups.get(jobId);
    this.#cgroups.delete(jobId);
    const cleanup = killCgroup(workDir, known)
      .catch((err) =>
        this.#log.warn({ err, jobId, workDir }, "could not end what is left in the job's cgroup"),
      )
      .finally(() => this.#cleanups.delete(cleanup));
    this.#cleanups.add(cleanup);
    return cleanup;
  }

  async close(): Promise<void> {
    for (const timer of this.#kills) clearTimeout(timer);
    this.#kills.clear();
    await Promise.all(this.#cleanups);
  }
}
