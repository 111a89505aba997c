import type { ExecutorJobState, JobRef } from '../contract.ts';
import {
  isForeignMarker,
  type JobFiles,
  type ProcessId,
  readJobFiles,
  removeMarker,
} from './job-files.ts';
import { isRunning } from './process-info.ts';

/**
 * How long a `submitted` marker may exist without a pid file. The launcher
 * writes the pid file within milliseconds of the request, before the spawn,
 * so a marker older than this means the controller died between creating it
 * and asking: the job never started and may be submitted again.
 */
export const SPAWN_GRACE_MS = 10_000;

export const LOST_REASON = "lost: the job's process ended without recording its exit status";

export function executorIdOf(pid: number): string {
  return `local:${pid}`;
}

/** An ended job as its launcher recorded it. `signal`: the one that ended it, when its launcher told. */
export function exitedState(
  executorId: string | null,
  exitStatus: number | null,
  reason: string | null,
  signal: NodeJS.Signals | null = null,
): ExecutorJobState {
  let why = reason;
  // A job killed by signal N is recorded as 128 + N, as a shell reports it.
  if (why === null && exitStatus !== null && exitStatus > 128)
    why = `killed by signal ${exitStatus - 128}`;
  if (why === null && exitStatus === null)
    why = signal === null ? LOST_REASON : `killed by ${signal}`;
  return { state: 'exited', executorId, exitCode: exitStatus, reason: why };
}

/** What the work directory and the process table say about one job, plus what the executor needs to act on it. */
export interface Inspection {
  state: ExecutorJobState;
  /** The job's process while it runs (or its launcher is still recording its end). */
  job: ProcessId | null;
  files: JobFiles;
}

/** `workDir` must be absolute (as given to the launcher). `storeId`: see `LocalExecutorOptions`. */
export async function inspectJob(
  ref: JobRef,
  workDir: string,
  now: number,
  storeId: string | null,
): Promise<Inspection> {
  const files = await readJobFiles(workDir);
  // Another store's job of the same id: this one was never started here.
  if (isForeignMarker(files, storeId)) return { state: noTrace(ref), job: null, files };
  const job = files.pid?.job ?? null;
  const executorId = job === null ? ref.executorId : executorIdOf(job.pid);
  if (files.exitStatus !== null) {
    return { state: exitedState(executorId, files.exitStatus, files.reason), job: null, files };
  }
  if (files.pid === null) {
    if (files.submittedAt === null) return { state: noTrace(ref), job: null, files };
    if (now - files.submittedAt > SPAWN_GRACE_MS) {
      await removeMarker(workDir);
      return { state: noTrace(ref), job: null, files };
    }
    return { state: { state: 'queued', executorId: null }, job: null, files };
  }
  if (job !== null && isRunning(job, workDir)) {
    return { state: { state: 'running', executorId: executorIdOf(job.pid) }, job, files };
  }
  // Ended (or not recorded yet) but its launcher lives: the exit file is on its way (or waits for disk space).
  const launcher = files.pid.launcher;
  if (launcher !== null && isRunning(launcher, workDir)) {
    const state: ExecutorJobState =
      job === null
        ? { state: 'queued', executorId: null }
        : { state: 'running', executorId: executorIdOf(job.pid) };
    return { state, job, files };
  }
  // The launcher may have written the exit file between our read and the process checks.
  const again = await readJobFiles(workDir);
  return {
    state: exitedState(executorId, again.exitStatus, again.reason),
    job: null,
    files: again,
  };
}

/** Nothing in the work directory: never submitted, unless the engine recorded an id (then its files went away). */
function noTrace(ref: JobRef): ExecutorJobState {
  return ref.executorId === null
    ? { state: 'never-submitted' }
    : { state: 'gone', executorId: ref.executorId, reason: `nothing left of it in ${ref.workDir}` };
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
