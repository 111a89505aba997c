import assert from 'node:assert/strict';
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
import { raceFourProcesses } from './store-race.ts';

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
    await raceFourProcesses(
      {
        module: new URL('../src/store/sqlite/index.ts', import.meta.url).href,
        factory: 'createSqliteStore',
        target: file,
      },
      path.join(dir, 'go'),
      () => createSqliteStore(file),
    );
  });
});
