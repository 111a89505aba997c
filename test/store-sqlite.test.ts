import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runStoreConformance } from '../src/store/conformance.ts';
import type { StateStore } from '../src/store/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';
import { oneOfTwoHandlesWins, raceFourProcesses } from './store-race.ts';

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
    await oneOfTwoHandlesWins(await openOne(), await openOne());
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
