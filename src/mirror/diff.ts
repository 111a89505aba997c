import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { InstanceResult, OutputResult } from './reader.ts';

/** One side of a compared (task, runs): its instance's status, or null when it has none. */
export interface DiffSide {
  instance: number;
  status: string;
}

export interface FieldDiff {
  /** The field's name; `name#index` when the instance has several jobs. */
  name: string;
  a: number | string | null;
  b: number | string | null;
}

export interface OutputDiff {
  /** The output's name in its job's `out/` (or its URI); `#index/` first when the instance has several jobs. */
  name: string;
  a: string | null;
  b: string | null;
  /** What differs: `only in A`, `content` (sha256 of both), `kind`, `meta`; `unreadable` when the files could not be compared here. */
  what: 'missing' | 'content' | 'kind' | 'meta' | 'unreadable';
}

export interface DiffRow {
  task: string;
  /** The runs of the instances compared (A's when both have one). */
  runs: number[];
  a: DiffSide | null;
  b: DiffSide | null;
  fields: FieldDiff[];
  outputs: OutputDiff[];
  /** Status, fields and outputs all the same. */
  same: boolean;
}

/**
 * Compares two deployments' results for the same runs: per task and run,
 * the instance covering it on each side (instances grouping several runs
 * are compared once). `taskOrder` orders the rows of one run.
 */
export async function diffResults(
  a: readonly InstanceResult[],
  b: readonly InstanceResult[],
  runs: { from: number; to: number },
  taskOrder: readonly string[],
): Promise<DiffRow[]> {
  const index = (list: readonly InstanceResult[]) => {
    const m = new Map<string, InstanceResult>();
    for (const r of list) for (const run of r.instance.runs) m.set(`${r.instance.task}/${run}`, r);
    return m;
  };
  const ia = index(a);
  const ib = index(b);
  const tasks = [
    ...new Set([...taskOrder, ...a.map((r) => r.instance.task), ...b.map((r) => r.instance.task)]),
  ];
  const allRuns = [...new Set([...a, ...b].flatMap((r) => r.instance.runs))]
    .filter((r) => r >= runs.from && r <= runs.to)
    .sort((x, y) => x - y);
  const seen = new Set<string>();
  const rows: DiffRow[] = [];
  for (const run of allRuns) {
    for (const task of tasks) {
      const ra = ia.get(`${task}/${run}`);
      const rb = ib.get(`${task}/${run}`);
      if (ra === undefined && rb === undefined) continue;
      const key = `${task}/${ra?.instance.id}/${rb?.instance.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(await compare(task, ra, rb));
    }
  }
  return rows;
}

async function compare(
  task: string,
  ra: InstanceResult | undefined,
  rb: InstanceResult | undefined,
): Promise<DiffRow> {
  const side = (r: InstanceResult | undefined): DiffSide | null =>
    r === undefined ? null : { instance: r.instance.id, status: r.instance.status };
  const fa = fieldsOf(ra);
  const fb = fieldsOf(rb);
  const fields: FieldDiff[] = [];
  for (const name of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    const va = fa.get(name) ?? null;
    const vb = fb.get(name) ?? null;
    if (va !== vb) fields.push({ name, a: va, b: vb });
  }
  const oa = outputsOf(ra);
  const ob = outputsOf(rb);
  const outputs: OutputDiff[] = [];
  for (const name of [...new Set([...oa.keys(), ...ob.keys()])].sort()) {
    const d = await compareOutput(name, oa.get(name), ob.get(name));
    if (d !== null) outputs.push(d);
  }
  const sa = side(ra);
  const sb = side(rb);
  return {
    task,
    runs: (ra ?? rb)?.instance.runs ?? [],
    a: sa,
    b: sb,
    fields,
    outputs,
    same: sa?.status === sb?.status && sa !== null && fields.length === 0 && outputs.length === 0,
  };
}

/** Job fields by name, qualified by the job's position when the instance has several. */
function fieldsOf(r: InstanceResult | undefined): Map<string, number | string> {
  const m = new Map<string, number | string>();
  if (r === undefined) return m;
  const several = r.jobs.length > 1;
  for (const j of r.jobs) {
    for (const [k, v] of Object.entries(j.fields)) m.set(several ? `${k}#${j.index}` : k, v);
  }
  return m;
}

function outputsOf(r: InstanceResult | undefined): Map<string, OutputResult> {
  const m = new Map<string, OutputResult>();
  if (r === undefined) return m;
  const position = new Map(r.jobs.map((j) => [j.id, j.index]));
  const several = r.jobs.length > 1;
  for (const o of r.outputs) {
    const name = outputName(o.path);
    m.set(several ? `#${position.get(o.jobId)}/${name}` : name, o);
  }
  return m;
}

/** Where it is inside its job's `out/` (the part both deployments share), or its URI. */
function outputName(path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  const at = path.lastIndexOf('/out/');
  return at >= 0 ? path.slice(at + '/out/'.length) : (path.split('/').at(-1) ?? path);
}

async function compareOutput(
  name: string,
  a: OutputResult | undefined,
  b: OutputResult | undefined,
): Promise<OutputDiff | null> {
  if (a === undefined || b === undefined) {
    return { name, a: a?.path ?? null, b: b?.path ?? null, what: 'missing' };
  }
  const d = (what: OutputDiff['what']): OutputDiff => ({ name, a: a.path, b: b.path, what });
  if ((a.kind ?? null) !== (b.kind ?? null)) return d('kind');
  if (JSON.stringify(sorted(a.meta)) !== JSON.stringify(sorted(b.meta))) return d('meta');
  if (a.path === b.path) return null;
  const [ha, hb] = await Promise.all([sha256(a.path), sha256(b.path)]);
  if (ha === null || hb === null) return d('unreadable');
  return ha === hb ? null : d('content');
}

/** Keys in order, so two equal maps written in another order compare equal. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([k, x]) => [k, sorted(x)]),
  );
}

/** The file's sha256, or null when it is not a file this host can read (a URI, another site's path). */
function sha256(path: string): Promise<string | null> {
  if (!path.startsWith('/')) return Promise.resolve(null);
  return new Promise((resolve) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('error', () => resolve(null))
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')));
  });
}
