import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { StaleStateError } from '../src/errors.ts';
import { runStoreConformance } from '../src/store/conformance.ts';
import type { StateStore } from '../src/store/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';

assertNoLeaksAtEnd();

runStoreConformance('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoctrl-store-'));
  const file = path.join(dir, 'state.db');
  const store = await createSqliteStore(file);
  return {
    store,
    another: () => createSqliteStore(file),
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

const T0 = 1_700_000_000_000;

/**
 * A separate process racing on the same file, as `autoctrl job report` and a
 * second controller do: it opens the store (migrating a fresh file), creates
 * the same instances as its siblings, then tries to wait, start and claim
 * every one of them. It prints what it won as JSON.
 */
const RACER = `
const { createSqliteStore } = await import(process.env.STORE_MODULE);
const fs = await import('node:fs');
const { StaleStateError } = await import(process.env.ERRORS_MODULE);
const me = process.env.RACER;
const store = await createSqliteStore(process.env.STORE_FILE);
const numbers = Array.from({ length: 50 }, (_, i) => i + 1);
await store.upsertRuns(numbers.map((run) => ({ run })), me);
process.stdout.write('ready\\n');
while (!fs.existsSync(process.env.GO_FILE)) await new Promise((r) => setTimeout(r, 5));
const made = await store.createInstances(
  numbers.map((r) => ({ campaign: 'prompt', task: 'reco', groupKey: 'run:' + r, runs: [r] })),
  me,
);
const won = { created: made.length, waited: 0, started: 0, claimed: [] };
const ignoreStale = async (f) => {
  try { await f(); return true; } catch (e) { if (e instanceof StaleStateError) return false; throw e; }
};
for (const inst of await store.findInstances({ task: 'reco' })) {
  if (await ignoreStale(() => store.transitionInstance(inst.id, { from: 'new', to: 'waiting', reason: me, by: me, at: 1 }))) won.waited++;
  const job = { index: 0, attempt: 1, executor: 'local', input: null, notBefore: null };
  const start = { from: 'waiting', configHash: 'h', config: {}, jobs: [job, { ...job, index: 1 }], reason: null, by: me, at: 2 };
  if (await ignoreStale(() => store.startInstance(inst.id, start))) won.started++;
}
won.claimed = await store.claimJobs((await store.activeJobs()).map((j) => j.id), { owner: me, ttlMs: 60000 });
await store.close();
process.stdout.write(JSON.stringify(won) + '\\n');
`;

function racer(env: Record<string, string>): { ready: Promise<void>; done: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RACER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let signalReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    signalReady = resolve;
  });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) signalReady();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on('close', (code) => {
      signalReady();
      if (code === 0) resolve(out.split('\n').filter(Boolean).at(-1) ?? '');
      else reject(new Error(`racer exited ${code}: ${err}`));
    });
  });
  return { ready, done };
}

describe('SQLite store on one file shared by several connections', () => {
  let dir: string;
  let file: string;
  const opened: StateStore[] = [];
  const openOne = async () => {
    const s = await createSqliteStore(file);
    opened.push(s);
    return s;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoctrl-store-'));
    file = path.join(dir, 'nested', 'deeper', 'state.db');
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the directories and leaves the file in WAL mode with its migrations recorded', async () => {
    await openOne();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(
        db.prepare('SELECT version FROM schema_migrations').pluck().all(),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      db.close();
    }
  });

  it('refuses a file migrated by a newer autoctrl', async () => {
    await (await openOne()).close();
    const db = new Database(file);
    db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
    ).run();
    db.close();
    await assert.rejects(createSqliteStore(file), { code: 'store_schema_newer' });
  });

  it('sees writes of the other connection and lets one of two controllers win each transition', async () => {
    const [a, b] = [await openOne(), await openOne()];
    await a.upsertRuns([{ run: 1 }], 'a');
    assert.equal((await b.getRun(1))?.run, 1);
    const [inst] = await b.createInstances(
      [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
      'b',
    );
    assert.ok(inst);
    const results = await Promise.allSettled(
      [a, b, a, b].map((s, i) =>
        s.transitionInstance(inst.id, {
          from: 'new',
          to: 'waiting',
          reason: `r${i}`,
          by: `c${i}`,
          at: T0,
        }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(
      results.every((r) => r.status === 'fulfilled' || r.reason instanceof StaleStateError),
    );
    const { jobs } = await a.startInstance(inst.id, {
      from: 'waiting',
      configHash: 'h',
      config: {},
      jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
      reason: null,
      by: 'a',
      at: T0,
    });
    const ids = jobs.map((j) => j.id);
    const claims = await Promise.all([
      a.claimJobs(ids, { owner: 'a', ttlMs: 60_000 }),
      b.claimJobs(ids, { owner: 'b', ttlMs: 60_000 }),
    ]);
    assert.deepEqual(claims.flat(), ids);
  });

  it('keeps every transition and claim single across racing processes', {
    timeout: 60_000,
  }, async () => {
    const goFile = path.join(dir, 'go');
    const env = {
      STORE_MODULE: new URL('../src/store/sqlite/index.ts', import.meta.url).href,
      ERRORS_MODULE: new URL('../src/errors.ts', import.meta.url).href,
      STORE_FILE: file,
      GO_FILE: goFile,
    };
    const racers = ['p1', 'p2', 'p3', 'p4'].map((name) => racer({ ...env, RACER: name }));
    await Promise.all(racers.map((r) => r.ready));
    fs.writeFileSync(goFile, '');
    const results = (await Promise.all(racers.map((r) => r.done))).map(
      (line) =>
        JSON.parse(line) as { created: number; waited: number; started: number; claimed: number[] },
    );
    const sum = (k: 'created' | 'waited' | 'started') => results.reduce((n, r) => n + r[k], 0);
    assert.deepEqual([sum('created'), sum('waited'), sum('started')], [50, 50, 50]);
    const claimed = results.flatMap((r) => r.claimed);
    assert.equal(claimed.length, 100);
    assert.equal(new Set(claimed).size, 100, 'no job claimed twice');
    const store = await openOne();
    assert.equal(await store.countRuns(), 50);
    const events = await store.listEvents({ entity: 'instance' });
    assert.equal(events.length, 150, 'new, waiting and processing once per instance');
  });
});
