import { readFileSync } from 'node:fs';
import { isCode, type ProcessId, WRAPPER_NAME } from './job-files.ts';

const hasProcfs = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/**
 * A pid read from a file may be damaged: `kill(-0)` would signal the
 * controller's own group and `kill(-1)` every process we may signal.
 */
function isJobPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 1;
}

/** The process exists and is ours to signal (EPERM: another user's, so not one of ours). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** State (field 3) and start time (field 22) of `/proc/PID/stat`; null when there is no such process. */
export function procStat(pid: number): { state: string; start: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields follow its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return fields[0] === undefined || !Number.isSafeInteger(start)
    ? null
    : { state: fields[0], start };
}

/**
 * Whether `p` still runs. A pid alone is not enough: once the process has
 * ended (or after a reboot) the number can be reused by an unrelated one, so
 * its start time must match too. A zombie has ended: it counts as gone.
 * Without procfs (not Linux), existence is all we can check.
 */
export function isRunning(p: ProcessId, workDir: string): boolean {
  if (!isJobPid(p.pid) || !exists(p.pid)) return false;
  if (!hasProcfs) return true;
  if (p.start === null) return isLegacyWrapperOf(p.pid, workDir);
  const stat = procStat(p.pid);
  return stat !== null && stat.state !== 'Z' && stat.start === p.start;
}

/** A wrapper shell of an earlier version (`sh -c WRAPPER autoctrl-job <workDir> ...`), known by its command line. */
function isLegacyWrapperOf(pid: number, workDir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args[3] === WRAPPER_NAME && args[4] === workDir;
  } catch {
    return false;
  }
}

/**
 * Signals the job's whole process group (the job leads it, in a session of
 * its own), so that what the job started goes with it; only while the job is
 * still the process its pid file names. False when it is not, or its group is
 * gone (or, EPERM, the number now belongs to someone else's group).
 */
export function signalJob(job: ProcessId, workDir: string, signal: NodeJS.Signals): boolean {
  if (!isRunning(job, workDir)) return false;
  try {
    process.kill(-job.pid, signal);
    return true;
  } catch (err) {
    if (isCode(err, 'ESRCH') || isCode(err, 'EPERM')) return false;
    throw err;
  }
}
