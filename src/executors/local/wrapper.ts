import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../../fs-util.ts';

/**
 * Why a wrapper at all: jobs are detached and outlive the controller, which may
 * be SIGKILLed at any moment. Only a job's parent can learn its exit status
 * from the kernel, so a controller restarted later could never know how an
 * adopted job ended. The wrapper (a constant script: no job value is ever part
 * of it) stays the job's parent and leaves the status in `workDir/exit`.
 *
 * Invoked as `sh -c WRAPPER autoctrl-job <workDir> <cgroup or ''> <argv...>`:
 * - the trap keeps the wrapper alive when the process group gets SIGTERM, so it
 *   can still record the job's status (143); traps with a command are reset
 *   in the subshell, so the job itself gets the default disposition;
 * - `( shift; exec "$@" )` runs argv exactly as execvp would: `exec` never runs
 *   a shell builtin or function, so argv[0] `eval` is a program name, not code;
 * - no shell variable is assigned (the status goes through `set --`): a
 *   variable inherited from the job's environment is exported, so assigning
 *   it would change the environment of the commands that follow;
 * - given a cgroup (also named in the work directory's `cgroup` file, for
 *   whoever cleans up after a restart), the wrapper first moves itself into
 *   it (`cgroup.ts`), so the job and everything it starts are in it; without
 *   one (or when the move fails) it goes on in its process group only. An
 *   argument rather than reading the file: a `cat` is one more process per
 *   job, and process creation is what a short job's turnaround is made of;
 * - `exit.tmp` + rename makes `exit` appear whole; `command -p` finds `mv`
 *   even when the job's environment sets an odd PATH;
 * - a status that cannot be written (a full disk) is tried again every
 *   second while the work directory exists: the job then looks running until
 *   space is freed, instead of lost (a lost job uses up one of its attempts);
 * - once the job has ended, the signals are ignored (and `mv` inherits that):
 *   a second SIGTERM to the group, from a repeated cancel, must not kill
 *   `mv` halfway and lose the status.
 */
export const WRAPPER = `trap : HUP INT TERM
if [ -n "$2" ]; then { echo $$ >"$2/cgroup.procs"; } 2>/dev/null; fi
echo $$ >"$1/pid"
(shift 2; exec "$@")
set -- "$1" "$?"
trap '' HUP INT TERM
until { echo "$2" >"$1/exit.tmp" && command -p mv -f "$1/exit.tmp" "$1/exit"; } 2>/dev/null || [ ! -d "$1" ]; do command -p sleep 1; done
exit "$2"`;

/** `$0` of the wrapper: how `/proc/<pid>/cmdline` tells our wrappers apart. */
export const WRAPPER_NAME = 'autoctrl-job';

export const FILES = {
  /** Created (exclusively) before the spawn: the job was handed over. */
  submitted: 'submitted',
  pid: 'pid',
  exit: 'exit',
  /** The job's cgroup, when it has one: its path. */
  cgroup: 'cgroup',
  /** Why the controller stopped the job, written before the signal is sent. */
  reason: 'reason',
} as const;

/** What a job's work directory says about it. */
export interface JobFiles {
  /** mtime of the `submitted` marker; null when absent. */
  submittedAt: number | null;
  /** The store id the marker names: null when absent or unreadable, `''` for a marker that names none. */
  markerStore: string | null;
  /** null when absent or not written yet (the shell truncates before it writes). */
  pid: number | null;
  exitStatus: number | null;
  reason: string | null;
  /** mtime of the reason file: when the controller first signalled the job. */
  reasonAt: number | null;
}

export async function readJobFiles(workDir: string): Promise<JobFiles> {
  const [submittedAt, markerStore, pid, exitStatus, reason, reasonAt] = await Promise.all([
    mtimeOf(join(workDir, FILES.submitted)),
    markerStoreOf(workDir),
    readInt(join(workDir, FILES.pid)),
    readInt(join(workDir, FILES.exit)),
    readText(join(workDir, FILES.reason)),
    mtimeOf(join(workDir, FILES.reason)),
  ]);
  return { submittedAt, markerStore, pid, exitStatus, reason, reasonAt };
}

/**
 * Creates the `submitted` marker, naming the store the job belongs to;
 * false when it already exists (the job was handed over before, perhaps by
 * a controller that has since died).
 */
export async function createMarker(
  workDir: string,
  jobId: number,
  storeId: string | null,
): Promise<boolean> {
  const path = join(workDir, FILES.submitted);
  const text = `${JSON.stringify({ jobId, at: Date.now(), controllerPid: process.pid, storeId })}\n`;
  try {
    await writeFile(path, text, { flag: 'wx' });
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    if (!isCode(err, 'ENOENT')) throw err;
  }
  // The engine creates work directories; be lenient with callers that do not (and only pay for it then).
  await makeDirs(workDir);
  return createMarker(workDir, jobId, storeId);
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

/** How a job ended, as the wrapper and the controller recorded it: all `onExit` needs. */
export async function readOutcome(
  workDir: string,
): Promise<{ exitStatus: number | null; reason: string | null }> {
  const [exitStatus, reason] = await Promise.all([
    readInt(join(workDir, FILES.exit)),
    readText(join(workDir, FILES.reason)),
  ]);
  return { exitStatus, reason };
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
