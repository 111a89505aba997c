/**
 * `npm run torture`: what a careless or hostile user does, at volume.
 * Fuzzed deployment files through `validate`, fuzzed API requests over every
 * route with and without tokens; prints what was tried, how many, what
 * failed, writes the table to docs/reliability.md, and exits 1 on a failure.
 * Smaller runs of the same are `test/torture-*.test.ts`.
 *
 *   npm run torture -- [--configs 10000] [--requests 20000] [--seed 1]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzApi } from '../test/torture/api-fuzz.ts';
import { fuzzConfigs } from '../test/torture/config-fuzz.ts';
import { formatTable, type TortureRow } from '../test/torture/rows.ts';

const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
  },
});
const seed = Number(values.seed);
const started = Date.now();
const parts: { title: string; rows: TortureRow[]; ms: number }[] = [];

let t = Date.now();
const configs = await fuzzConfigs(Number(values.configs), seed);
parts.push({
  title: `${values.configs} fuzzed deployment files (mutations of examples/)`,
  rows: configs.list(),
  ms: Date.now() - t,
});

t = Date.now();
const dir = await mkdtemp(join(tmpdir(), 'autoctrl-torture-'));
try {
  const api = await fuzzApi(Number(values.requests), dir, seed);
  parts.push({
    title: `${values.requests} fuzzed API requests (every route of /api/openapi.json, with and without tokens)`,
    rows: api.list(),
    ms: Date.now() - t,
  });
} finally {
  await rm(dir, { recursive: true, force: true });
}

const failed = parts.flatMap((p) => p.rows).reduce((n, r) => n + r.failed, 0);
const sections = parts.map(
  (p) =>
    `## ${p.title}\n\n${(p.ms / 1000).toFixed(0)} s; a failure is a throw, a problem without FILE:LINE:COL, a 5xx or a request left unanswered.\n\n${formatTable(p.rows.toSorted((a, b) => a.what.localeCompare(b.what)))}\n`,
);
const report = `# Reliability: the torture run

Latest \`npm run torture -- --configs ${values.configs} --requests ${values.requests} --seed ${seed}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${((Date.now() - started) / 1000).toFixed(0)} s: **${failed} failures**.
Smaller runs of the same are in \`npm test\` (\`test/torture-*.test.ts\`).
Not in this run yet (see issue 11): SIGKILLs of the controller under load,
a full disk during processing, and running what \`validate\` accepts.

${sections.join('\n')}`;
process.stdout.write(`${report}\n`);
await writeFile(new URL('../docs/reliability.md', import.meta.url), report);
process.exitCode = failed === 0 ? 0 : 1;
