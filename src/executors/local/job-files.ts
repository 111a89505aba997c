import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirsSync } from '../../fs-util.ts';

/**
 * What a local job's work directory holds. The job's parent, the launcher
 * (`launcher.ts`), writes `pid` and `exit`; the controller writes
 * `submitted` and `reason`. Everything a restarted controller needs
 * to know about a job is here: jobs outlive the controller.
 */

/** `$0` of the shell that stood beside each job before the launcher became their parent (legacy `pid` files). */
export const WRAPPER_NAME = 'autoctrl-job';

export const FILES = {
  /** Created (exclusively) before the spawn: the job was handed over; names its cgroup, if any. */
  submitted: 'submitted',
  pid: 'pid',
  exit: 'exit',
  /** The job's cgroup, as written before the marker named it (jobs started by older versions). */
  cgroup: 'cgroup',
  /** Why the controller stopped the job, written before the signal is sent. */
  reason: 'reason',
} as const;

/** A process known by its pid and its start time (field 22 of `/proc/PID/stat`): a reused pid is never taken for it. */
export interface ProcessId {
  pid: number;
  /** null for a legacy wrapper's pid file: that process is known by its command line instead. */
  start: number | null;
}

/**
 * The `pid` file, "JOBPID JOBSTART LAUNCHERPID LAUNCHERSTART": the launcher
 * writes it with JOBPID 0 before the spawn, then the job's. A bare pid is a
 * legacy wrapper's (jobs started before the launcher became their parent).
 */
export interface PidRecord {
  /** null while the launcher has not recorded the job (before or during its spawn). */
  job: ProcessId | null;
  /** The job's parent, which writes its `exit`; null for a legacy wrapper, its own parent. */
  launcher: ProcessId | null;
}

export function parsePidRecord(text: string | null): PidRecord | null {
  if (text === null) return null;
  if (/^\d+$/.test(text)) return { job: { pid: Number(text), start: null }, launcher: null };
  const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(text);
  if (m === null) return null;
  const [pid, start, launcherPid, launcherStart] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return {
    job: pid === 0 ? null : { pid, start },
    launcher: { pid: launcherPid, start: launcherStart },
  };
}

/** What a job's work directory says about it. */
export interface JobFiles {
  /** mtime of the `submitted` marker; null when absent. */
  submittedAt: number | null;
  /** The store id the marker names: null when absent or unreadable, `''` for a marker that names none. */
  markerStore: string | null;
  /** null when absent or not written yet. */
  pid: PidRecord | null;
  exitStatus: number | null;
  reason: string | null;
  /** mtime of the reason file: when the controller first signalled the job. */
  reasonAt: number | null;
}

export async function readJobFiles(workDir: string): Promise<JobFiles> {
  const [submittedAt, markerStore, pid, exitStatus, reason, reasonAt] = await Promise.all([
    mtimeOf(join(workDir, FILES.submitted)),
    markerStoreOf(workDir),
    readText(join(workDir, FILES.pid)).then(parsePidRecord),
    readInt(join(workDir, FILES.exit)),
    readText(join(workDir, FILES.reason)),
    mtimeOf(join(workDir, FILES.reason)),
  ]);
  return { submittedAt, markerStore, pid, exitStatus, reason, reasonAt };
}

/**
 * When a running job started: the `pid` file's mtime, since its launcher
 * writes the job's pid at the spawn. A job that waited for a slot started
 * well after its marker.
 */
export function startedAtOf(workDir: string): Promise<number | null> {
  return mtimeOf(join(workDir, FILES.pid));
}

/**
 * Creates the `submitted` marker, naming the store the job belongs to and
 * the job's cgroup (null: none); false when it already exists (the job was
 * handed over before, perhaps by a controller that has since died).
 * Synchronous: see `makeDirsSync` for why.
 */
export function createMarker(
  workDir: string,
  jobId: number,
  storeId: string | null,
  cgroup: string | null,
): boolean {
  const path = join(workDir, FILES.submitted);
  const text = `${JSON.stringify({ jobId, at: Date.now(), controllerPid: process.pid, storeId, cgroup })}\n`;
  try {
    writeFileSync(path, text, { flag: 'wx' });
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    if (!isCode(err, 'ENOENT')) {
      // Created but not written (a full disk): ours, and it must go, or the job's next
      // submission would take it for a start that never happened.
      rmSync(path, { force: true });
      throw err;
    }
  }
  // The engine creates work directories; be lenient with callers that do not (and only pay for it then).
  makeDirsSync(workDir);
  return createMarker(workDir, jobId, storeId, cgroup);
}

/**
 * The cgroup the job's marker names; null when it has none (or no marker).
 * A marker without the field is older than it: the path is in `cgroup` then.
 */
export function markedCgroup(workDir: string): string | null {
  const text = readSyncOrNull(join(workDir, FILES.submitted));
  let named: unknown;
  try {
    named = (JSON.parse(text ?? '{}') as { cgroup?: unknown }).cgroup;
  } catch {
    return null; // a controller killed while writing it, before the job could start
  }
  if (named === undefined) return readSyncOrNull(join(workDir, FILES.cgroup))?.trim() || null;
  return typeof named === 'string' ? named : null;
}

function readSyncOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

/**
 * Whether the marker in `workDir` is another store's (a data directory reused
 * after its store was replaced): then what the work directory says is about
 * that store's job of the same id, not this one. A marker that cannot be read
 * (a controller killed while writing it) counts as this store's: the safe side.
 */
export function isForeignMarker(files: JobFiles, storeId: string | null): boolean {
  return storeId !== null && files.markerStore !== null && files.markerStore !== storeId;
}

/** Clears what another store's job left in `workDir`, marker last, so that this store's job starts afresh. */
export async function clearForeignJob(workDir: string): Promise<void> {
  for (const f of [FILES.pid, FILES.exit, FILES.reason, FILES.cgroup, FILES.submitted])
    await rm(join(workDir, f), { force: true });
}

export async function removeMarker(workDir: string): Promise<void> {
  await rm(join(workDir, FILES.submitted), { force: true });
}

/**
 * Records why the job is being stopped. The first reason wins (a timeout is
 * not renamed by a later cancel), and only its writer signals the job, so two
 * stops racing (timer and status(), or two controllers) signal it once.
 */
export async function writeReason(workDir: string, reason: string): Promise<boolean> {
  try {
    await writeFile(join(workDir, FILES.reason), `${reason}\n`, { flag: 'wx' });
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    throw err;
  }
}

async function markerStoreOf(workDir: string): Promise<string | null> {
  const text = await readText(join(workDir, FILES.submitted));
  try {
    const { storeId } = JSON.parse(text ?? '') as { storeId?: unknown };
    return typeof storeId === 'string' ? storeId : '';
  } catch {
    return null;
  }
}

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

async function readInt(path: string): Promise<number | null> {
  const text = await readText(path);
  return text !== null && /^\d+$/.test(text) ? Number(text) : null;
}

async function mtimeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

export function isCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
