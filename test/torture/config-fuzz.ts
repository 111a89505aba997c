import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { validateDeploymentText } from '../../src/config/load.ts';
import { loadPluginsOf } from '../../src/plugins/load.ts';
import { rng, Tally } from './rows.ts';
import { serveOnce } from './serve-fuzz.ts';

/** The row of the accepted files `serve` ran. */
export const STARTED = 'deployment file: accepted by validate, started by serve';

/** Every example: the batch-system ones too, whose commands fail here (no HTCondor, no Slurm controller). */
const EXAMPLES = ['demo', 'cms', 'cms/pi0', 'slurm', 'htcondor'].map((name) => {
  const file = fileURLToPath(new URL(`../../examples/${name}/autoctrl.yaml`, import.meta.url));
  return { name, file, text: readFileSync(file, 'utf8') };
});

/** Values a careless or hostile person writes where a value goes. */
const NASTY: readonly unknown[] = [
  '30d',
  '400d',
  '99999999999d',
  '1e309',
  '-1',
  0,
  -1,
  1e21,
  2 ** 53,
  0.5,
  '',
  ' ',
  '0x10',
  null,
  true,
  [],
  {},
  [[[[[]]]]],
  '{nope}',
  '{run',
  '}}',
  '../../../etc/shadow',
  'a'.repeat(5000),
  'é\u0000\u202e',
  '5 minutes',
  'NaN',
  Number.NaN,
  'sqlite:',
  'postgres://',
  ['', ''],
  [''],
  { per: 'input' },
  { lumi: -5 },
  { lumi: 'x' },
  'fill',
  'run',
  1_000_000,
  '256GiB',
  '1GB',
];

/** Lines a mutation may insert: wrong keys, YAML tricks (anchors, tags, merges). */
const LINES: readonly string[] = [
  'colour: red',
  '  timeout: 30000d',
  '  jobs: 1000000',
  'limits: { max_jobs_per_instance: 0 }',
  'x: &a [*a]',
  'y: *nowhere',
  '<<: { store: x }',
  '!!binary abc',
  '  - ',
  ': :',
  '? [a]',
  'tasks: ~',
  '  retry_delay: -1s',
  'engine: { interval: 0s }',
  '%YAML 9.9',
  '---',
  '...',
  '  command: "sh -c echo"',
  '  after: [ghost]',
  'limits: { max_request_body: 1TB }',
  '\t tab: 1',
  // What only a start meets: files read, directories entered, timers armed, sockets bound.
  '  submit_template: ../demo/autoctrl.yaml',
  '  cwd: /proc',
  '  cwd: ../demo/jobs/reco.mjs',
  'engine: { interval: 24.9d, lease_ttl: 1s }',
  '  interval: 1ms',
  'executors: { local: { type: local, slots: 100000 } }',
  'server: { port: 1, host: 256.0.0.1 }',
];

type Mutation = (text: string, r: ReturnType<typeof rng>) => string;

