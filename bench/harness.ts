import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../test/services/service.ts';
import { scratch } from './lib.ts';

/*
 * What the job benchmarks drive, all of it public and the same whatever the
 * store: the built CLI, a real `autoctrl serve` process on a deployment file
 * written to a scratch directory, its HTTP API, and a ledger that every job
 * appends to. Nothing here calls the engine or the store in-process.
 */

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** The job of every job benchmark (and of Snakemake in peers.sh): `start <ns>`/`end <ns>` lines. */
export const LEDGER_JOB = fileURLToPath(new URL('./ledger-job.sh', import.meta.url));
const FEED = fileURLToPath(new URL('./feed-runs.sh', import.meta.url));
export const PEERS = fileURLToPath(new URL('./peers.sh', import.meta.url));

const exec = promisify(execFile);

let databases = 0;

/**
 * A fresh, empty store for one measurement: `sqlite` is a file in `dir`;
 * `postgres://USER@HOST:PORT/DB` creates a new database next to DB (with
 * `psql`, the password from PGPASSWORD as usual) and drops it after.
 */
export async function freshStore(
  flag: string,
  dir: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  if (flag === 'sqlite') return { url: `sqlite:${join(dir, 'state.db')}`, drop: async () => {} };
  if (!/^postgres(ql)?:\/\//.test(flag))
    throw new Error(`--store ${flag}: expected sqlite or postgres://USER@HOST:PORT/DB`);
  const name = `autoctrl_bench_${process.pid}_${++databases}`;
  const psql = (sql: string) =>
    exec('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', flag, '-c', sql]);
  await psql(`CREATE DATABASE ${name}`);
  const url = new URL(flag);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then() };
}

export interface BenchTask {
  name: string;
  after?: string[];
  /** Only runs of this type (`when: { type }`). */
  type?: string;
  locks?: Record<string, unknown>[];
}

/** The run records of a source or `runs add`: ended, so every task takes them. */
export interface BenchRun {
  run: number;
  type: string;
}

/**
 * Writes `dir/autoctrl.yaml` (as JSON, which is YAML) for a daemon on
 * `port`: one local executor with `slots`, the tasks (each job the ledger
 * job, appending to `dir/ledger`), and `runs` handed over by a command
 * source at the daemon's start. `server.public_url` is the
 * daemon itself, so that the CLI's wake-up reaches it on either engine.
 */
