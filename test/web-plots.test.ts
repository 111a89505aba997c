import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addRuns,
  browserForFile,
  browserSkip,
  daemonFor,
  instanceIn,
  openPage,
  text,
} from './browser.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir } from './helpers.ts';

const skip = browserSkip();
// Registered first so that the browser is closed before the leak check runs.
const browser = browserForFile();
assertNoLeaksAtEnd();

/** A job reporting a field that depends on its run, as the demo's laser does. */
const REPORTING = [
  process.execPath,
  '-e',
  `const e = process.env;
   fetch(e.AUTOCTRL_URL + '/api/jobs/' + e.AUTOCTRL_JOB + '/report', {
     method: 'POST',
     headers: { authorization: 'Bearer ' + e.AUTOCTRL_TOKEN, 'content-type': 'application/json' },
     body: JSON.stringify({ status: 'done', fields: { transparency: 1 - Number(e.AUTOCTRL_RUNS) / 1000 } }),
   }).then((r) => process.exit(r.ok ? 0 : 1));`,
];

describe('the plots page', { skip, timeout: 60_000 }, () => {
  it('draws a job field over time, durations and throughput', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, [task('laser', { command: REPORTING })])).catch(
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    try {
      await addRuns(
        daemon,
        [1, 2, 3, 4].map((i) => ({
          run: 40 + i,
          fill: i < 3 ? 1 : 2,
          lumi: 1,
          end: Date.UTC(2024, 4, 1, i),
        })),
      );
      for (const run of [41, 42, 43, 44]) await instanceIn(daemon, 'laser', run, 'done');
      await page.goto(`${daemon.url}/plots?task=laser&field=transparency`);
      await page.waitForSelector('section.plots[data-state=ready]');
      for (const id of ['#plot-field', '#plot-durations', '#plot-throughput']) {
        assert.equal(await page.locator(`${id} canvas`).count(), 1, `${id} has a chart`);
      }
      assert.match(await text(page.locator('#plot-field')), /laser: transparency/);
      assert.equal(await page.inputValue('select[name=field]'), 'transparency');
      await page.selectOption('select[name=x]', 'run');
      await page.waitForURL(/x=run/);
      // The URL changes first, then the chart is drawn again: wait for it, do not sample once.
      await page.waitForSelector('#plot-field canvas', { timeout: 10_000 });
      assert.equal(await page.locator('#plot-field canvas').count(), 1);
      // Every report as a sample over the time it was made, through /api/samples.
      await page.selectOption('select[name=x]', 'samples');
      await page.waitForURL(/x=samples/);
      await page.locator('#plot-field', { hasText: 'every report' }).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#plot-field canvas').count(), 1);
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });
});