const TEXT_MUTATIONS: Record<string, Mutation> = {
  'delete a line': (t, r) => splice(t, r, (lines, i) => lines.splice(i, 1)),
  'duplicate a line': (t, r) => splice(t, r, (lines, i) => lines.splice(i, 0, lines[i] ?? '')),
  'swap two lines': (t, r) =>
    splice(t, r, (lines, i) => {
      const j = r.int(lines.length);
      [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
    }),
  'shift indentation': (t, r) =>
    splice(t, r, (lines, i) => {
      lines[i] = r.next() < 0.5 ? `  ${lines[i]}` : (lines[i] ?? '').replace(/^ {1,2}/, '');
    }),
  'insert a line': (t, r) => splice(t, r, (lines, i) => lines.splice(i, 0, r.pick(LINES))),
  'replace a value': (t, r) =>
    splice(t, r, (lines, i) => {
      lines[i] = (lines[i] ?? '').replace(/:\s.*$/, `: ${JSON.stringify(r.pick(NASTY)) ?? 'x'}`);
    }),
  truncate: (t, r) => t.slice(0, r.int(t.length)),
  'flip a byte': (t, r) => {
    const i = r.int(t.length);
    return t.slice(0, i) + String.fromCharCode(r.int(128)) + t.slice(i + 1);
  },
};

const TREE_MUTATIONS: Record<string, Mutation> = {
  'set a nested value': (t, r) =>
    mutateTree(t, r, (parent, key) => {
      parent[key] = r.pick(NASTY);
    }),
  'delete a nested key': (t, r) =>
    mutateTree(t, r, (parent, key) => {
      delete parent[key];
    }),
  'rename a nested key': (t, r) =>
    mutateTree(t, r, (parent, key) => {
      parent[`${String(key)}${r.pick(['_', 's', ' ', '.x'])}`] = parent[key];
      delete parent[key];
    }),
};

function splice(t: string, r: ReturnType<typeof rng>, f: (lines: string[], i: number) => void) {
  const lines = t.split('\n');
  f(lines, r.int(lines.length));
  return lines.join('\n');
}

/** Mutates a random node of the parsed file and writes it back as YAML. */
function mutateTree(
  t: string,
  r: ReturnType<typeof rng>,
  f: (parent: Record<string | number, unknown>, key: string | number) => void,
): string {
  let root: unknown;
  try {
    root = parse(t, { logLevel: 'silent' });
  } catch {
    return t;
  }
  let node = root;
  let parent: Record<string | number, unknown> | null = null;
  let key: string | number | null = null;
  for (let depth = r.int(5) + 1; depth > 0; depth--) {
    // Only maps and lists: a tag (`!!binary`) gives values that cannot change.
    if (!Array.isArray(node) && Object.getPrototypeOf(node ?? 0) !== Object.prototype) break;
    const keys = Object.keys(node as object);
    if (keys.length === 0) break;
    parent = node as Record<string | number, unknown>;
    key = r.pick(keys);
    node = parent[key];
  }
  if (parent === null || key === null) return t;
  try {
    f(parent, key);
    return stringify(root);
  } catch {
    return t; // the fuzzer's own limits (a frozen value, a cycle through aliases), not validate's
  }
}

/**
 * `n` mutations of the examples through `validateDeploymentText`: it must
 * never throw, and every problem must name FILE:LINE:COL inside the file.
 * The first `starts` it accepts are run by `serve` (see `serveOnce`).
 */
export async function fuzzConfigs(n: number, seed = 1, starts = 0): Promise<Tally> {
  for (const ex of EXAMPLES) await loadPluginsOf(ex.text, ex.file);
  const r = rng(seed);
  const tally = new Tally();
  const all = { ...TEXT_MUTATIONS, ...TREE_MUTATIONS };
  const names = Object.keys(all);
  let started = 0;
  for (let i = 0; i < n; i++) {
    const ex = r.pick(EXAMPLES);
    let text = ex.text;
    const applied: string[] = [];
    for (let k = r.int(3) + 1; k > 0; k--) {
      const name = r.pick(names);
      applied.push(name);
      text = (all[name] as Mutation)(text, r);
    }
    const what = `deployment file: ${applied[0]}${applied.length > 1 ? ' and more' : ''}`;
    const failure = check(text, ex.file, `#${i} ${ex.name} ${applied.join(', ')}`);
    tally.count(what, failure === 'accepted' ? null : failure);
    if (failure !== 'accepted') continue;
    tally.count('deployment file: accepted by validate, and resolved');
    if (started++ < starts)
      await serve(tally, text, ex.file, `#${i} ${ex.name} ${applied.join(', ')}`);
  }
  return tally;
}

/** One start of an accepted file by `serve`, in a directory of its own. */
async function serve(tally: Tally, text: string, file: string, label: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'autoctrl-fuzz-serve-'));
  try {
    const { outcome, failure } = await serveOnce(text, file, dir);
    tally.count(STARTED, failure === null ? null : `${label}: ${failure}`, outcome);
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

/** null for a refusal done right, `accepted`, or what went wrong. */
function check(text: string, file: string, label: string): string | null {
  let result: ReturnType<typeof validateDeploymentText>;
  try {
    result = validateDeploymentText(text, file);
  } catch (err) {
    return `${label}: threw ${(err as Error).stack ?? err}`;
  }
  if (result.deployment !== null)
    return result.problems.length === 0 ? 'accepted' : `${label}: a deployment and problems`;
  const lineCount = text.split('\n').length;
  if (result.deployment === null && result.problems.length === 0)
    return `${label}: refused without a problem`;
  for (const p of result.problems) {
    const ok =
      p.file === file &&
      Number.isInteger(p.line) &&
      Number.isInteger(p.col) &&
      p.line >= 1 &&
      p.col >= 1 &&
      p.line <= lineCount + 1 &&
      p.message.trim() !== '';
    if (!ok) return `${label}: problem without FILE:LINE:COL: ${JSON.stringify(p)}`;
  }
  return null;
}
