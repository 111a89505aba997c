import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../logger.ts';

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logPath: string;
  /** Where the launcher writes the job's `pid` and `exit` files (`job-files.ts`). */
  workDir: string;
  /** The cgroup the job is born in; null: its session only. */
  cgroup: string | null;
  /**
   * Start it only while fewer than this many of the launcher's jobs run; it
   * waits in the launcher meanwhile, and starts the moment one ends.
   * Absent: at once.
   */
  slots?: number;
}

/** How a job ended, as its launcher recorded it in the `exit` file (and read its `reason`). */
export interface Ended {
  /** As a shell reports it: the exit code, or 128 + N when killed by signal N. */
  exit: number;
  signal: NodeJS.Signals | null;
  reason: string | null;
}

export interface Spawned {
  /** null: the job waits for a slot in the launcher. */
  pid: number | null;
  /**
   * Resolves with the pid once the job runs (at once when `pid` is known);
   * rejects when the launcher could not start it or died first; never
   * settles for a job stopped while it waited (it ends unstarted).
   */
  started: Promise<number>;
  /**
   * Resolves once the launcher has written the job's `exit` file; rejects
   * if the launcher dies first (the job's end is then read from its files).
   */
  ended: Promise<Ended>;
}

type Reply =
  | { id: number; pid: number }
  | { id: number; queued: true }
  | ({ id: number } & Ended)
  | { id: number; error: string; code?: string };

