import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Every process a test file starts (daemons, controllers, job launchers)
 * inherits this mark; jobs may not (their environment is built, not
 * inherited), but their launcher lives as long as they do. A process left
 * running holds whatever reads its stderr open: a CI log pipe waits for it.
 */
const MARK = 'AUTOCTRL_TEST_OWNER';
process.env[MARK] ??= String(process.pid);
const mark = `${MARK}=${process.env[MARK]}`;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null; // gone meanwhile, or not ours to read
  }
}

/** This file's processes still running, as `pid: command line`. */
function processesLeft(): Map<number, string> {
  return processesWhere((p) => p.environ.split('\0').includes(mark));
}

/** Other processes (of this user: others' cannot be read) that pass `test`, as `pid: command line`. */
export function processesWhere(
  test: (p: { pid: number; ppid: number; environ: string }) => boolean,
): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const environ = read(`/proc/${entry}/environ`);
    if (environ === null || !test({ pid, ppid: parentOf(entry), environ })) continue;
    found.set(pid, (read(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim());
  }
  return found;
}

function parentOf(entry: string): number {
  const stat = read(`/proc/${entry}/stat`);
  return stat === null ? Number.NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * Kills what `processesLeft` found, and the process groups of their children
 * (a launcher's jobs), whose command lines it returns: they say which test left them.
 */
function killLeft(left: Map<number, string>): string[] {
  const children: string[] = [];
  for (const pid of left.keys()) {
    for (const entry of readdirSync('/proc')) {
      if (parentOf(entry) !== pid) continue;
      children.push((read(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim());
      signal(-Number(entry));
    }
    signal(pid);
  }
  return children;
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Fails if a process of this file is still running after 15 s, and kills it. */
export async function assertNoProcessesLeft(): Promise<void> {
  // A process just stopped may take a moment to go: a launcher waits for its last job, which a
  // cancel gives a grace period (3 s) before its SIGKILL, and a loaded machine adds to that.
  let left = processesLeft();
  for (let i = 0; i < 150 && left.size > 0; i++) {
    await sleep(100);
    left = processesLeft();
  }
  const jobs = killLeft(left);
  // A launcher without a job left is only recording an end: into a work directory the test's own
  // clean-up may be removing under it (it retries while the directory is there). Not a leak.
  const leaks = [...left.values()].filter(
    (cmd) => jobs.length > 0 || !cmd.includes('autoctrl-launcher'),
  );
  assert.deepEqual(
    leaks,
    [],
    `processes of ${process.argv[1]} left running (now killed, with their children: ${jobs.join('; ') || 'none'})`,
  );
}
