import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { autoctrl } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const KNOWN = Math.max(...MIGRATIONS.map((m) => m.version));

function deployment(dir: string, store = 'sqlite:state.db'): string {
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(file, `store: ${store}\ntasks:\n  reco: { command: [sh, -c, 'true'] }\n`);
  return file;
}

describe('the store from the command line', () => {
  it('autoctrl migrate brings the schema up to date, once', async () => {
    const file = deployment(tempDir());
    const first = await autoctrl(['migrate', '-c', file]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`schema version ${KNOWN}, up to date`));
    assert.match(first.stderr, /applied store migration/, 'each migration is logged');
    const again = await autoctrl(['migrate', '-c', file, '--json']);
    assert.equal(again.code, 0);
    assert.equal((JSON.parse(again.stdout) as { version: number }).version, KNOWN);
  });

  it('a controller refuses a schema newer than it knows, in one line, with status 2', async () => {
    const dir = tempDir();
    const file = deployment(dir);
    assert.equal((await autoctrl(['migrate', '-c', file])).code, 0);
    const db = new Database(join(dir, 'state.db'));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      KNOWN + 1,
      'from the future',
      Date.now(),
    );
    db.close();
    for (const args of [['serve', '--port', '0'], ['status']]) {
      const r = await autoctrl([...args, '-c', file]);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`schema version ${KNOWN + 1}, newer than the ${KNOWN}`));
      assert.match(r.stderr, /upgrade autoctrl/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
    }
  });
});
