import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { markedCgroup } from './job-files.ts';

/*
 * A job's own cgroup (v2): the job is born in it (its launcher steps in for
 * the spawn), so everything the job starts is in it too, even what leaves its
 * process group with `setsid` or a double fork, and `cgroup.kill` ends all of
 * it at once. Used where this process may create cgroups (root on a cgroup v2
 * host or a hybrid one's `unified` tree); elsewhere jobs have their process
 * group only.
 */

/** This process's own cgroup in the v2 hierarchy, as a path; null without one. */
export async function ownCgroup(): Promise<string | null> {
  try {
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    // "... <mount point> <options> - cgroup2 <source> <super options>"
    const line = mounts.split('\n').find((l) => / - cgroup2 /.test(l));
    const mountPoint = line?.split(' ')[4];
    const own = (await readFile('/proc/self/cgroup', 'utf8'))
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
    return mountPoint === undefined || own === undefined ? null : join(mountPoint, own);
  } catch {
    return null;
  }
}

/**
 * Where job cgroups go: `autoctrl-jobs` under this process's own cgroup in
 * the v2 hierarchy, or null when there is none or it is not writable.
 */
export async function findCgroupRoot(): Promise<string | null> {
  const own = await ownCgroup();
  if (own === null) return null;
  try {
    const root = join(own, 'autoctrl-jobs');
    await mkdir(root, { recursive: true });
    await sweepEmpty(root, Date.now());
    return root;
  } catch {
    return null;
  }
}

/** Older than this, an empty job cgroup belongs to no job about to enter it. */
const SWEEP_AGE_MS = 10 * 60_000;

/**
 * Removes the empty job cgroups left by jobs that ended while no controller
 * was there to clean up and were never asked about again (their work
 * directory removed). A fresh one may be a job starting: left alone.
 */
export async function sweepEmpty(root: string, now: number): Promise<void> {
  for (const name of await readdir(root)) {
    if (!name.startsWith('job-')) continue;
    const cg = join(root, name);
    const [info, procs] = await Promise.all([
      stat(cg).catch(() => null),
      readFile(join(cg, 'cgroup.procs'), 'utf8').catch(() => null),
    ]);
    if (info === null || procs?.trim() !== '' || now - info.mtimeMs < SWEEP_AGE_MS) continue;
    await rmdir(cg).catch(() => undefined); // entered or removed meanwhile
  }
}

/** The cgroup of the job in `workDir` (unique per work directory, so per job and deployment). */
function cgroupOf(root: string, workDir: string): string {
  return join(root, `job-${createHash('sha256').update(workDir).digest('hex').slice(0, 16)}`);
}

/**
 * Creates the job's cgroup; returns its path for the launcher and the job's
 * marker (`createMarker`, which keeps it for the cleanup), or null when it
 * cannot (the job then runs in its process group only). Synchronous, as is
 * the start of `killCgroup`: see `makeDirsSync` for why.
 */
export function prepareCgroup(root: string, workDir: string): string | null {
  const cg = cgroupOf(root, workDir);
  try {
    mkdirSync(cg, { recursive: true });
    return cg;
  } catch {
    return null;
  }
}

/** Removes the cgroup of a job that was not handed over after all; one a job is in stays. null: none. */
export function dropCgroup(cg: string | null): void {
  if (cg === null) return;
  try {
    rmdirSync(cg);
  } catch {
    // entered (by the job handed over before) or removed already
  }
}

/**
 * Kills every process left in the job's cgroup and removes it; nothing when
 * the job has none. Safe to repeat, and after a restart: the path comes
 * from the job's marker, unless `known` (the job started in this process).
 */
export async function killCgroup(workDir: string, known?: string): Promise<void> {
  const cg = known ?? markedCgroup(workDir);
  if (cg === null) return;
  for (let i = 0; i < 50; i++) {
    const procs = readOrNull(join(cg, 'cgroup.procs'));
    if (procs === null) return; // removed already
    if (procs.trim() === '') break;
    await killAll(cg, procs);
    await delay(20);
  }
  dropCgroup(cg);
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** `cgroup.kill` (Linux 5.14); before it, SIGKILL to each process listed. */
async function killAll(cg: string, procs: string): Promise<void> {
  try {
    await writeFile(join(cg, 'cgroup.kill'), '1');
    return;
  } catch {
    // older kernel
  }
  for (const pid of procs.split('\n').filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
