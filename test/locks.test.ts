import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { validateDeploymentText } from '../src/config/load.ts';
import { passMemo, runCheck } from '../src/engine/lock-checks.ts';
import { type Lock, type LockKind, type LockTarget, lockKind } from '../src/locks/contract.ts';
import { globPaths, segmentRegExp } from '../src/locks/glob.ts';
import { parseJsonPath, valueAtPath } from '../src/locks/json-path.ts';
import { humanDuration } from '../src/locks/options.ts';
import { LockKindError, lockKinds, registerLockKind } from '../src/locks/registry.ts';
import { silentLogger } from '../src/logger.ts';
import type { Run } from '../src/model/types.ts';
import type { StateStore } from '../src/store/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const dir = tempDir('autoctrl-locks-');
let store: StateStore;
before(async () => {
  store = await createSqliteStore(join(dir, 'state.db'));
});
after(() => store.close());

const run = (n: number, over: Partial<Run> = {}): Run => ({
  run: n,
  fill: 8000,
  start: 1_000,
  end: 2_000,
  lumi: 10,
  type: 'collisions',
  meta: {},
  seq: n,
  ...over,
});

const target = (runs: Run[], over: Partial<LockTarget> = {}): LockTarget => ({
  campaign: 'prompt',
  task: 'reco',
  instanceId: 1,
  runs,
  now: 10_000,
  ...over,
});

/** A lock of a built-in kind from the options a deployment file would give. */
async function make(kind: string, options: Record<string, unknown>): Promise<Lock> {
  const k = lockKinds.get(kind) as LockKind;
  return k.create(k.options.parse(options), { logger: silentLogger(), dir, store });
}

async function check(kind: string, options: Record<string, unknown>, t = target([run(100)])) {
  return runCheck(await make(kind, options), t);
}

describe('file lock', () => {
  before(() => {
    mkdirSync(join(dir, 'eos/100/sub/deep'), { recursive: true });
    writeFileSync(join(dir, 'eos/100/a.root'), 'data');
    writeFileSync(join(dir, 'eos/100/empty.root'), '');
    writeFileSync(join(dir, 'eos/100/.hidden.txt'), 'x');
    writeFileSync(join(dir, 'eos/100/sub/deep/b.root'), 'data');
    writeFileSync(join(dir, 'eos/100/weird (1)+[x].dat'), 'data');
  });

  it('opens when a path exists, relative to the deployment directory, with placeholders', async () => {
    const open = await check('file', { path: 'eos/{run}/a.root' });
    assert.deepEqual(open, { open: true, reason: `found ${join(dir, 'eos/100/a.root')}` });
    const closed = await check('file', { path: 'eos/{run}/a.root' }, target([run(101)]));
    assert.deepEqual(closed, { open: false, reason: `no file ${join(dir, 'eos/101/a.root')}` });
  });

  it('matches *, ? and ** globs, and not dotfiles with a wildcard', async () => {
    assert.equal((await check('file', { path: `${dir}/eos/{run}/*.root` })).open, true);
    assert.equal((await check('file', { path: 'eos/1?0/a.roo?' })).open, true);
    assert.equal((await check('file', { path: 'eos/**/b.root' })).open, true);
    assert.equal(
      (await check('file', { path: 'eos/100/**/a.root' })).open,
      true,
      '** is zero dirs',
    );
    assert.equal((await check('file', { path: 'eos/*/weird (1)+[x].dat' })).open, true);
    const none = await check('file', { path: 'eos/*/*.txt' });
    assert.deepEqual(none, { open: false, reason: `no file matches ${join(dir, 'eos/*/*.txt')}` });
    assert.equal((await check('file', { path: 'eos/100/.*.txt' })).open, true);
  });

  it('with non_empty, wants bytes in a file or entries in a directory', async () => {
    const empty = await check('file', { path: 'eos/100/empty.root', non_empty: true });
    assert.deepEqual(empty, { open: false, reason: `${join(dir, 'eos/100/empty.root')} is empty` });
    assert.equal((await check('file', { path: 'eos/100/*.root', non_empty: true })).open, true);
    assert.equal((await check('file', { path: 'eos/100/sub', non_empty: true })).open, true);
    mkdirSync(join(dir, 'eos/100/nothing'));
    assert.equal((await check('file', { path: 'eos/100/nothing', non_empty: true })).open, false);
  });

  it('globs lazily, in name order', async () => {
    const found: string[] = [];
    for await (const p of globPaths(join(dir, 'eos/**/*.root'))) found.push(p.slice(dir.length));
    assert.deepEqual(found, ['/eos/100/a.root', '/eos/100/empty.root', '/eos/100/sub/deep/b.root']);
    assert.equal(segmentRegExp('a.b*').test('a.bcd'), true);
    assert.equal(segmentRegExp('a.b*').test('aXbcd'), false, 'a dot is literal');
  });
});

