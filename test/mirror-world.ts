import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDeployment } from '../src/config/load.ts';
import { Controller } from '../src/engine/controller.ts';
import { silentLogger } from '../src/logger.ts';
import type { Output } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { openSources } from '../src/sources/open.ts';
import { sleep } from './helpers.ts';

const JOB_BIN = fileURLToPath(new URL('../bin/autoctrl-job', import.meta.url));

/**
 * A two-task chain as a calibration team has it: `reco` writes a file and a
 * count per run, `calib` after it writes its constant (the task's
 * `VERSION`) and reports it. Prod and dev are two such deployments; dev
 * differs in calib's version, which is what diff-env must show.
 */
export function deploymentYaml(o: {
  environment: string;
  store?: string;
  version: string;
  mirror?: string;
  extra?: string;
}): string {
  const reco = `printf 'reco %s\\n' "$2" > "$AUTOCTRL_OUTPUT_DIR/reco.txt" && "$1" output reco.txt && "$1" field hits=$((100 + $2))`;
  const calib = `printf 'constant %s\\n' "$VERSION" > "$AUTOCTRL_OUTPUT_DIR/calib.txt" && "$1" output calib.txt && "$1" field constant=$VERSION`;
  return [
    'name: calib',
    `environment: ${o.environment}`,
    ...(o.store ? [`store: ${JSON.stringify(o.store)}`] : []),
    'engine: { interval: 1h }',
    ...(o.mirror ? [o.mirror] : []),
    ...(o.extra ? [o.extra] : []),
    'tasks:',
    '  reco:',
    `    command: [sh, -c, ${JSON.stringify(reco)}, sh, ${JSON.stringify(JOB_BIN)}, "{run}"]`,
    '  calib:',
    '    after: [reco]',
    `    env: { VERSION: "${o.version}" }`,
    `    command: [sh, -c, ${JSON.stringify(calib)}, sh, ${JSON.stringify(JOB_BIN)}]`,
    '',
  ].join('\n');
}

export function writeDeployment(dir: string, yaml: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(file, yaml);
  return file;
}

export const sha256File = (path: string) =>
  createHash('sha256').update(readFileSync(path)).digest('hex');

/** Opens a deployment file with its sources, as `autoctrl serve` would. */
export async function openDeployment(file: string) {
  const d = await loadDeployment(file);
  const rt = await openRuntime(d, { logger: silentLogger() });
  const sources = await openSources(d, silentLogger());
  const controller = new Controller(rt, sources);
  return {
    rt,
    controller,
    sources,
    close: async () => {
      await controller.stop();
      await rt.close();
    },
  };
}

/**
 * Polls the sources and runs passes until every instance of the prompt
 * campaign for `runs` is done or failed, for each task; returns the statuses.
 */
export async function runUntilSettled(
  w: {
    rt: Runtime;
    controller: Controller;
    sources: Map<string, import('../src/sources/contract.ts').Source>;
  },
  runs: readonly number[],
  timeoutMs = 60_000,
): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  const tasks = w.rt.deployment.tasks.map((t) => t.name);
  for (;;) {
    for (const [name, s] of w.sources) await w.controller.pollSource(name, s);
    await w.rt.engine.pass();
    const statuses = new Map<string, string>();
    for (const t of tasks) {
      for (const i of await w.rt.store.instancesForRuns('prompt', t, runs)) {
        for (const r of i.runs) statuses.set(`${t}/${r}`, i.status);
      }
    }
    const settled = [...statuses.values()].every((s) => s === 'done' || s === 'failed');
    if (statuses.size === tasks.length * runs.length && settled) return statuses;
    if (Date.now() > deadline) {
      throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify([...statuses])}`);
    }
    await sleep(50);
  }
}

type World = Awaited<ReturnType<typeof openDeployment>>;

/**
 * Dev has prod's runs, took reco from prod (the same outputs and fields, on
 * the mirror executor) and ran calib itself (local executor, dev's version,
 * in dev's data area).
 */
export async function assertDevTookProd(
  dev: World,
  runs: readonly number[],
  prodReco: readonly Output[],
  devData: string,
): Promise<void> {
  const statuses = await runUntilSettled(dev, runs);
  assert.ok(
    [...statuses.values()].every((s) => s === 'done'),
    JSON.stringify([...statuses]),
  );
  const have = await dev.rt.store.listRuns({});
  assert.deepEqual(have.map((r) => r.run).sort(), [...runs]);
  const devReco = await dev.rt.store.listOutputs({ task: 'reco', limit: 100 });
  assert.deepEqual(devReco.map((o) => o.path).sort(), prodReco.map((o) => o.path).sort());
  const first = runs[0] as number;
  const [recoInst] = await dev.rt.store.instancesForRuns('prompt', 'reco', [first]);
  const [recoJob] = await dev.rt.store.jobsForInstance(recoInst?.id ?? 0);
  assert.equal(recoJob?.executor, 'mirror');
  assert.equal(recoJob?.fields.hits, 100 + first);
  const devCalib = await dev.rt.store.listOutputs({ task: 'calib', limit: 100 });
  assert.equal(devCalib.length, runs.length);
  for (const o of devCalib) assert.ok(o.path.startsWith(devData), o.path);
  const [calibInst] = await dev.rt.store.instancesForRuns('prompt', 'calib', [first]);
  const [calibJob] = await dev.rt.store.jobsForInstance(calibInst?.id ?? 0);
  assert.equal(calibJob?.executor, 'local');
  assert.equal(calibJob?.fields.constant, 1.5);
}
