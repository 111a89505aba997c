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
  opts: { store: string; engine: string; slots?: number },
): ChainWorld {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const ledger = join(dir, 'ledger.txt');
  writeFileSync(ledger, '');
  const task = (name: string, after: string | null) =>
    `  ${name}:\n${after ? `    after: [${after}]\n` : ''}    command: [sh, -c, '${JOB}']\n    retries: 1\n    retry_delay: 50ms\n    env: { LEDGER: "${ledger}" }\n`;
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    `store: ${opts.store}\nexecutors:\n  local: { type: local, slots: ${opts.slots ?? 8} }\nengine: ${opts.engine}\ntasks:\n${task('reco', null)}${task('calib', 'reco')}${task('valid', 'calib')}`,
  );
  return { file, ledger };
}

/** `logLevel` other than `error` pipes the controller's log (stdout) for the test to read. */
export function startController(file: string, logLevel = 'error'): ChildProcess {
  return spawn(process.execPath, [CLI, 'serve', '-c', file, '--port', '0'], {
    stdio: ['ignore', logLevel === 'error' ? 'ignore' : 'pipe', 'inherit'],
    env: { ...process.env, AUTOCTRL_LOG_LEVEL: logLevel },
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

/** A seeded generator: a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * The audit: every instance done, every job attempt the store knows ran
 * exactly once according to the ledger, none lost, and retries happened.
 */
export async function auditLedger(store: StateStore, ledger: string): Promise<void> {
  const lines = readFileSync(ledger, 'utf8').trim().split('\n');
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no job attempt ran twice');
  const jobs = [];
  for (const task of TASKS) {
    for (const inst of await store.findInstances({ task })) {
      assert.equal(inst.status, 'done', `${task} ${inst.groupKey}`);
      jobs.push(...(await store.jobsForInstance(inst.id)));
    }
  }
  for (const j of jobs) {
    assert.ok(j.status === 'done' || j.status === 'failed', `job ${j.id} settled`);
    assert.ok(
      counts.has(`${j.id} ${j.attempt}`),
      `job ${j.id} attempt ${j.attempt} (${j.status}: ${j.reason}) ran`,
    );
    assert.equal(j.reason?.startsWith('lost') ?? false, false, `job ${j.id} was not lost`);
  }
  assert.equal(lines.length, jobs.length, 'every ledger line is a job the store knows');
  assert.ok(
    jobs.some((j) => j.attempt === 2),
    'retries happened',
  );
}
