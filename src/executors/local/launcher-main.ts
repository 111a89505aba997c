import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { constants as os } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ownCgroup } from './cgroup.ts';
import { FILES } from './job-files.ts';
import { procStat } from './process-info.ts';

/**
 * The Node launcher (see `launcher.ts`), for machines without python3: the
 * same JSON lines, pid file and exit files as `bin/autoctrl-launcher.py`
 * (its header describes them), with Node's spawn (fork+exec) instead of
 * posix_spawn. It holds no state a restart needs: everything about a job is
 * in its work directory.
 */
interface Request {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  logPath: string;
  workDir: string;
  cgroup: string | null;
  /** Start it only while fewer of this launcher's jobs run; it waits here meanwhile. */
  slots?: number;
}

/** dash's default, as for the Python launcher: what the job's `sh` used without a PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** A program that cannot be executed fails as under a shell: message in the log, status 126 or 127. */
const SHELL_EXEC = ['-c', 'exec "$@"', 'autoctrl-job'];
const EXEC_ERRORS = new Set(['ENOENT', 'EACCES', 'ENOEXEC', 'ENOTDIR', 'ELOOP', 'EISDIR']);
const PID_LINE = 64;
const SELF = `${process.pid} ${procStat(process.pid)?.start ?? 0}`;
/** The pid file before the job's pid is known: fixed length, so that the job's line overwrites it in place. */
const PENDING = `${`0 0 ${SELF}`.padEnd(PID_LINE - 1)}\n`;
const HOME = await ownCgroup();

/** Jobs accepted whose exit is not told yet (waiting, starting, running): the launcher stays for them. */
let unrecorded = 0;
/** Jobs being started or running: what `slots` counts. */
let running = 0;
/** Requests waiting for a slot, oldest first. */
const waiting: Request[] = [];
let stdinOpen = true;
let stdoutOpen = true;

function send(message: object): void {
  if (stdoutOpen) process.stdout.write(`${JSON.stringify(message)}\n`);
}
// The controller is gone: nobody to tell, the exit files say it all.
process.stdout.on('error', () => {
  stdoutOpen = false;
});

function leaveIfDone(): void {
  if (!stdinOpen && unrecorded === 0) process.exit(0);
}

/** The program execvp would run, searched in the job's own PATH; null when none is executable. */
function resolve(file: string, env: Record<string, string>, cwd: string): string | null {
  if (file.includes('/')) return file;
  for (const folder of (env.PATH ?? DEFAULT_PATH).split(':')) {
    const path = join(folder === '' ? cwd : folder, file);
    try {
      if (statSync(path).isFile()) {
        accessSync(path, constants.X_OK);
        return path;
      }
    } catch {
      // not here
    }
  }
  return null;
}

/** A job that waited long for its slot may find its (empty) cgroup swept by a controller's start. */
function remake(cgroup: string): boolean {
  try {
    mkdirSync(cgroup);
    return true;
  } catch {
    return false;
  }
}

function moveTo(cgroup: string): boolean {
  try {
    writeFileSync(join(cgroup, 'cgroup.procs'), String(process.pid));
    return true;
  } catch {
    return false;
  }
}

/** Born in its cgroup: the launcher steps in for the (synchronous) spawn and back out, as the Python one does. */
function spawnIn(m: Request, file: string, args: string[], log: number): ChildProcess {
  const moved =
    m.cgroup !== null &&
    HOME !== null &&
    (moveTo(m.cgroup) || (remake(m.cgroup) && moveTo(m.cgroup)));
  try {
    return spawn(file, args, {
      argv0: m.file,
      detached: true,
      stdio: ['ignore', log, log],
      env: m.env,
      cwd: m.cwd,
    });
  } finally {
    if (moved && !moveTo(HOME as string)) {
      // Left in the job's cgroup, the launcher would be killed with the job's leftovers.
      process.stderr.write(`autoctrl-launcher: cannot move back to ${HOME}: exiting\n`);
      process.exit(3);
    }
  }
}

/** Spawned, or the error; a program that cannot be executed is handed to sh's `exec`. */
async function spawnJob(m: Request, log: number): Promise<ChildProcess> {
  const path = resolve(m.file, m.env, m.cwd);
  let child = path === null ? null : spawnIn(m, path, m.args, log);
  if (child !== null && child.pid !== undefined) return child;
  if (child !== null) {
    const [err] = (await once(child, 'error').catch((e: unknown) => [e])) as [
      NodeJS.ErrnoException,
    ];
    if (!EXEC_ERRORS.has(err.code ?? '')) throw err;
  }
  child = spawnIn(m, '/bin/sh', [...SHELL_EXEC, m.file, ...m.args], log);
  if (child.pid !== undefined) return child;
  const [err] = (await once(child, 'error').catch((e: unknown) => [e])) as [Error];
  throw err;
}

