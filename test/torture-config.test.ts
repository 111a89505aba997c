import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { fuzzConfigs, STARTED } from './torture/config-fuzz.ts';
import { formatTable } from './torture/rows.ts';
import { serveOnce } from './torture/serve-fuzz.ts';

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

  it('serve stops with a source command under way, leaving no process or handle', async () => {
    const dir = tempDir();
    const file = join(dir, 'autoctrl.yaml');
    const slow = [process.execPath, '-e', 'setTimeout(() => {}, 60_000)'];
    const text = `sources:\n  slow: { type: command, command: ${JSON.stringify(slow)} }\ntasks:\n  a: { command: [x] }\n`;
    writeFileSync(file, text);
    assert.deepEqual(await serveOnce(text, file, dir), { outcome: 'ran', failure: null });
  });
});
