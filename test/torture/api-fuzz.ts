import { jobToken } from '../../src/app/tokens.ts';
import { type ApiWorld, apiWorld, OPERATOR_TOKEN, settle } from '../api-setup.ts';
import { rng, Tally } from './rows.ts';

type Rng = ReturnType<typeof rng>;

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: 'path' | 'query'; schema: { enum?: unknown[] } }[];
  body: string[] | null;
}

/** Strings a hostile client puts in a path or a query. */
const STRINGS = [
  '0',
  '1',
  '2',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '99999999999999999999',
  'abc',
  '',
  ' ',
  '%00',
  '..%2F..%2Fetc',
  '<script>',
  "1' or '1'='1",
  '😀',
  'a'.repeat(3000),
  'null',
  'true',
  '[]',
  '{}',
  'prompt',
  'reco',
  'done',
  'failed',
  '1-2',
  '2026-01-01T00:00:00Z',
  'yesterday',
];

/** Values that fit, so that requests also get past validation into the handlers. */
const PLAUSIBLE: Record<string, unknown[]> = {
  status: ['running', 'done', 'failed'],
  fields: [{ n: 1, gt: '130X' }, { ['k'.repeat(200)]: 1 }],
  outputs: [[{ path: '/eos/a.root', kind: 'root' }], [{ path: 'rel/b.root', meta: { a: 1 } }]],
  reason: ['why not'],
  name: ['c1', 'c2', 'rr', 'prompt'],
  runs: ['1-2', '1', '2-1'],
  tasks: [['reco'], ['reco', 'calib'], ['nope']],
  set: [
    { 'reco.retries': 2 },
    { 'reco.timeout': '30d' },
    { 'reco.jobs': 1_000_000 },
    { 'reco.timeout': '400d' },
  ],
  share: [0.5, 1, 0],
  campaign: ['prompt', 'c1'],
  task: ['reco', 'calib', 'slow'],
  run: ['1', '2'],
  limit: ['1', '10', '1000'],
  from: ['1'],
  to: ['2'],
  tail: ['1', '10'],
  follow: ['0', '1'],
  after: ['0', '1'],
  field: ['x', 'n'],
};

/** A fitting value for `key` most of the time, a hostile one otherwise. */
function valueFor(r: Rng, key: string): unknown {
  const fit = PLAUSIBLE[key];
  return fit !== undefined && r.next() < 0.6 ? r.pick(fit) : value(r);
}

/** JSON values a hostile client puts in a body. */
function value(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick([0, -1, 1, 2 ** 53, 1e308, -0, 0.1, 355100]);
    case 2:
      return r.pick([null, true, false]);
    case 3:
      return 'x'.repeat(r.pick([0, 10, 10_001, 70_000]));
    case 4:
      return r.pick([
        'running',
        'done',
        'failed',
        '/eos/a.root',
        '../../../etc/shadow',
        'reco.jobs',
      ]);
    case 5:
      return nested(r.pick([40, 200, 5000]));
    case 6:
      return Array.from({ length: r.int(5) }, () => value(r, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, (_, i) => [
          r.pick(['path', 'kind', 'meta', `k${i}`, '__proto__', 'constructor']),
          value(r, depth + 1),
        ]),
      );
    default:
      return Array.from({ length: r.pick([1, 100, 10_001]) }, () => ({ path: `/o/${r.int(1e6)}` }));
  }
}

/** A placeholder for a value nested `depth` deep, written out by `json` (JSON.stringify would overflow). */
function nested(depth: number): string {
  return `\u0001deep:${depth}\u0001`;
}

function json(v: unknown): string {
  return JSON.stringify(v).replace(
    /"\\u0001deep:(\d+)\\u0001"/g,
    (_, d) => `${'{"a":'.repeat(Number(d))}1${'}'.repeat(Number(d))}`,
  );
}

function body(r: Rng, op: Operation): string | undefined {
  const roll = r.next();
  if (op.body === null && roll < 0.8) return undefined;
  if (roll < 0.1) return r.pick(['{', 'not json', '[]', 'null', '"x"', '1', '\u0000', '{"a":1}{']);
  if (roll < 0.2) return json(value(r));
  const keys = op.body ?? ['x'];
  const obj: Record<string, unknown> = {};
  for (const k of keys) if (r.next() < 0.5) obj[k] = valueFor(r, k);
  if (r.next() < 0.1) obj[r.pick(['unknown', '__proto__', ''])] = value(r);
  return json(obj);
}

