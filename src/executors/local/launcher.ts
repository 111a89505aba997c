import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../logger.ts';

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logPath: string;
}

export interface Spawned {
  pid: number;
  /** Resolves with the signal that ended the process (null for an exit); never if the launcher dies first. */
  exit: Promise<NodeJS.Signals | null>;
}

type Reply =
  | { id: number; pid: number }
  | { id: number; exit: NodeJS.Signals | null }
  | { id: number; error: string; code?: string };

/** The launcher's entry, beside this file: `.ts` under the test runner, `.js` once built. */
const MAIN = fileURLToPath(
  new URL(`./launcher-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

/**
 * Starts job processes from a small helper process instead of the
 * controller's: `fork()` of a large process blocks its event loop for
 * milliseconds per job, which is what bounds a chain of short jobs. The
 * controller sends a request and goes on with the store while the launcher
 * forks, on another core. Jobs are detached and survive both processes; if the
 * launcher dies, its jobs' ends are found by `status()` as after a restart.
 */
export class Launcher {
  #child: ChildProcess | null = null;
  #next = 0;
  readonly #starting = new Map<
    number,
    { resolve: (s: Spawned) => void; reject: (e: Error) => void }
  >();
  readonly #ending = new Map<number, (signal: NodeJS.Signals | null) => void>();

  constructor(private readonly log: Logger) {}

  spawn(req: SpawnRequest): Promise<Spawned> {
    const child = this.#child ?? this.#start();
    const id = this.#next++;
    // Waiting for the launcher's answer keeps this process alive, as waiting for a spawn would.
    child.channel?.ref();
    return new Promise<Spawned>((resolve, reject) => {
      this.#starting.set(id, { resolve, reject });
      child.send({ id, ...req }, (err) => {
        if (err === null) return;
        this.#starting.delete(id);
        this.#settled();
        reject(err);
      });
    });
  }

  /** Lets the launcher go; the jobs it started keep running. */
  async close(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    // Held until it is gone, so that nothing of it is left behind.
    child.ref();
    child.disconnect();
    await gone;
  }

  #start(): ChildProcess {
    const child = fork(MAIN, [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: MAIN.endsWith('.ts') ? process.execArgv : [],
      serialization: 'json',
    });
    child.on('message', (m: Reply) => this.#reply(m));
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = null;
      const lost = new Error(`the job launcher ended (${signal ?? `exit ${code}`})`);
      for (const s of this.#starting.values()) s.reject(lost);
      this.#starting.clear();
      if (this.#ending.size > 0)
        this.log.warn(
          { jobs: this.#ending.size },
          'job launcher gone: job ends are polled instead',
        );
      this.#ending.clear();
    });
    // The daemon's timers and server keep it alive, not the launcher.
    child.unref();
    child.channel?.unref();
    this.#child = child;
    return child;
  }

  /** Running jobs do not keep the controller alive, as with an unref'd child process. */
  #settled(): void {
    if (this.#starting.size === 0) this.#child?.channel?.unref();
  }

  #reply(m: Reply): void {
    if ('pid' in m) {
      const s = this.#starting.get(m.id);
      this.#starting.delete(m.id);
      const exit = new Promise<NodeJS.Signals | null>((r) => this.#ending.set(m.id, r));
      s?.resolve({ pid: m.pid, exit });
      this.#settled();
    } else if ('exit' in m) {
      this.#ending.get(m.id)?.(m.exit);
      this.#ending.delete(m.id);
    } else {
      const s = this.#starting.get(m.id);
      this.#starting.delete(m.id);
      s?.reject(Object.assign(new Error(m.error), { code: m.code }));
      this.#settled();
    }
  }
}
