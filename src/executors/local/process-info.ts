import { readFileSync } from 'node:fs';
import { isCode, WRAPPER_NAME } from './wrapper.ts';

const hasProcfs = (() => {
  try {
    readFileSync('/proc/self/cmdline');
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

/** The process exists and is ours to signal (EPERM: another user's, so not one of our wrappers). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `pid` is still the wrapper of the job in `workDir`. A pid alone is
 * not enough: after the wrapper ends (or the machine reboots) the number can
 * be reused by an unrelated process. A zombie has an empty cmdline, so a
 * wrapper that ended but is not reaped yet counts as gone, as it should.
 * Without procfs (not Linux), existence is all we can check.
 */
export function isWrapperOf(pid: number, workDir: string): boolean {
  if (!isJobPid(pid) || !exists(pid)) return false;
  if (!hasProcfs) return true;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  // sh -c WRAPPER autoctrl-job <workDir> <cgroup> argv...
  return args[3] === WRAPPER_NAME && args[4] === workDir;
}

/**
 * Signals the job's whole process group (the wrapper leads it, thanks to
 * `detached`), so that what the job started dies with it. False when the
 * group is gone (or, EPERM, the number now belongs to someone else's group).
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (!isJobPid(pid)) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if (isCode(err, 'ESRCH') || isCode(err, 'EPERM')) return false;
    throw err;
  }
}
