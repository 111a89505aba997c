import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { reprocessInstance } from '../src/app/actions.ts';
import {
  addRuns,
  browserForFile,
  browserSkip,
  daemonFor,
  instanceIn,
  openPage,
  text,
} from './browser.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';

const skip = browserSkip();
// Registered first so that the browser is closed before the leak check runs.
const browser = browserForFile();
assertNoLeaksAtEnd();

describe('the instance page compares attempts', { skip, timeout: 90_000 }, () => {
  it('shows what changed in the code between the first and the second attempt', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'calib.cfg'), 'gt = 130X_v1\n');
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(
      deployment(dir, [task('calib', { command: ['sh', '-c', 'exit 0'], code: ['calib.cfg'] })]),
    ).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      await addRuns(daemon, [{ run: 21, fill: 1, lumi: 1, end: 1 }]);
      const first = await instanceIn(daemon, 'calib', 21, 'done');
      await page.goto(`${daemon.url}/instances/${first.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      const card = page.locator('.card', { has: page.locator('h2', { hasText: /^Attempts/ }) });
      assert.match(await text(card), /one attempt so far/);

      writeFileSync(join(dir, 'calib.cfg'), 'gt = 130X_v2\n');
      await reprocessInstance(daemon.runtime.store, first.id, { by: 'operator:test' });
      daemon.controller.trigger();
      await instanceIn(daemon, 'calib', 21, 'done');
      await until(
        async () => (await card.locator('.diff[data-state=ready]').count()) === 1,
        15_000,
        'the diff of attempts 1 and 2 on the page (live)',
      );
      const row = card.locator('tbody tr');
      assert.equal(await row.count(), 1);
      assert.match(await text(row), /file\s*calib\.cfg\s*[0-9a-f]{12}\s*[0-9a-f]{12}/);
      assert.match(await text(card.locator('select').first()), /attempt 1/);

      // Picking the same attempt on both sides: nothing changed.
      await card.locator('select').first().selectOption('2');
      await until(
        async () => /no change/.test(await text(card.locator('.diff'))),
        5000,
        'the empty diff',
      );
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });
});
