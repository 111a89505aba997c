import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addRuns,
  browserForFile,
  browserSkip,
  daemonFor,
  HELD,
  instanceIn,
  openPage,
  release,
  text,
} from './browser.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';

const skip = browserSkip();
// Registered first so that the browser is closed before the leak check runs.
const browser = browserForFile();
assertNoLeaksAtEnd();

/** Two workflows, so the grid has a header row of groups. */
const tasks = (command: string[]) => [
  task('reco', { workflow: 'reconstruction', command }),
  task('calib', { workflow: 'calibration', after: ['reco'], command: ['true'] }),
];

const rowCount = (page: import('playwright-core').Page) =>
  page.locator('table.grid tbody tr').count();

describe('the overview page', { skip, timeout: 60_000 }, () => {
  it('loads the grid: run info, workflow groups, a coloured lettered cell per task', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, tasks(['true']))).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      await addRuns(daemon, [
        {
          run: 101,
          fill: 7,
          lumi: 12.5,
          end: Date.UTC(2022, 9, 3, 14, 52, 8),
          meta: { global_tag: 'GT_v4' },
        },
        // Metadata is shown as text, never parsed as HTML.
        {
          run: 102,
          fill: 7,
          lumi: 3,
          end: Date.UTC(2022, 9, 3, 15, 0),
          meta: { global_tag: '<img src=x onerror="window.pwned=1">' },
        },
      ]);
      await instanceIn(daemon, 'calib', 101, 'done');
      await instanceIn(daemon, 'calib', 102, 'done');
      await page.goto(`${daemon.url}/`);
      await page.waitForSelector('section.overview[data-state=ready]');
      assert.equal(await rowCount(page), 2);
      const groups = await page.locator('thead tr.groups th').allTextContents();
      assert.deepEqual(groups.slice(1), ['reconstruction', 'calibration']);
      const row = page.locator('tr[data-run="101"]');
      assert.match(await text(row.locator('th.run')), /101/);
      assert.match(await text(row), /2022-10-03 14:52:08/);
      assert.match(await text(row), /12\.5/);
      const cell = row.locator('td.c').first();
      assert.equal((await text(cell)).trim(), 'D');
      assert.match((await cell.getAttribute('class')) ?? '', /s-done/);
      assert.match((await cell.getAttribute('title')) ?? '', /reco: done/);
      assert.match((await text(row.locator('td.gstatus'))).trim(), /done/);
      assert.equal(await page.locator('table.grid img').count(), 0);
      assert.equal(await page.evaluate('window.pwned'), undefined);
      await until(
        async () => /controller/.test(await text(page.locator('#health'))),
        5000,
        'the health header',
      );
      // Which controller runs the local jobs: said in a title, and in the text only when it is news.
      await until(
        async () => (await page.locator('#health span[title^="local: "]').count()) > 0,
        5000,
        "who runs the executor's jobs",
      );
      const runBy = await page.locator('#health span[title^="local: "]').getAttribute('title');
      assert.match(runBy ?? '', /^local: its jobs are run by \S+ since /);
      assert.doesNotMatch(await text(page.locator('#health')), /on no controller/);
      // A cell opens its instance in the page, and back returns to the grid.
      await cell.click();
      await page.waitForURL(/\/instances\/\d+$/);
      await page.waitForSelector('section.inst[data-state=ready]');
      assert.match(await text(page.locator('h1')), /reco/);
      await page.goBack();
      await page.waitForSelector('section.overview[data-state=ready]');
      assert.equal(await rowCount(page), 2);
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });

  it('narrows the grid with a filter kept in the URL, across a reload', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, tasks(['true']))).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      await addRuns(
        daemon,
        Array.from({ length: 10 }, (_, i) => ({
          run: 200 + i,
          fill: i < 6 ? 1 : 2,
          lumi: 1,
          end: 1_000 + i,
        })),
      );
      await instanceIn(daemon, 'calib', 209, 'done');
      await page.goto(`${daemon.url}/`);
      await page.waitForSelector('section.overview[data-state=ready]');
      assert.equal(await rowCount(page), 10);
      await page.fill('form.filters input[name=fill]', '2');
      await page.waitForURL(/[?&]fill=2/);
      await until(async () => (await rowCount(page)) === 4, 5000, 'the grid to show fill 2 only');
      await page.reload();
      await page.waitForSelector('section.overview[data-state=ready]');
      assert.equal(await rowCount(page), 4);
      assert.equal(await page.inputValue('form.filters input[name=fill]'), '2');
      const runs = await page.locator('tbody th.run').allTextContents();
      assert.deepEqual(runs, ['209', '208', '207', '206']);
      // A task-status filter goes to the URL the same way.
      await page.selectOption('form.filters select[name=task]', 'reco');
      await page.selectOption('form.filters select[name=task_status]', 'failed');
      await page.waitForURL(/task_status=failed/);
      await until(async () => (await rowCount(page)) === 0, 5000, 'no row where reco failed');
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });

  it('shows a status change and a new run live, without reloading', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, tasks(HELD))).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      await addRuns(daemon, [{ run: 301, fill: 1, lumi: 1, end: 1 }]);
      await instanceIn(daemon, 'reco', 301, 'processing');
      await page.goto(`${daemon.url}/`);
      await page.waitForSelector('section.overview[data-state=ready]');
      // Survives only if the page is never reloaded.
      await page.evaluate('window.sameDocument = true');
      const reco = page.locator('tr[data-run="301"] td.c').first();
      assert.equal((await text(reco)).trim(), 'P');
      await until(
        async () => /\blive\b/.test(await text(page.locator('#health'))),
        5000,
        'the stream',
      );

      release(dir, 301);
      await until(async () => (await text(reco)).trim() === 'D', 10_000, 'reco of 301 to turn D');
      const calib = page.locator('tr[data-run="301"] td.c').nth(1);
      await until(async () => (await text(calib)).trim() === 'D', 10_000, 'calib of 301 to turn D');
      await until(
        async () => /done/.test(await text(page.locator('tr[data-run="301"] td.gstatus'))),
        5000,
        'the global status to turn done',
      );

      await addRuns(daemon, [{ run: 302, fill: 1, lumi: 1, end: 2 }]);
      await until(async () => (await rowCount(page)) === 2, 10_000, 'run 302 to appear');
      assert.deepEqual(await page.locator('tbody th.run').allTextContents(), ['302', '301']);
      await until(
        async () => (await text(page.locator('tr[data-run="302"] td.c').first())).trim() === 'P',
        10_000,
        'reco of 302 to show P',
      );
      assert.equal(await page.evaluate('window.sameDocument'), true);
      release(dir, 302);
      // Its job ends before the directory it polls goes with the test.
      await instanceIn(daemon, 'reco', 302, 'done');
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });
});