export function writeDeployment(
  dir: string,
  opts: {
    store: string;
    port: number;
    slots: number;
    tasks: BenchTask[];
    runs?: BenchRun[];
    interval?: string;
  },
): string {
  const ledger = join(dir, 'ledger');
  const sources: Record<string, unknown> = {};
  if (opts.runs?.length) {
    const file = join(dir, 'runs.jsonl');
    const end = Date.now() - 60_000;
    writeFileSync(
      file,
      opts.runs
        .map((r) => JSON.stringify({ run: r.run, type: r.type, start: end - 60_000, end }))
        .map((line) => `${line}\n`)
        .join(''),
    );
    sources.feed = { type: 'command', command: ['/bin/sh', FEED, file], interval: '1h' };
  }
  const config = {
    store: opts.store,
    server: { host: '127.0.0.1', port: opts.port, public_url: `http://127.0.0.1:${opts.port}` },
    engine: { interval: opts.interval ?? '30s' },
    executors: { local: { type: 'local', slots: opts.slots } },
    sources,
    tasks: Object.fromEntries(
      opts.tasks.map((t) => [
        t.name,
        {
          // The ledger in the environment: named in the command, it would be recorded (hashed) as code.
          command: ['/bin/bash', LEDGER_JOB, '{task}', '{run}'],
          env: { LEDGER: ledger },
          ...(t.after?.length ? { after: t.after } : {}),
          ...(t.type ? { when: { type: t.type } } : {}),
          ...(t.locks ? { locks: t.locks } : {}),
          retries: 0,
        },
      ]),
    ),
  };
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** `n` tasks `prefix00`, `prefix01`... each after the one before. */
export function chain(prefix: string, n: number, extra: Partial<BenchTask> = {}): BenchTask[] {
  const name = (i: number) => `${prefix}${String(i).padStart(2, '0')}`;
  return Array.from({ length: n }, (_, i) => ({
    ...extra,
    name: name(i),
    ...(i > 0 ? { after: [name(i - 1)] } : {}),
  }));
}

export interface Served {
  url: string;
  pid: number;
  /** The end of its log, for an error message. */
  logTail(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * `autoctrl serve -c CONFIG`, its output in `log`; resolves once it listens.
 * `wrap` is a command that execs the rest of its arguments (so the pid stays
 * the daemon's), e.g. to give it a namespace of its own.
 */
export async function serve(config: string, log: string, wrap: string[] = []): Promise<Served> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (npm run build)`);
  // BENCH_CPU_PROF=DIR: the daemon writes a V8 CPU profile there when it stops (where a figure's time goes).
  const prof = process.env.BENCH_CPU_PROF;
  const flags = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`];
  const argv = [process.execPath, ...flags, CLI, '-c', config, 'serve'];
  const [command = process.execPath, ...args] = [...wrap, ...argv];
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const out = createWriteStream(log);
  let tail = '';
  const keep = (chunk: Buffer) => {
    out.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const logTail = () => tail.split('\n').slice(-15).join('\n');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not listen within 60 s'), 60_000);
    const listening = () => {
      const m = / at (http:\/\/\S+)/.exec(tail);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout.off('data', listening);
        child.off('exit', exited);
        resolve(m[1]);
      }
    };
    const exited = (code: number | null, signal: string | null) =>
      fail(`exited (${code ?? signal})`);
    function fail(why: string) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`autoctrl serve ${why}; its output ends with:\n${logTail()}`));
    }
    child.stdout.on('data', listening);
    child.once('exit', exited);
  });
  const stop = () => stopChild(child).then(() => new Promise<void>((r) => out.end(r)));
  return { url, pid: child.pid as number, logTail, stop };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

/**
 * One measurement against a real daemon: a scratch directory, a fresh store
 * (`--store`); `deploy` writes the deployment file for that store and a free
 * port (`writeDeployment(dir, { ...where, ... })`); `measure` gets the
 * running daemon. The daemon is stopped, the store dropped and the directory
 * removed whatever happens; on failure the end of the daemon's log goes to
 * stderr.
 */
export async function withDaemon<T>(
  store: string,
  deploy: (dir: string, where: { store: string; port: number }) => string | Promise<string>,
  measure: (daemon: Served, config: string, dir: string) => Promise<T>,
): Promise<T> {
  const s = scratch('autoctrl-bench-');
  try {
    const fresh = await freshStore(store, s.dir);
    try {
      const config = await deploy(s.dir, { store: fresh.url, port: await freePort() });
      const daemon = await serve(config, join(s.dir, 'serve.log'));
      try {
        return await measure(daemon, config, s.dir);
      } catch (err) {
        process.stderr.write(`autoctrl serve's log ends with:\n${daemon.logTail()}\n`);
        throw err;
      } finally {
        await daemon.stop();
      }
    } finally {
      await fresh.drop();
    }
  } finally {
    s.remove();
  }
}

/**
 * Runs `autoctrl -c CONFIG ARGS`; resolves with its stdout and when its first
 * output arrived (ms since the epoch: `runs add` prints once the run is
 * stored, before it wakes the daemon); rejects with its stderr.
 */
