/**
 * `npm run torture`: what a careless or hostile user does, at volume.
 * Fuzzed deployment files through `validate`, the first accepted ones run
 * by `serve`, fuzzed API requests over every
 * route with and without tokens, SIGKILLs of a real controller under load,
 * a full disk during processing (as root: it mounts a size-limited tmpfs);
 * prints what was tried, how many, what failed, writes the table to
 * docs/reliability.md, and exits 1 on a failure. Smaller runs of the same
 * are `test/torture-*.test.ts`.
 *
 *   npm run torture -- [--configs 10000] [--starts 300] [--requests 20000] [--kills 50]
 *                      [--runs 300] [--disk-runs 100] [--seed 1]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzApi } from '../test/torture/api-fuzz.ts';
import { fuzzConfigs } from '../test/torture/config-fuzz.ts';
import { fullDisk, fullDiskMissing } from '../test/torture/full-disk.ts';
import { killChain } from '../test/torture/kill-chain.ts';
import { formatTable, type TortureRow } from '../test/torture/rows.ts';

const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '10000' },
    starts: { type: 'string', default: '300' },
    requests: { type: 'string', default: '20000' },
    kills: { type: 'string', default: '50' },
    runs: { type: 'string', default: '300' },
    'disk-runs': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
  },
});
const seed = Number(values.seed);
const started = Date.now();
// Other work on the machine slows every figure below: said beside them.
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
const FUZZED =
  'a failure is a throw, a problem without FILE:LINE:COL, a 5xx or a request left unanswered';
const STARTS =
  'a failure is a throw or a problem without FILE:LINE:COL; for a file `serve` ran (in its own store, data directory and loopback port, without notifiers or exports, with a run added by hand), a refusal at start, no first pass, a 5xx from /api/health, /api/overview or /api/tasks, a stop that hangs, a job process or a handle left after it, or an unhandled rejection';
const parts: { title: string; note: string; rows: TortureRow[]; ms: number }[] = [];

let t = Date.now();
const configs = await fuzzConfigs(Number(values.configs), seed, Number(values.starts));
parts.push({
  title: `${values.configs} fuzzed deployment files (mutations of examples/), the first ${values.starts} accepted run by serve`,
  note: STARTS,
  rows: configs.list(),
  ms: Date.now() - t,
});

t = Date.now();
const dir = await mkdtemp(join(tmpdir(), 'autoctrl-torture-'));
try {
  const api = await fuzzApi(Number(values.requests), dir, seed);
  parts.push({
    title: `${values.requests} fuzzed API requests (every route of /api/openapi.json, with and without tokens)`,
    note: FUZZED,
    rows: api.list(),
    ms: Date.now() - t,
  });
  t = Date.now();
  const killDir = join(dir, 'kills');
  await mkdir(killDir);
  const kills = await killChain(Number(values.runs), Number(values.kills), killDir, seed);
  parts.push({
    title: `${values.kills} SIGKILLs of the controller while ${values.runs} runs × a 3-task chain run`,
    note: 'a failure is a job attempt run twice or lost (against the ledger the jobs append to), or a run not through the chain',
    rows: kills.list(),
    ms: Date.now() - t,
  });
  t = Date.now();
  const noDisk = fullDiskMissing();
  const disk = [];
  for (const what of ['store', 'data'] as const) {
    if (noDisk !== null) break;
    disk.push(...(await fullDisk(what, Number(values['disk-runs']), join(dir, what))).list());
  }
  parts.push({
    title: `A full disk during processing (${values['disk-runs']} runs × a 3-task chain, a size-limited tmpfs filled for 5 s)`,
    note:
      noDisk === null
        ? 'a failure is a daemon that exits, a run failed for good, a job attempt run twice or lost, or a run not through the chain once space is freed'
        : `not run: ${noDisk}`,
    rows: disk,
    ms: Date.now() - t,
  });
} finally {
  await rm(dir, { recursive: true, force: true });
}

const failed = parts.flatMap((p) => p.rows).reduce((n, r) => n + r.failed, 0);
const sections = parts.map(
  (p) =>
    `## ${p.title}\n\n${(p.ms / 1000).toFixed(0)} s; ${p.note}.\n\n${formatTable(p.rows.toSorted((a, b) => a.what.localeCompare(b.what)))}\n`,
);
const report = `# Reliability: the torture run

Latest \`npm run torture -- --configs ${values.configs} --starts ${values.starts} --requests ${values.requests} --kills ${values.kills} --runs ${values.runs} --disk-runs ${values['disk-runs']} --seed ${seed}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${((Date.now() - started) / 1000).toFixed(0)} s: **${failed} failures**.
Load average ${load} (1, 5, 15 min) on ${cpus().length} cores when it started.
Smaller runs of the same are in \`npm test\` (\`test/torture-*.test.ts\`).

${sections.join('\n')}`;
process.stdout.write(`${report}\n`);
await writeFile(new URL('../docs/reliability.md', import.meta.url), report);
process.exitCode = failed === 0 ? 0 : 1;
