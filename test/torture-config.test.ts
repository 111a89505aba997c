import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd } from './helpers.ts';
import { fuzzConfigs, STARTED } from './torture/config-fuzz.ts';
import { formatTable } from './torture/rows.ts';

assertNoLeaksAtEnd();

describe('torture: fuzzed deployment files (npm run torture runs 10,000)', () => {
  it('validate never throws, every problem names FILE:LINE:COL, and serve runs what it accepts', async (t) => {
    const seed = Date.now() % 100_000;
    const rows = (await fuzzConfigs(300, seed, 15)).list();
    t.diagnostic(`seed ${seed} (replay: npm run torture -- --seed ${seed})\n${formatTable(rows)}`);
    assert.equal(rows.reduce((n, r) => n + r.tried, 0) >= 300, true);
    assert.equal(rows.find((r) => r.what === STARTED)?.tried, 15);
    assert.deepEqual(
      rows.filter((r) => r.failed > 0),
      [],
    );
  });
});