function writeExit(workDir: string, code: number): boolean {
  const tmp = join(workDir, 'exit.tmp');
  try {
    writeFileSync(tmp, `${code}\n`);
    renameSync(tmp, join(workDir, FILES.exit));
    return true;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `exit` written (tried every second while the work directory exists), then the controller told. */
function record(m: Request, code: number, signal: NodeJS.Signals | null): void {
  if (!writeExit(m.workDir, code) && isDir(m.workDir)) {
    setTimeout(() => record(m, code, signal), 1000);
    return;
  }
  let reason: string | null = null;
  try {
    reason = readFileSync(join(m.workDir, FILES.reason), 'utf8').trim();
  } catch {
    // not stopped by a controller
  }
  send({ id: m.id, exit: code, signal, reason });
  unrecorded--;
  leaveIfDone();
}

function onExit(m: Request, pid: number, code: number | null, signal: NodeJS.Signals | null) {
  try {
    // What the job left in its session's group dies with it.
    process.kill(-pid, 'SIGKILL');
  } catch {
    // nothing left
  }
  running--;
  // Its slot is free: the next job starts before this one's end is written and told.
  startWaiting();
  record(m, code ?? 128 + (signal === null ? 0 : os.signals[signal]), signal);
}

/** Starts the job now, or queues it when its slots are all taken (its pid file says so). */
function accept(m: Request): void {
  unrecorded++;
  if (m.slots === undefined || (running < m.slots && waiting.length === 0)) {
    void start(m);
    return;
  }
  try {
    closeSync(openPending(m.workDir));
  } catch (err) {
    refuse(m, err);
    return;
  }
  waiting.push(m);
  send({ id: m.id, queued: true });
}

/** Starts waiting jobs while their slots allow; one stopped meanwhile (its `reason` written) ends unstarted, as SIGTERM would end it. */
function startWaiting(): void {
  for (let m = waiting[0]; m !== undefined && running < (m.slots ?? 0); m = waiting[0]) {
    waiting.shift();
    if (existsSync(join(m.workDir, FILES.reason))) record(m, 143, null);
    else void start(m);
  }
}

function refuse(m: Request, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  send({ id: m.id, error: e.message, code: e.code });
  unrecorded--;
  leaveIfDone();
}

async function start(m: Request): Promise<void> {
  const pidPath = join(m.workDir, FILES.pid);
  let fd: number | null = null;
  let log: number | null = null;
  running++;
  try {
    mkdirSync(dirname(m.logPath), { recursive: true });
    log = openSync(m.logPath, 'a');
    // Before the spawn, so that a launcher dying meanwhile leaves a lost job, never an unstarted one.
    fd = openPending(m.workDir);
    const child = await spawnJob(m, log);
    const pid = child.pid as number;
    // Not reaped yet: the exit is handled on a later turn of the event loop.
    const line = `${pid} ${procStat(pid)?.start ?? 0} ${SELF}`;
    try {
      writeSync(fd, `${line.padEnd(PID_LINE - 1)}\n`, 0);
    } catch {
      // read as "not recorded": the job ends as lost, never started twice
    }
    child.once('exit', (code, signal) => onExit(m, pid, code, signal));
    send({ id: m.id, pid });
  } catch (err) {
    if (fd !== null) unlinkSafe(pidPath);
    running--;
    refuse(m, err);
    startWaiting();
  } finally {
    if (fd !== null) closeSync(fd);
    if (log !== null) closeSync(log);
  }
}

/**
 * The pid file with no job yet, left open for the job's line. Not truncated:
 * a waiting job's pending line must never read as no pid file at all.
 */
function openPending(workDir: string): number {
  const path = join(workDir, FILES.pid);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT);
  try {
    writeSync(fd, PENDING, 0);
    return fd;
  } catch (err) {
    closeSync(fd);
    unlinkSafe(path);
    throw err;
  }
}

function unlinkSafe(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== '') accept(JSON.parse(line) as Request);
  })
  // The controller went away (stopped or killed): the jobs' exits are still recorded.
  .on('close', () => {
    stdinOpen = false;
    leaveIfDone();
  });
