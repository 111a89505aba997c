import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

/** How much of a service's output an error quotes: enough for the reason, not the whole boot. */
const LOG_TAIL = 4000;

/**
 * Why a service's tests cannot run here (`programs` absent, or `otherwise`),
 * or null when they can. In CI (`AUTOCTRL_REQUIRE_SERVICES=1`) a missing
 * service is a failure, not a skip.
 */
export function serviceMissing(
  what: string,
  programs: readonly string[],
  install: string,
  otherwise: string | null = null,
): string | null {
  const absent = programs.filter((p) => !existsSync(p));
  const why =
    absent.length > 0 ? `${what} not installed (${absent.join(', ')}): ${install}` : otherwise;
  if (why !== null && process.env.AUTOCTRL_REQUIRE_SERVICES === '1') throw new Error(why);
  return why;
}

/** A temporary directory for one service, removed by its `stop`. */
export function serviceDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `autoctrl-${name}-`));
}

/** A loopback port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Boots a fresh service; when booting fails, stops it (its directory goes) before rethrowing. */
export async function booted<T extends { stop(): Promise<void> }>(
  service: T,
  boot: () => Promise<void>,
): Promise<T> {
  try {
    await boot();
    return service;
  } catch (err) {
    await service.stop();
    throw err;
  }
}

/**
 * One service for the calling test file: started before its tests (unless
 * `skip`), stopped after them. `skip` goes to the file's `describe`.
 */
export function serviceForThisFile<T extends { stop(): Promise<void> }>(
  what: string,
  skip: string | null,
  start: () => Promise<T>,
  timeouts: { startMs?: number; stopMs?: number } = {},
): { skip: string | false; get: () => T } {
  let service: T | undefined;
  before(
    async () => {
      if (skip === null) service = await start();
    },
    { timeout: timeouts.startMs ?? 60_000 },
  );
  after(
    async () => {
      await service?.stop();
    },
    { timeout: timeouts.stopMs ?? 30_000 },
  );
  return {
    skip: skip ?? false,
    get: () => {
      if (service === undefined) throw new Error(`the ${what} of this file did not start`);
      return service;
    },
  };
}

/**
 * Polls `check` every 50 ms until it answers true (a throw counts as not
 * yet), failing after `ms` or as soon as `process` (when given) has exited,
 * with the tail of its output in the error.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { ms?: number; process?: ServiceProcess } = {},
): Promise<void> {
  const ms = opts.ms ?? 30_000;
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    const gone = opts.process !== undefined && !opts.process.running;
    if (gone || Date.now() > deadline) {
      const why = gone ? 'its process exited' : `not after ${ms} ms`;
      const log = opts.process === undefined ? '' : `; its output ends:\n${opts.process.logTail()}`;
      throw new Error(`${what}: ${why}${log}`, { cause: last });
    }
    await delay(50);
  }
}

/** A server process of a test, its output (stdout and stderr) going to `logFile`. */
export class ServiceProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly logFile: string;

  constructor(
    command: string,
    args: readonly string[],
    opts: { logFile: string; env?: NodeJS.ProcessEnv },
  ) {
    this.logFile = opts.logFile;
    const log = openSync(opts.logFile, 'a');
    try {
      this.#child = spawn(command, args, { env: opts.env, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The end of what the process wrote, for error messages. */
  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-LOG_TAIL);
    } catch {
      return '(no output)';
    }
  }

  /**
   * Sends `signal` (to `pid` when the server is not the spawned process
   * itself, e.g. behind runuser), then SIGKILL if it is still running after
   * `graceMs`, and waits until the spawned process has exited.
   */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    opts: { pid?: number; graceMs?: number } = {},
  ): Promise<void> {
    if (!this.running) return;
    const send = (s: NodeJS.Signals) => {
      try {
        if (opts.pid === undefined) this.#child.kill(s);
        else process.kill(opts.pid, s);
      } catch {
        // ended meanwhile
      }
    };
    send(signal);
    const killer = setTimeout(() => send('SIGKILL'), opts.graceMs ?? 10_000);
    await this.#exited;
    clearTimeout(killer);
  }
}
