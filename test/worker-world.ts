import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { jobToken } from '../src/app/tokens.ts';
import { jobWorkDir } from '../src/engine/launch.ts';
import { silentLogger } from '../src/logger.ts';
import type { Job } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { closeRuntime, deployment, task, until } from './helpers.ts';

export const CLIENT = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'autoctrl-job');

/**
 * A real store, local executor and HTTP server on loopback, counting the
 * requests it gets. `hold`'s jobs run until their `go` file appears, so a
 * test can report for a job that is running.
 */
export interface WorkerWorld {
  rt: Runtime;
  url: string;
  requests: { n: number };
  /** A running job of `hold` for a new run. */
  runningJob(): Promise<Job>;
  /** The environment autoctrl gives that job (only what the client reads, and PATH). */
  jobEnv(job: Job, over?: Record<string, string>): Record<string, string>;
  /** Lets the job's process end, and waits for the executor to see it. */
  release(job: Job): Promise<void>;
  stopServer(): Promise<void>;
  close(): Promise<void>;
}

export async function workerWorld(dir: string): Promise<WorkerWorld> {
  const hold = task('hold', {
    command: [
      'sh',
      '-c',
      'cd "$AUTOCTRL_OUTPUT_DIR/.." && while [ ! -f go ]; do sleep 0.05; done; touch gone',
    ],
  });
  const rt = await openRuntime(deployment(dir, [hold]), { logger: silentLogger() });
  const { app, close: closeApp } = createServerApp(rt, { trigger: () => {}, health: () => null });
  const requests = { n: 0 };
  const server = await listen((req) => {
    requests.n++;
    return app.fetch(req);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  rt.engine.ctx.serverUrl = url;
  let run = 0;
  let serving = true;
  const stopServer = async () => {
    if (!serving) return;
    serving = false;
    closeApp();
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  };
  return {
    rt,
    url,
    requests,
    async runningJob() {
      run++;
      await rt.store.upsertRuns(
        [{ run, fill: run, start: 1_000, end: 2_000, lumi: 1, type: 'collisions', meta: {} }],
        'test',
      );
      return until(
        async () => {
          await rt.engine.pass();
          const [inst] = await rt.store.instancesForRuns('prompt', 'hold', [run]);
          const [job] = inst ? await rt.store.jobsForInstance(inst.id) : [];
          return job?.status === 'running' ? job : undefined;
        },
        // Generous: a loaded CI machine may take seconds to start a process.
        60_000,
        `a running job for run ${run}`,
      );
    },
    jobEnv(job, over = {}) {
      const work = jobWorkDir(rt.engine.ctx, job);
      return {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        AUTOCTRL_URL: url,
        AUTOCTRL_JOB: String(job.id),
        AUTOCTRL_ATTEMPT: String(job.attempt),
        AUTOCTRL_TOKEN: jobToken(rt.engine.ctx.tokenSecret, job.id, job.attempt),
        AUTOCTRL_OUTPUT_DIR: join(work, 'out'),
        AUTOCTRL_REPORT_BACKOFF: '0',
        AUTOCTRL_REPORT_TRIES: '2',
        ...over,
      };
    },
    async release(job) {
      const work = jobWorkDir(rt.engine.ctx, job);
      writeFileSync(join(work, 'go'), '');
      await until(async () => existsSync(join(work, 'gone')), 60_000, `job ${job.id} to end`);
      await until(
        async () => {
          await rt.engine.pass();
          const now = await rt.store.getJob(job.id);
          return now?.status === 'done' || now?.status === 'failed';
        },
        60_000,
        `job ${job.id} to settle`,
      );
    },
    stopServer,
    async close() {
      await stopServer();
      await closeRuntime(rt);
    },
  };
}

function listen(fetch: (req: Request) => Response | Promise<Response>): Promise<Server> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(server as Server),
    );
  });
}

/** A server answering the given statuses in turn (then 200), counting requests. */
export async function scriptedServer(
  statuses: number[],
): Promise<{ url: string; requests: { n: number }; close(): Promise<void> }> {
  const requests = { n: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = statuses[requests.n++] ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { job: {} } : { message: `status ${status}` }));
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

export interface ClientResult {
  code: number;
  stderr: string;
}

/** Runs `bin/autoctrl-job` with `shell` (argv, never a command line) and only the env given. */
export function runClient(
  shell: string[],
  args: string[],
  env: Record<string, string>,
): Promise<ClientResult> {
  const [program, ...pre] = shell;
  return new Promise((resolve) => {
    execFile(program ?? 'sh', [...pre, CLIENT, ...args], { env }, (err, _out, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stderr });
    });
  });
}

/** A new directory of `tools`, each a link to `target(tool)`: a PATH with only those. */
export function toolDir(dir: string, tools: string[], target: (tool: string) => string): string {
  mkdirSync(dir);
  for (const t of tools) symlinkSync(target(t), join(dir, t));
  return dir;
}

/** Where `program` is on PATH, or null. */
export function which(program: string): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return null;
  }
}

/**
 * Why a test cannot run for want of a Debian package, or false when it can.
 * In CI (`AUTOCTRL_REQUIRE_SERVICES=1`) a missing one is a failure, not a skip.
 */
export function programMissing(program: string, pkg: string): string | false {
  if (which(program) !== null) return false;
  const why = `${program} is not installed: apt-get install ${pkg}`;
  if (process.env.AUTOCTRL_REQUIRE_SERVICES === '1') throw new Error(why);
  return why;
}

/** What the client runs besides the shell and the HTTP client. */
export const CLIENT_TOOLS = [
  'awk',
  'cat',
  'dirname',
  'grep',
  'mkdir',
  'mktemp',
  'rm',
  'rmdir',
  'sed',
  'sleep',
  'tail',
];
