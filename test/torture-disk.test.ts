import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { type FullWhat, fullDisk, fullDiskMissing } from './torture/full-disk.ts';
import { formatTable } from './torture/rows.ts';

assertNoLeaksAtEnd();

const skip = fullDiskMissing() ?? false;

async function check(what: FullWhat, t: { diagnostic(s: string): void }): Promise<void> {
  const rows = (await fullDisk(what, 20, tempDir(), { fullMs: 3_000, budgetMs: 90_000 })).list();
  t.diagnostic(formatTable(rows));
  assert.equal(rows.length, 5);
  assert.deepEqual(
    rows.filter((r) => r.failed > 0),
    [],
  );
}

describe('torture: a full disk during processing (a size-limited tmpfs)', { skip }, () => {
  it(
    "the store's disk full: the daemon survives and waits, nothing fails for good, all finishes once freed",
    {
      timeout: 120_000,
    },
    (t) => check('store', t),
  );

  it(
    "the jobs' disk full: jobs wait and alert, nothing fails for good, all finishes once freed",
    {
      timeout: 120_000,
    },
    (t) => check('data', t),
  );
});
