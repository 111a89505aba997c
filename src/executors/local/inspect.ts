import type { ExecutorJobState, JobRef } from '../contract.ts';
import { isWrapperOf } from './process-info.ts';
import { isForeignMarker, type JobFiles, readJobFiles, removeMarker } from './wrapper.ts';

/**
 * How long a `submitted` marker may exist without a pid file. The wrapper
 * writes its pid within milliseconds of the spawn, so a marker older than
 * this means the controller died between creating it and spawning: the job
 * never started and may be submitted again.
 */
export const SPAWN_GRACE_MS = 10_000;

export const LOST_REASON = "lost: the job's process ended without recording its exit status";

export function executorIdOf(pid: number): string {
  return `local:${pid}`;
}

export function pidOf(executorId: string | null): number | null {
  const m = executorId === null ? null : /^local:(\d+)$/.exec(executorId);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** An ended job as the wrapper recorded it. `signal` is what Node saw, for jobs this process spawned. */
export function exitedState(
  executorId: string | null,
  exitStatus: number | null,
  reason: string | null,
  signal: NodeJS.Signals | null = null,
): ExecutorJobState {
  let why = reason;
  // The shell reports a job killed by signal N as 128 + N.
  if (why === null && exitStatus !== null && exitStatus > 128)
    why = `killed by signal ${exitStatus - 128}`;
  if (why === null && exitStatus === null)
    why = signal === null ? LOST_REASON : `killed by ${signal}`;
  return { state: 'exited', executorId, exitCode: exitStatus, reason: why };
}

/** What the work directory and the process table say about one job, plus what the executor needs to act on it. */
export interface Inspection {
  state: ExecutorJobState;
  /** The wrapper's pid while it runs. */
  pid: number | null;
  files: JobFiles;
}

/** `workDir` must be absolute (as given to the wrapper). `storeId`: see `LocalExecutorOptions`. */
export async function inspectJob(
  ref: JobRef,
  workDir: string,
  now: number,
  storeId: string | null,
): Promise<Inspection> {
  const files = await readJobFiles(workDir);
  // Another store's job of the same id: this one was never started here.
  if (isForeignMarker(files, storeId)) return { state: noTrace(ref), pid: null, files };
  const pid = files.pid ?? pidOf(ref.executorId);
  const executorId = pid === null ? ref.executorId : executorIdOf(pid);
  if (files.exitStatus !== null) {
    return { state: exitedState(executorId, files.exitStatus, files.reason), pid: null, files };
  }
  if (pid === null) {
    if (files.submittedAt === null) return { state: noTrace(ref), pid: null, files };
    if (now - files.submittedAt > SPAWN_GRACE_MS) {
      await removeMarker(workDir);
      return { state: noTrace(ref), pid: null, files };
    }
    return { state: { state: 'queued', executorId: null }, pid: null, files };
  }
  if (isWrapperOf(pid, workDir)) {
    return { state: { state: 'running', executorId: executorIdOf(pid) }, pid, files };
  }
  // The wrapper may have written its exit file between our read and the process check.
  const again = await readJobFiles(workDir);
  return {
    state: exitedState(executorId, again.exitStatus, again.reason),
    pid: null,
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
