import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { fuzzApi } from './torture/api-fuzz.ts';
import { formatTable } from './torture/rows.ts';

assertNoLeaksAtEnd();

describe('torture: fuzzed API requests (npm run torture runs 20,000)', () => {
  it('no 5xx, no request left unanswered, and the server answers normally after', async (t) => {
    const seed = Date.now() % 100_000;
    const rows = (await fuzzApi(1000, tempDir(), seed)).list();
    t.diagnostic(`seed ${seed} (replay: npm run torture -- --seed ${seed})\n${formatTable(rows)}`);
    assert.ok(rows.some((r) => r.what === 'the server answers normally after'));
    assert.deepEqual(
      rows.filter((r) => r.failed > 0),
      [],
    );
  });
});