/** The Node launcher's entry, beside this file: `.ts` under the test runner, `.js` once built. */
const NODE_MAIN = fileURLToPath(
  new URL(`./launcher-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);
/** The posix_spawn launcher, in the package's `bin/` (the same path from `src/` and from `dist/`). */
const SPAWN_MAIN = fileURLToPath(new URL('../../../bin/autoctrl-launcher.py', import.meta.url));
const PYTHONS = ['/usr/bin/python3', '/usr/local/bin/python3'];

/**
 * The program that starts jobs: the posix_spawn launcher when a python3 is
 * there (a start costs about 1 ms: vfork copies nothing), otherwise one in
 * Node (fork()+exec: tens of milliseconds on VMs where copying page tables is
 * expensive). Both speak the same JSON lines.
 */
export type LauncherKind = 'posix_spawn' | 'node';

export function launcherProgram(prefer: LauncherKind = 'posix_spawn'): {
  file: string;
  args: string[];
  kind: LauncherKind;
} {
  const python = prefer === 'node' ? undefined : PYTHONS.find(existsSync);
  if (python !== undefined && existsSync(SPAWN_MAIN))
    return { file: python, args: ['-I', '-S', SPAWN_MAIN], kind: 'posix_spawn' };
  const execArgv = NODE_MAIN.endsWith('.ts') ? process.execArgv : [];
  return { file: process.execPath, args: [...execArgv, NODE_MAIN], kind: 'node' };
}

/**
 * Starts job processes from a small helper process instead of the
 * controller's: `fork()` of a large process blocks its event loop for
 * milliseconds per job, which is what bounds a chain of short jobs. The
 * controller writes a request and goes on with the store while the launcher
 * starts the job, on another core.
 *
 * The launcher is the jobs' parent: it alone can learn their exit status
 * from the kernel, writes it in their work directories, and only then tells
 * the controller. It runs in a session of its own and outlives the
 * controller (stopped or SIGKILLed) until its last job is recorded; a new
 * controller starts a new launcher and follows the old one's jobs through
 * `status()`. A launcher killed takes its running jobs' statuses with it:
 * they end as lost, never as done (`inspect.ts`).
 */
export class Launcher {
  #child: ChildProcess | null = null;
  #next = 0;
  readonly #starting = new Map<
    number,
    { resolve: (s: Spawned) => void; reject: (e: Error) => void }
  >();
  /** Jobs waiting for a slot in the launcher: told when they start. */
  readonly #waiting = new Map<
    number,
    { resolve: (pid: number) => void; reject: (e: Error) => void }
  >();
  readonly #ending = new Map<
    number,
    { resolve: (ended: Ended) => void; reject: (e: Error) => void }
  >();

  constructor(
    private readonly log: Logger,
    private readonly prefer: LauncherKind = 'posix_spawn',
  ) {}

  spawn(req: SpawnRequest): Promise<Spawned> {
    const child = this.#child ?? this.#start();
    const id = this.#next++;
    // Waiting for the launcher's answer keeps this process alive, as waiting for a spawn would.
    keepAlive(child, true);
    return new Promise<Spawned>((resolve, reject) => {
      this.#starting.set(id, { resolve, reject });
      child.stdin?.write(`${JSON.stringify({ id, ...req })}\n`, (err) => {
        if (err === null || err === undefined) return;
        this.#starting.delete(id);
        this.#settled();
        reject(err);
      });
    });
  }

  /**
   * Lets the launcher go; the jobs it started keep running, and it stays
   * until it has recorded their ends. Without jobs it ends at once, and is
   * waited for, so that nothing of it is left behind.
   */
  async close(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const idle = this.#ending.size === 0 && this.#starting.size === 0 && this.#waiting.size === 0;
    child.stdin?.end();
    if (!idle) return;
    child.ref();
    await new Promise((r) => child.once('exit', r));
  }

  #start(): ChildProcess {
    const program = launcherProgram(this.prefer);
    this.log.debug({ launcher: program.kind }, 'job launcher started');
    // Its own session: a Ctrl-C or SIGHUP for the controller's group must not end the jobs' parent.
    // Not the controller's stderr: a launcher outlives the controller for as long as its jobs run,
    // and would hold whatever reads that stderr (a terminal, a CI log pipe) open until then.
    const child = spawn(program.file, program.args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.stdout !== null)
      createInterface({ input: child.stdout }).on('line', (line) => this.#reply(line));
    if (child.stderr !== null) {
      createInterface({ input: child.stderr }).on('line', (line) =>
        this.log.warn({ launcher: program.kind }, `job launcher: ${line}`),
      );
      (child.stderr as { unref?: () => void }).unref?.();
    }
    // A launcher gone (its `exit` tells) makes writes fail with EPIPE: that error is the request's.
    child.stdin?.on('error', () => undefined);
    child.once('error', (err) => this.#lost(child, err.message));
    child.once('exit', (code, signal) => this.#lost(child, signal ?? `exit ${code}`));
    // The daemon's timers and server keep it alive, not the launcher.
    child.unref();
    keepAlive(child, false);
    this.#child = child;
    return child;
  }

  #lost(child: ChildProcess, how: string): void {
    if (this.#child === child) this.#child = null;
    const lost = new Error(`the job launcher ended (${how})`);
    for (const s of [
      ...this.#starting.values(),
      ...this.#waiting.values(),
      ...this.#ending.values(),
    ])
      s.reject(lost);
    this.#starting.clear();
    this.#waiting.clear();
    if (this.#ending.size > 0)
      this.log.warn({ jobs: this.#ending.size }, 'job launcher gone: job ends are polled instead');
    this.#ending.clear();
  }

  /** Running jobs do not keep the controller alive, as with an unref'd child process. */
  #settled(): void {
    if (this.#starting.size === 0 && this.#child !== null) keepAlive(this.#child, false);
  }

  #reply(line: string): void {
    let m: Reply;
    try {
      m = JSON.parse(line) as Reply;
    } catch {
      this.log.warn({ line }, 'job launcher said something unexpected');
      return;
    }
    if ('queued' in m) {
      const s = this.#starting.get(m.id);
      this.#starting.delete(m.id);
      const started = new Promise<number>((resolve, reject) =>
        this.#waiting.set(m.id, { resolve, reject }),
      );
      // Rejected for a job nobody follows any more (the launcher gone): not an unhandled rejection.
      started.catch(() => undefined);
      s?.resolve({ pid: null, started, ended: this.#ended(m.id) });
      this.#settled();
    } else if ('pid' in m) {
      const s = this.#starting.get(m.id);
      this.#starting.delete(m.id);
      if (s !== undefined)
        s.resolve({ pid: m.pid, started: Promise.resolve(m.pid), ended: this.#ended(m.id) });
      this.#waiting.get(m.id)?.resolve(m.pid);
      this.#waiting.delete(m.id);
      this.#settled();
    } else if ('exit' in m) {
      this.#ending.get(m.id)?.resolve({ exit: m.exit, signal: m.signal, reason: m.reason });
      this.#ending.delete(m.id);
      // Stopped while it waited: it never starts.
      this.#waiting.delete(m.id);
    } else {
      const err = Object.assign(new Error(m.error), { code: m.code });
      // A job refused after it waited never ends either.
      for (const pending of [this.#starting, this.#waiting, this.#ending]) {
        pending.get(m.id)?.reject(err);
        pending.delete(m.id);
      }
      this.#settled();
    }
  }

  #ended(id: number): Promise<Ended> {
    const ended = new Promise<Ended>((resolve, reject) =>
      this.#ending.set(id, { resolve, reject }),
    );
    // Rejected for a job nobody follows any more: not an unhandled rejection.
    ended.catch(() => undefined);
    return ended;
  }
}

/** Whether the launcher's pipes hold this process's event loop open. */
function keepAlive(child: ChildProcess, on: boolean): void {
  for (const stream of [child.stdin, child.stdout]) {
    const socket = stream as { ref?: () => void; unref?: () => void } | null;
    if (on) socket?.ref?.();
    else socket?.unref?.();
  }
}
