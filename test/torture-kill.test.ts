import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { killChain } from './torture/kill-chain.ts';
import { formatTable } from './torture/rows.ts';

assertNoLeaksAtEnd();

describe('torture: SIGKILLs of the controller under load (npm run torture: 50 kills, 300 runs)', () => {
  it('5 kills while 30 runs go through a 3-task chain: every job attempt once, none lost', {
    timeout: 180_000,
  }, async (t) => {
    const seed = Date.now() % 100_000;
    const rows = (await killChain(30, 5, tempDir(), seed, 150_000)).list();
    t.diagnostic(`seed ${seed}\n${formatTable(rows)}`);
    assert.ok(rows.some((r) => r.what.startsWith('job attempts') && r.tried > 90));
    assert.deepEqual(
      rows.filter((r) => r.failed > 0),
      [],
    );
  });
});
