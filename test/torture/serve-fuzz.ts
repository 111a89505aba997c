import { join } from 'node:path';
import { pino } from 'pino';
import { runFromOptions } from '../../src/cli/runs.ts';
import { serveDeployment } from '../../src/cli/serve.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { deploymentOfText } from '../../src/config/load.ts';
import { namedSecrets } from '../../src/config/secrets.ts';
import type { Deployment } from '../../src/config/types.ts';
import type { Daemon } from '../../src/daemon.ts';
import { ExecutorUnavailableError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { openRuntime } from '../../src/runtime.ts';
import { closeRuntime, openHandles, sleep } from '../helpers.ts';
import { processesWhere } from '../process-leaks.ts';

/** On a loaded 2-core machine a first pass takes well under a second; this is for a pass that never ends. */
const FIRST_PASS_MS = 30_000;
const STOP_MS = 30_000;
const SETTLE_MS = 5_000;
/** Routes every page load asks for: a 5xx on any of them is a deployment `serve` cannot run. */
const ROUTES = ['/api/health', '/api/overview', '/api/tasks'];

const REFUSED = 'refused by serve';
const RUN = runFromOptions('1', { fill: '1', lumi: '2500', type: 'collisions' });

/**
 * The secrets the file names (its `*_env` keys), as its README asks to
 * export them before `serve`: `validate` checks the file, not what is
 * exported, and `serve` refuses to start without them, by design.
 */
function secretsOf(text: string): Record<string, string> {
  return Object.fromEntries(namedSecrets(text).map((s) => [s.name, 'fuzz-not-a-secret']));
}

/** How one start went: `failure` null when `serve` ran it; `outcome` how it ended, for the table. */
export interface ServeResult {
  outcome: string;
  failure: string | null;
}

/**
 * Runs the text of a deployment file as `autoctrl serve` would, isolated in
 * `dir`: its own SQLite store and data directory there, the server on a free
 * loopback port, no notifiers or exports (they would post to real chat
 * channels and databases). Sources and executors stay as written: a source
 * that cannot reach its service and a batch system that is not there are
 * part of what `serve` must survive. It must start (or be refused by the
 * checks `validate` makes too), finish a first pass, answer the page's
 * routes without a 5xx, and stop leaving no job process and no handle.
 */
export async function serveOnce(text: string, file: string, dir: string): Promise<ServeResult> {
  let loaded: Deployment;
  try {
    loaded = await deploymentOfText(text, file);
  } catch (err) {
    // `validate` makes the same checks (paths on this machine, plugins): it refuses this file too.
    if (err instanceof ConfigError) return { outcome: 'refused by validate', failure: null };
    return { outcome: 'threw', failure: `loading threw ${describe(err)}` };
  }
  const deployment = isolated(loaded, dir);
  const secrets = secretsOf(text);
  const unset = Object.keys(secrets).filter((k) => process.env[k] === undefined);
  for (const k of unset) process.env[k] = secrets[k];
  const rejections = watchUnhandled();
  const handlesBefore = openHandles();
  const childrenBefore = childrenNow();
  let result: ServeResult;
  let leftover: string[];
  let leaks: string[];
  try {
    result = await startAndStop(deployment);
    // Looked at even after a failure: what it left would be blamed on the next start.
    leftover = result.outcome === REFUSED ? [] : await endJobs(deployment, dir, childrenBefore);
    // Also the time for what outlived the stop (a source poll under way) to settle or fail.
    leaks = await handlesLeft(handlesBefore);
  } finally {
    rejections.stop();
    for (const k of unset) delete process.env[k];
  }
  const after = [
    ...rejections.seen.map((r) => `unhandled rejection: ${r}`),
    ...(leftover.length > 0 ? [`job processes left: ${leftover.join(', ')}`] : []),
    ...(leaks.length > 0 ? [`handles left: ${leaks.join(', ')}`] : []),
  ];
  if (result.failure !== null || after.length === 0) return result;
  return { outcome: 'left something', failure: after.join('; ') };
}

async function startAndStop(deployment: Deployment): Promise<ServeResult> {
  const log = recentErrors();
  let daemon: Daemon;
  try {
    daemon = await serveDeployment(deployment, { logger: log.logger, host: '127.0.0.1', port: 0 });
  } catch (err) {
    return { outcome: REFUSED, failure: `serve refused it: ${describe(err)}` };
  }
  let stopped = false;
  try {
    if (!(await within(FIRST_PASS_MS, async () => daemon.controller.lastPass !== null)))
      return {
        outcome: 'no first pass',
        failure: `no first pass in ${FIRST_PASS_MS / 1000} s${log.last()}`,
      };
    // A run as `autoctrl runs add` writes it: deployments without a source get work to submit too.
    await daemon.runtime.store.upsertRuns([RUN], 'cli:fuzz');
    const added = Date.now();
    daemon.controller.trigger({ full: true });
    const passedSince = () => (daemon.controller.lastPass?.startedAt ?? 0) >= added;
    if (!(await within(FIRST_PASS_MS, async () => passedSince())))
      return {
        outcome: 'no pass',
        failure: `no pass over an added run in ${FIRST_PASS_MS / 1000} s${log.last()}`,
      };
    for (const route of ROUTES) {
      const res = await fetch(`${daemon.url}${route}`, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status >= 500)
        return { outcome: '5xx', failure: `${route} gave ${res.status}${log.last()}` };
    }
    stopped = true;
    if (!(await settles(daemon.stop(), STOP_MS)))
      return { outcome: 'stop hung', failure: `stop took over ${STOP_MS / 1000} s` };
    return { outcome: 'ran', failure: null };
  } catch (err) {
    return { outcome: 'threw', failure: `${describe(err)}${log.last()}` };
  } finally {
    if (!stopped) await settles(daemon.stop(), STOP_MS).catch(() => undefined);
  }
}

/** The deployment with everything that would meet another deployment moved into `dir` or dropped. */
function isolated(d: Deployment, dir: string): Deployment {
  return {
    ...d,
    store: `sqlite:${join(dir, 'state.db')}`,
    dataDir: join(dir, 'data'),
    notify: {},
    exports: {},
  };
}

/**
 * Jobs outlive their controller by design (the next start adopts them): the
 * fuzz ends them, by a second opening of the store as the tests do, then
 * lists any process still working in `dir`.
 */
async function endJobs(
  deployment: Deployment,
  dir: string,
  childrenBefore: ReadonlySet<number>,
): Promise<string[]> {
  const rt = await openRuntime(deployment, { logger: silentLogger() });
  await closeRuntime(rt, (err) => err instanceof ExecutorUnavailableError);
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const left = processesIn(dir, childrenBefore);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}

/**
 * Processes still working for the start in `dir`: jobs (their environment
 * names their work directory there) and children of this process that
 * were not there before it (a job launcher, a command of a source).
 */
function processesIn(dir: string, childrenBefore: ReadonlySet<number>): string[] {
  const left = processesWhere(
    (p) => p.environ.includes(dir) || (p.ppid === process.pid && !childrenBefore.has(p.pid)),
  );
  return [...left].map(([pid, cmd]) => `${pid} ${cmd}`);
}

function childrenNow(): Set<number> {
  return new Set(processesWhere((p) => p.ppid === process.pid).keys());
}

/** Handles open now that were not before the start, once closing sockets had time to close. */
async function handlesLeft(before: string[]): Promise<string[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const now = openHandles();
    for (const h of before) {
      const i = now.indexOf(h);
      if (i >= 0) now.splice(i, 1);
    }
    if (now.length === 0 || Date.now() > deadline) return now;
    await sleep(50);
  }
}

/** The error-level lines the daemon logged, the last of which explains a pass that never came. */
function recentErrors(): { logger: pino.Logger; last(): string } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'error' },
    {
      write(line: string) {
        lines.push(line.slice(0, 300));
        if (lines.length > 3) lines.shift();
      },
    },
  );
  return { logger, last: () => (lines.length === 0 ? '' : `; last logged: ${lines.join(' ')}`) };
}

/** Promise rejections no one handled while the daemon ran: each is a crash of a real `serve`. */
function watchUnhandled(): { seen: string[]; stop(): void } {
  const seen: string[] = [];
  const listener = (reason: unknown) => seen.push(describe(reason));
  process.on('unhandledRejection', listener);
  return { seen, stop: () => process.off('unhandledRejection', listener) };
}

async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return `${err.name}${typeof code === 'string' ? ` (${code})` : ''}: ${err.message.split('\n')[0]}`;
}
