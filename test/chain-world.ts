import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateStore } from '../src/store/contract.ts';

/**
 * A deployment of a 3-task chain whose every job appends "<job id> <attempt>"
 * to a ledger (one job in seven fails its first attempt, so retries happen),
 * run by real `autoctrl serve` processes: what the crash and multi-controller
 * tests kill at random and then audit.
 */
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
export const TASKS = ['reco', 'calib', 'valid'];

const JOB =
  'echo "$AUTOCTRL_JOB $AUTOCTRL_ATTEMPT" >> "$LEDGER"; sleep 0.05; if [ $((AUTOCTRL_JOB % 7)) -eq 0 ] && [ "$AUTOCTRL_ATTEMPT" = 1 ]; then exit 1; fi';

export interface ChainWorld {
  file: string;
  ledger: string;
}

export function writeChainWorld(
  dir: string,
  opts: { store: string; engine: string; slots?: number; dataDir?: string },
): ChainWorld {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const ledger = join(dir, 'ledger.txt');
  writeFileSync(ledger, '');
  const task = (name: string, after: string | null) =>
    `  ${name}:\n${after ? `    after: [${after}]\n` : ''}    command: [sh, -c, '${JOB}']\n    retries: 1\n    retry_delay: 50ms\n    env: { LEDGER: "${ledger}" }\n`;
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    `store: ${opts.store}\n${opts.dataDir ? `data_dir: ${opts.dataDir}\n` : ''}executors:\n  local: { type: local, slots: ${opts.slots ?? 8} }\nengine: ${opts.engine}\ntasks:\n${task('reco', null)}${task('calib', 'reco')}${task('valid', 'calib')}`,
  );
  return { file, ledger };
}

/**
 * `logLevel` other than `error` pipes the controller's log (stdout) for the
 * test to read; `env` adds to its environment (`AUTOCTRL_HOSTNAME` plays a host).
 */
export function startController(
  file: string,
  logLevel = 'error',
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, [CLI, 'serve', '-c', file, '--port', '0'], {
    stdio: ['ignore', logLevel === 'error' ? 'ignore' : 'pipe', 'inherit'],
    env: { ...process.env, ...env, AUTOCTRL_LOG_LEVEL: logLevel },
  });
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export function endedRuns(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    run: 1000 + i,
    fill: 1 + Math.floor(i / 20),
    lumi: 5,
    start: 1,
    end: 2,
  }));
}

export async function chainDone(store: StateStore, runs: number): Promise<boolean> {
  return (await store.findInstances({ task: 'valid', statuses: ['done'] })).length === runs;
}

/**
 * Waits for every run to reach the end of the chain while the chain moves:
 * fails only after `stallMs` without a new instance done (a stall, not a slow
 * machine: under load a whole chain takes minutes), or after `capMs` in all.
 */
export async function awaitChain(
  store: StateStore,
  runs: number,
  opts: { stallMs: number; capMs: number },
): Promise<void> {
  const started = Date.now();
  let seen = -1;
  let movedAt = started;
  for (;;) {
    const done = (await store.findInstances({ statuses: ['done'] })).length;
    if (await chainDone(store, runs)) return;
    if (done !== seen) {
      seen = done;
      movedAt = Date.now();
    }
    const now = Date.now();
    if (now - movedAt > opts.stallMs || now - started > opts.capMs) {
      const where = `${seen} instances done, none for ${Math.round((now - movedAt) / 1000)} s, ${Math.round((now - started) / 1000)} s in all`;
      throw new Error(`not every run reached the end of the chain: ${where}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A seeded generator: a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/** What the audit found: the job attempts the store knows, and each one that went wrong, by how. */
export interface ChainAudit {
  attempts: number;
  retries: number;
  /** `<job> <attempt>` that the ledger has more than once. */
  twice: string[];
  /** Settled job attempts the store knows that never ran, or that it says were lost. */
  lost: string[];
  /** Instances not done, jobs not settled. */
  unfinished: string[];
  /** Ledger lines minus job attempts the store knows (a job the store forgot). */
  strangers: number;
}

/** Every job attempt the store knows against the ledger its jobs append to. */
export async function auditChain(store: StateStore, ledger: string): Promise<ChainAudit> {
  const lines = readFileSync(ledger, 'utf8').trim().split('\n').filter(Boolean);
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  const audit: ChainAudit = {
    attempts: 0,
    retries: 0,
    twice: [...counts].filter(([, n]) => n > 1).map(([l]) => l),
    lost: [],
    unfinished: [],
    strangers: 0,
  };
  const known = new Set<string>();
  for (const task of TASKS) {
    for (const inst of await store.findInstances({ task })) {
      if (inst.status !== 'done') audit.unfinished.push(`${task} ${inst.groupKey} ${inst.status}`);
      for (const j of await store.jobsForInstance(inst.id)) {
        known.add(`${j.id} ${j.attempt}`);
        audit.attempts++;
        if (j.attempt > 1) audit.retries++;
        const settled = j.status === 'done' || j.status === 'failed';
        if (!settled) audit.unfinished.push(`job ${j.id} ${j.status}`);
        else if (!counts.has(`${j.id} ${j.attempt}`) || (j.reason?.startsWith('lost') ?? false))
          audit.lost.push(`job ${j.id} attempt ${j.attempt} (${j.status}: ${j.reason})`);
      }
    }
  }
  audit.strangers = [...counts.keys()].filter((l) => !known.has(l)).length;
  return audit;
}

/**
 * The audit: every instance done, every job attempt the store knows ran
 * exactly once according to the ledger, none lost, and retries happened.
 */
export async function auditLedger(store: StateStore, ledger: string): Promise<void> {
  const audit = await auditChain(store, ledger);
  assert.deepEqual(audit.twice, [], 'no job attempt ran twice');
  assert.deepEqual(audit.unfinished, [], 'every instance done, every job settled');
  assert.deepEqual(audit.lost, [], 'every job attempt ran and none was lost');
  assert.equal(audit.strangers, 0, 'every ledger line is a job the store knows');
  assert.ok(audit.retries > 0, 'retries happened');
}