describe('http lock', () => {
  let server: Server;
  let base: string;
  /** Requests per path: a late one of another test (the timed-out `/slow`) must not count. */
  const requests = new Map<string, number>();
  const hung: ServerResponse[] = [];
  const routes: Record<string, (res: ServerResponse) => void> = {
    '/runs/100': (res) => json(res, { stage: { name: 'Repack' }, runs: [100, '101'], iov: 150 }),
    '/runs/101': (res) => json(res, { stage: { name: 'Express' }, runs: [100], iov: 99 }),
    '/broken': (res) => res.writeHead(500).end('database down\nmore'),
    '/not-json': (res) => res.writeHead(200).end('<html>'),
    '/slow': (res) => hung.push(res),
  };
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
      const route = routes[req.url ?? ''];
      if (route === undefined) res.writeHead(404).end();
      else route(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('opens when the value at the path equals, holds the run, or reaches the minimum', async () => {
    const url = `${base}/runs/{run}`;
    const equals = await check('http', { url, path: '$.stage.name', equals: 'Repack' });
    assert.deepEqual(equals, { open: true, reason: '$.stage.name is "Repack"' });
    const other = await check(
      'http',
      { url, path: 'stage.name', equals: 'Repack' },
      target([run(101)]),
    );
    assert.deepEqual(other, { open: false, reason: '$.stage.name is "Express", want "Repack"' });
    const many = target([run(100), run(101)]);
    assert.equal(
      (await check('http', { url, path: '$.runs', contains_run: true }, many)).open,
      true,
    );
    const missing = await check(
      'http',
      { url: `${base}/runs/101`, path: 'runs', contains_run: true },
      many,
    );
    assert.deepEqual(missing, { open: false, reason: '$.runs does not list run 101' });
    assert.equal((await check('http', { url, path: 'iov', min: '{run}' })).open, true);
    const low = await check('http', { url, path: 'iov', min: '{run}' }, target([run(101)]));
    assert.deepEqual(low, { open: false, reason: '$.iov is 99, want at least 101' });
    const absent = await check('http', { url, path: '$.nope' });
    assert.deepEqual(absent, { open: false, reason: 'no $.nope in the answer' });
  });

  it('is closed, with the cause, on a non-2xx answer, bad JSON or no server', async () => {
    const broken = await check('http', { url: `${base}/broken` });
    assert.deepEqual(broken, { open: false, reason: `GET ${base}/broken: HTTP 500 database down` });
    const notFound = await check('http', { url: `${base}/runs/999` });
    assert.deepEqual(notFound, { open: false, reason: `GET ${base}/runs/999: HTTP 404` });
    const html = await check('http', { url: `${base}/not-json` });
    assert.match(html.reason, /^GET .*\/not-json: answer is not JSON/);
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const refused = await check('http', { url: `http://127.0.0.1:${port}/x` });
    assert.equal(refused.open, false);
    assert.match(refused.reason, /ECONNREFUSED/);
  });

  it('times out', async () => {
    const t0 = Date.now();
    const slow = await check('http', { url: `${base}/slow`, timeout: '200ms' });
    assert.deepEqual(slow, {
      open: false,
      reason: "no answer within 200ms: raise the lock's timeout if the service is slow",
    });
    assert.ok(Date.now() - t0 < 2000);
  });

  it('asks a URL once per pass for targets that differ only in the condition', async () => {
    const lock = await make('http', { url: `${base}/runs/100`, path: 'runs', contains_run: true });
    const pass = passMemo();
    const before = requests.get('/runs/100') ?? 0;
    const a = await runCheck(lock, target([run(100)]), pass);
    const b = await runCheck(lock, target([run(102)], { instanceId: 2 }), pass);
    assert.deepEqual([a.open, b.open], [true, false]);
    assert.notEqual(lock.key(target([run(100)])), lock.key(target([run(102)])));
    assert.equal((requests.get('/runs/100') ?? 0) - before, 1);
  });
});

describe('command lock', () => {
  it('opens on exit status 0 and gives the first line of output as reason', async () => {
    const ok = await check('command', {
      command: ['sh', '-c', 'echo; echo "tag covers $1"', 'x', '{run}'],
    });
    assert.deepEqual(ok, { open: true, reason: 'tag covers 100' });
    const no = await check('command', {
      command: ['sh', '-c', 'echo out; echo not yet >&2; exit 3'],
    });
    assert.deepEqual(no, { open: false, reason: 'exit status 3: not yet' });
    const bare = await check('command', { command: ['false'] });
    assert.deepEqual(bare, { open: false, reason: 'exit status 1' });
  });

  it('passes each argument as is, never through a shell', async () => {
    const value = `run {run} $(touch pwned) \`touch pwned\`; touch pwned | 'q' "dq"`;
    const script = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
    const res = await check('command', { command: [process.execPath, '-e', script, value, 'a b'] });
    assert.equal(res.open, true);
    assert.deepEqual(JSON.parse(res.reason), [
      `run 100 $(touch pwned) \`touch pwned\`; touch pwned | 'q' "dq"`,
      'a b',
    ]);
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });

  it('is closed when the program is missing, and when it outlives its timeout', async () => {
    const missing = await check('command', { command: ['no-such-program-xyz'] });
    assert.equal(missing.open, false);
    assert.match(missing.reason, /^no-such-program-xyz: no such program \(ENOENT\)/);
    const t0 = Date.now();
    const slow = await check('command', { command: ['sleep', '10'], timeout: '200ms' });
    assert.match(slow.reason, /^no answer within 200ms/);
    assert.ok(Date.now() - t0 < 2000);
  });
});

describe('delay lock', () => {
  it('opens a duration after the last run ended', async () => {
    const runs = [run(100, { end: 1_000 }), run(101, { end: 5_000 })];
    const opts = { after: '10s' };
    assert.deepEqual(await check('delay', opts, target(runs, { now: 14_999 })), {
      open: false,
      reason: '10s after run 101 ended: opens at 1970-01-01T00:00:15.000Z',
    });
    assert.deepEqual(await check('delay', opts, target(runs, { now: 15_000 })), {
      open: true,
      reason: '10s after run 101 ended',
    });
    const ongoing = await check('delay', opts, target([run(100), run(101, { end: null })]));
    assert.deepEqual(ongoing, { open: false, reason: 'run 101 has not ended' });
  });

  it('from fill_end, waits for the latest end among the runs of the fill in the store', async () => {
    await store.upsertRuns(
      [
        { run: 500, fill: 9000, end: 1_000 },
        { run: 501, fill: 9000, end: 8_000 },
        { run: 502, fill: 9001, end: 9_000 },
      ],
      'test',
    );
    const [r500] = await store.getRuns([500]);
    const opts = { after: '1s', from: 'fill_end' };
    const closed = await check('delay', opts, target([r500 as Run], { now: 8_500 }));
    assert.deepEqual(closed, {
      open: false,
      reason: '1s after fill 9000 (run 501) ended: opens at 1970-01-01T00:00:09.000Z',
    });
    const open = await check('delay', opts, target([r500 as Run], { now: 9_000 }));
    assert.equal(open.open, true);
    await store.upsertRuns([{ run: 503, fill: 9000, end: null }], 'test');
    const again = await check('delay', opts, target([r500 as Run], { now: 9_000 }));
    assert.deepEqual(again, { open: false, reason: 'run 503 has not ended' });
  });
});

describe('task lock', () => {
  it('opens when the other task is done for every run in the other campaign', async () => {
    const opts = { task: 'pi0-calib', campaign: 'prompt' };
    const t = target([run(700), run(701)], { campaign: 'rereco' });
    assert.deepEqual(await check('task', opts, t), {
      open: false,
      reason: 'task pi0-calib in campaign prompt has no instance for run 700',
    });
    await store.upsertRuns([{ run: 700 }, { run: 701 }], 'test');
    const [inst] = await store.createInstances(
      [{ campaign: 'prompt', task: 'pi0-calib', groupKey: 'fill:1', runs: [700, 701] }],
      'test',
    );
    assert.ok(inst);
    const start = {
      from: 'new' as const,
      configHash: 'h',
      config: {},
      reason: null,
      by: 't',
      at: 1,
    };
    await store.startInstance(inst.id, { ...start, jobs: [] });
    assert.deepEqual(await check('task', opts, t), {
      open: false,
      reason: 'task pi0-calib in campaign prompt is processing for run 700',
    });
    const done = { from: 'processing' as const, to: 'done' as const, reason: null, by: 't', at: 2 };
    await store.transitionInstance(inst.id, done);
    assert.deepEqual(await check('task', opts, t), {
      open: true,
      reason: 'task pi0-calib in campaign prompt is done',
    });
  });
});

describe('checks that fail', () => {
  const lock = (check: Lock['check'], checkTimeoutMs?: number): Lock => ({
    key: () => 'k',
    check,
    ...(checkTimeoutMs === undefined ? {} : { checkTimeoutMs }),
  });

  it('a check that throws, or answers nonsense, is a closed lock with the error as reason', async () => {
    const thrown = await runCheck(
      lock(async () => {
        throw new TypeError('boom');
      }),
      target([run(1)]),
    );
    assert.deepEqual(thrown, { open: false, reason: 'check failed: boom' });
    const nonsense = await runCheck(
      lock(async () => 'yes' as never),
      target([run(1)]),
    );
    assert.match(nonsense.reason, /gave no \{ open, reason \}/);
  });

  it('a check that ignores its signal is cut off at its timeout', async () => {
    let aborted = false;
    const hang = lock(
      (_t, signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            // answers late anyway: the engine has moved on
            setTimeout(() => resolve({ open: true, reason: 'late' }), 20);
          });
        }),
      100,
    );
    const res = await runCheck(hang, target([run(1)]));
    assert.equal(res.open, false);
    assert.match(res.reason, /^no answer within 100ms/);
    assert.equal(aborted, true);
  });
});

