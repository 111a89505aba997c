import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { endedRuns } from './chain-world.ts';
import { assertNoLeaksAtEnd, sleep, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const size = (path: string) => statSync(path).size;
const workers = () => process.getActiveResourcesInfo().filter((r) => r === 'Worker').length;

describe('SQLite checkpointer', () => {
  it('copies the write-ahead log into the database off the controller thread, and ends with the store', async () => {
    const path = join(tempDir('autoctrl-checkpoint-'), 'state.db');
    const before = workers();
    const store = await createSqliteStore(path);
    // Far below the connection's own checkpoint (10,000 pages): only the worker copies these.
    await store.upsertRuns(endedRuns(3000), 'test');
    const logged = size(`${path}-wal`);
    assert.ok(logged > 500_000, `the runs are in the write-ahead log (${logged} bytes)`);
    const empty = size(path);
    const deadline = Date.now() + 5000;
    while (size(path) < empty + logged / 2 && Date.now() < deadline) await sleep(50);
    assert.ok(
      size(path) >= empty + logged / 2,
      `the database file grew from ${empty} to ${size(path)} bytes, the log holds ${logged}`,
    );
    await store.close();
    assert.equal(workers(), before, 'the checkpointer ends with the store');
  });
});
