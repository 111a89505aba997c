import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOverride } from '../src/app/overrides.ts';
import { deployment, task } from './fixtures.ts';

describe('campaign overrides', () => {
  it('refuses a command whose list holds a map with a collection key, printing nothing', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      assert.throws(
        () =>
          parseOverride('reco.command', '[{[a]: 1}]', deployment('/tmp', [task('reco')]), ['reco']),
        /reco\.command=.*command: the value must be an argv list/,
      );
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });
});