describe('lock kinds and the deployment file', () => {
  const file = (locks: string) => `tasks:\n  reco:\n    command: [reco]\n    locks:\n${locks}`;
  const problems = (text: string) =>
    validateDeploymentText(text, '/d/autoctrl.yaml').problems.map(
      (p) => `${p.line}:${p.col}: ${p.message}`,
    );

  it('checks each lock against its kind, naming the known kinds for an unknown one', () => {
    assert.deepEqual(
      problems(
        file(
          [
            '      - { kind: gt-lock }',
            '      - { kind: http, path: "$.x" }',
            '      - { kind: file, path: "/x/{job}", colour: red }',
            '      - { kind: delay, after: soon }',
            '      - { kind: command, command: [ok.sh], name: c }',
            '      - { kind: task, task: a, name: c }',
          ].join('\n'),
        ),
      ),
      [
        "5:17: tasks.reco.locks[0].kind: unknown lock kind 'gt-lock' (known: file, http, command, delay, task); a plugin listed under plugins: can add kinds",
        "6:9: tasks.reco.locks[1]: missing required key 'url'",
        '7:29: tasks.reco.locks[2].path: unknown placeholder {job} in a lock: known are {run}, {runs}, {fill}, {campaign}, {task} (write {{ and }} for literal braces)',
        '7:41: tasks.reco.locks[2].colour: unknown key (known: kind, name, timeout, path, non_empty)',
        '8:31: tasks.reco.locks[3].after: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
        "10:38: tasks.reco.locks[5].name: lock name 'c' is already used by locks[4] of this task: give each lock its own name",
      ],
    );
  });

  it('accepts good locks, and kinds that plugins register', () => {
    const good = file(
      [
        '      - { kind: http, url: "http://t0/runs/{run}", path: stage, equals: Repack, timeout: 5s }',
        '      - { kind: delay, after: 2h, from: fill_end, timeout: 1d }',
        '      - { kind: cms-gt, tag: 130X }',
      ].join('\n'),
    );
    assert.equal(problems(good).length, 1);
    registerLockKind(
      lockKind({
        kind: 'cms-gt',
        options: z.strictObject({ tag: z.string() }),
        create: () => ({ key: () => '', check: async () => ({ open: true, reason: '' }) }),
      }),
      'plugins/cms.mjs',
    );
    assert.deepEqual(problems(good), []);
    const { deployment } = validateDeploymentText(good, '/d/autoctrl.yaml');
    assert.deepEqual(deployment?.tasks[0]?.locks[1], {
      kind: 'delay',
      name: 'delay',
      timeoutMs: 86_400_000,
      options: { after: '2h', from: 'fill_end' },
    });
  });

  it('refuses a kind whose name is taken, or that is not a lock kind', () => {
    const kind = lockKind({
      kind: 'http',
      options: z.object({}),
      create: () => ({ key: () => '', check: async () => ({ open: true, reason: '' }) }),
    });
    assert.throws(() => registerLockKind(kind, 'plugins/site.mjs'), {
      name: 'LockKindError',
      message:
        "plugins/site.mjs: lock kind 'http' is already defined by autoctrl: give one of them another name",
    });
    assert.throws(
      () => registerLockKind({ kind: 'x' } as unknown as LockKind, 'plugins/site.mjs'),
      LockKindError,
    );
    assert.equal(lockKinds.get('http')?.create === kind.create, false);
  });
});

describe('helpers', () => {
  it('parses JSON paths', () => {
    assert.deepEqual(parseJsonPath('$.a.b[0]'), ['a', 'b', 0]);
    assert.deepEqual(parseJsonPath("stage['x y'].name"), ['stage', 'x y', 'name']);
    assert.deepEqual(parseJsonPath('$'), []);
    assert.equal(parseJsonPath('$.a..b'), null);
    assert.equal(valueAtPath({ a: [{ b: 2 }] }, ['a', '0', 'b']), 2);
    assert.equal(valueAtPath({ a: 1 }, ['toString']), undefined);
  });

  it('writes durations for people', () => {
    assert.deepEqual(
      [500, 45_000, 90_000, 3_600_000, 3_660_000, 3_605_000, 90_000_000].map(humanDuration),
      ['500ms', '45s', '1m 30s', '1h', '1h 1m', '1h', '1d 1h'],
    );
  });
});

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