function url(r: Rng, op: Operation, ids: number[]): string {
  let path = op.path;
  const query = new URLSearchParams();
  for (const p of op.params) {
    const roll = r.next();
    const fit = p.schema.enum ?? PLAUSIBLE[p.name];
    const v =
      roll < 0.5 && fit !== undefined
        ? String(r.pick(fit))
        : roll < 0.8
          ? String(r.pick(ids))
          : r.pick(STRINGS);
    if (p.in === 'path') path = path.replace(`{${p.name}}`, encodeURIComponent(v));
    else if (r.next() < 0.3) query.set(p.name, v);
  }
  const qs = query.toString();
  return qs === '' ? path : `${path}?${qs}`;
}

function token(r: Rng, w: ApiWorld, ids: number[]): [string, string | undefined] {
  const secret = w.rt.engine.ctx.tokenSecret;
  const id = r.pick(ids);
  return r.pick<[string, string | undefined]>([
    ['no token', undefined],
    ['operator token', OPERATOR_TOKEN],
    ['a job token', jobToken(secret, id)],
    ['an attempt token', jobToken(secret, id, r.int(3))],
    ['a wrong token', r.pick(['x', 'Bearer', 'a'.repeat(5000), `${id}.`, '\u00e9'])],
  ]);
}

/**
 * `n` fuzzed requests over every route of /api/openapi.json (and unknown
 * ones), with and without tokens, against a server holding real runs,
 * instances and jobs: no answer may be a 5xx or hang, and the server must
 * answer normally after.
 */
export async function fuzzApi(n: number, dir: string, seed = 1): Promise<Tally> {
  const w = await apiWorld(dir);
  const tally = new Tally();
  try {
    await settle(w);
    const ops = operations(await w.json('/api/openapi.json'));
    const ids = [1, 2, 3, 4, 5, 6, 0, 999_999];
    const r = rng(seed);
    for (let i = 0; i < n; i++) {
      const unknown = r.next() < 0.03;
      const op = unknown
        ? { method: 'get', path: `/api/${r.pick(STRINGS)}`, params: [], body: null }
        : r.pick(ops);
      const method =
        r.next() < 0.05
          ? r.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH'])
          : op.method.toUpperCase();
      const [who, tok] = token(r, w, ids);
      const headers: Record<string, string> =
        r.next() < 0.9 ? { 'content-type': 'application/json' } : {};
      if (tok !== undefined) headers.authorization = `Bearer ${tok}`;
      const target = url(r, op, ids);
      const b = method === 'GET' ? undefined : body(r, op);
      const what = unknown ? 'unknown /api/ paths' : `${op.method.toUpperCase()} ${op.path}`;
      const init = { method, headers, ...(b === undefined ? {} : { body: b }) };
      const label = `${who}: ${method} ${target.slice(0, 120)}`;
      const { failure, status } = await attempt(w, target, init, label);
      tally.count(what, failure, status);
    }
    for (const path of ['/api/health', '/api/overview', '/api/tasks']) {
      const res = await w.req(path);
      const failure = res.status === 200 ? null : `${path}: ${res.status}`;
      tally.count('the server answers normally after', failure, String(res.status));
      await res.body?.cancel();
    }
  } finally {
    await w.close();
  }
  return tally;
}

async function attempt(
  w: ApiWorld,
  target: string,
  init: RequestInit,
  label: string,
): Promise<{ failure: string | null; status: string }> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), 10_000);
  });
  try {
    const res = await Promise.race([
      Promise.resolve(w.server.app.request(target, { ...init, signal: abort.signal })),
      hung,
    ]);
    if (res === 'hung') return { failure: `${label}: no answer in 10 s`, status: 'hung' };
    const status = String(res.status);
    if (res.status >= 500)
      return { failure: `${label}: ${status} ${(await res.text()).slice(0, 200)}`, status };
    await res.body?.cancel();
    return { failure: null, status };
  } catch (err) {
    return { failure: `${label}: threw ${(err as Error).message}`, status: 'threw' };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function operations(doc: {
  paths: Record<string, Record<string, Record<string, unknown>>>;
}): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const content = (
        op.requestBody as
          | { content?: Record<string, { schema?: { properties?: object } }> }
          | undefined
      )?.content;
      const props = content?.['application/json']?.schema?.properties;
      ops.push({
        method,
        path,
        params: (op.parameters ?? []) as Operation['params'],
        body: props === undefined ? null : Object.keys(props),
      });
    }
  }
  return ops;
}