export function autoctrl(
  config: string,
  args: string[],
): Promise<{ stdout: string; firstOutputAt: number }> {
  const child = spawn(process.execPath, [CLI, '-c', config, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  let firstOutputAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    firstOutputAt ||= Date.now();
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve({ stdout, firstOutputAt });
      else reject(new Error(`autoctrl ${args.join(' ')} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** Polls `check` every `everyMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `fetch`, tried again once after a network error (a busy loopback server may reset a kept-alive connection). */
async function fetchAgain(url: string | URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    await new Promise((r) => setTimeout(r, 200));
    return fetch(url, init);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetchAgain(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** One job's line of the ledger; `at` in ns since the epoch. */
export interface LedgerLine {
  kind: 'start' | 'end';
  at: bigint;
  /** `task run` */
  label: string;
}

export function readLedger(file: string): LedgerLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines: LedgerLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(start|end) (\d+) (.*)$/.exec(line);
    if (m)
      lines.push({
        kind: m[1] as 'start' | 'end',
        at: BigInt(m[2] as string),
        label: m[3] as string,
      });
  }
  return lines;
}

/** Waits until `want` jobs have ended in the ledger (a cheap read every 100 ms). */
export function ledgerEnds(file: string, want: number, timeoutMs: number): Promise<LedgerLine[]> {
  return waitFor(
    `${want} jobs ended in ${file}`,
    () => {
      const lines = readLedger(file);
      return lines.filter((l) => l.kind === 'end').length >= want ? lines : undefined;
    },
    timeoutMs,
  );
}

/** First job start → last job end, in ms: the throughput reading, the same for every system. */
export function span(lines: readonly LedgerLine[]): number {
  let first: bigint | null = null;
  let last: bigint | null = null;
  for (const l of lines) {
    if (l.kind === 'start' && (first === null || l.at < first)) first = l.at;
    if (l.kind === 'end' && (last === null || l.at > last)) last = l.at;
  }
  if (first === null || last === null) throw new Error('the ledger is empty');
  return Number(last - first) / 1e6;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system, all threads) a process has used so far, in ms; Linux clock ticks of 10 ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** An event of `/api/events/stream`, `at` (the store's time) in ms since the epoch. */
export interface StreamEvent {
  id: number;
  at: number;
  /** When this process read it from the stream (ms since the epoch). */
  receivedAt: number;
  entity: string;
  entityId: string;
  task: string | null;
  to: string | null;
}

/**
 * Follows the daemon's live event stream from now on: `next(match)` resolves
 * with the first event (received from now on, or already buffered) that
 * matches. `close()` ends the connection.
 */
export async function followEvents(base: string) {
  const controller = new AbortController();
  const res = await fetchAgain(new URL('/api/events/stream', base), { signal: controller.signal });
  if (!res.ok || res.body === null) throw new Error(`event stream: ${res.status}`);
  const buffered: StreamEvent[] = [];
  const waiters: { match: (e: StreamEvent) => boolean; resolve: (e: StreamEvent) => void }[] = [];
  const take = (e: StreamEvent) => {
    const i = waiters.findIndex((w) => w.match(e));
    if (i < 0) buffered.push(e);
    else waiters.splice(i, 1)[0]?.resolve(e);
  };
  const reading = (async () => {
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      let cut = text.indexOf('\n\n');
      while (cut >= 0) {
        const data = text
          .slice(0, cut)
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        text = text.slice(cut + 2);
        cut = text.indexOf('\n\n');
        if (data === '') continue;
        const e = JSON.parse(data) as Omit<StreamEvent, 'at' | 'receivedAt'> & { at: string };
        take({ ...e, at: Date.parse(e.at), receivedAt: Date.now() });
      }
    }
  })().catch(() => {});
  return {
    /** Events received and not taken by `next`. */
    get pending(): number {
      return buffered.length;
    },
    next(match: (e: StreamEvent) => boolean, timeoutMs: number): Promise<StreamEvent> {
      const i = buffered.findIndex(match);
      if (i >= 0) return Promise.resolve(buffered.splice(i, 1)[0] as StreamEvent);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching event within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (e: StreamEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        waiters.push(waiter);
      });
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
