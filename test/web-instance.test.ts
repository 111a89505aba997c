import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

const TOKEN = 'op-token-for-tests';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the instance page', { skip, timeout: 60_000 }, () => {
  it('shows jobs, history and the log of a finished job', async () => {
    const dir = tempDir();
    const command = [
      'sh',
      '-c',
      'echo "calibrating run $1"; echo "constants written"',
      'sh',
      '{run}',
    ];
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, [task('calib', { command })])).catch(
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    try {
      await addRuns(daemon, [{ run: 11, fill: 1, lumi: 1, end: 1 }]);
      const inst = await instanceIn(daemon, 'calib', 11, 'done');
      await page.goto(`${daemon.url}/instances/${inst.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      assert.match(await text(page.locator('h1')), /calib/);
      assert.match(await text(page.locator('h1')), /done/);
      const log = page.locator('pre.log');
      await until(async () => /calibrating run 11/.test(await text(log)), 5000, 'the log text');
      assert.match(await text(log), /constants written/);
      const jobs = page.locator('.card', { hasText: 'Jobs' }).locator('tbody tr');
      assert.equal(await jobs.count(), 1);
      assert.match(await text(jobs.first()), /done/);
      assert.match(await text(page.locator('.card', { hasText: 'History' })), /processing/);
      assert.match(
        await text(page.locator('.card', { hasText: 'Configuration' })),
        /calibrating run/,
      );
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });

  it('says which lock holds a waiting instance, and follows it when the lock opens', async () => {
    const dir = tempDir();
    const lock = {
      kind: 'file',
      name: 'pedestals',
      timeoutMs: null,
      options: { path: 'pedestals-{run}.txt' },
    };
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, [task('calib', { locks: [lock] })])).catch(
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    try {
      await addRuns(daemon, [{ run: 51, fill: 1, lumi: 1, end: 1 }]);
      const inst = await instanceIn(daemon, 'calib', 51, 'waiting');
      await page.goto(`${daemon.url}/instances/${inst.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      assert.match(await text(page.locator('.reason')), /pedestals/);
      const locks = page.locator('.card', { hasText: 'Locks' });
      assert.match(await text(locks), /pedestals.*closed.*pedestals-51\.txt/s);
      writeFileSync(join(dir, 'pedestals-51.txt'), 'ok');
      // Locks are asked again by the full pass (the timer's, or POST /api/trigger).
      daemon.controller.trigger({ full: true });
      await until(async () => /done/.test(await text(page.locator('h1'))), 10_000, 'done, live');
      // Locators query again each time: this is the re-rendered card.
      assert.match(await text(locks), /open/);
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });

  it('tails the log of a running job live', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(deployment(dir, [task('reco', { command: HELD })])).catch(
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    try {
      await addRuns(daemon, [{ run: 21, fill: 1, lumi: 1, end: 1 }]);
      const inst = await instanceIn(daemon, 'reco', 21, 'processing');
      await until(
        async () => (await daemon.runtime.store.jobsForInstance(inst.id))[0]?.logPath,
        10_000,
        'the job to be submitted',
      );
      await page.goto(`${daemon.url}/instances/${inst.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      const log = page.locator('pre.log');
      await until(async () => /started run 21/.test(await text(log)), 10_000, 'the first line');
      assert.match(await text(page.locator('.log-bar')), /live tail/);
      release(dir, 21);
      await until(
        async () => /released run 21/.test(await text(log)),
        10_000,
        'the line written later',
      );
      await until(
        async () => /done/.test(await text(page.locator('h1'))),
        10_000,
        'the instance to show done',
      );
      assert.deepEqual(errors, []);
    } finally {
      release(dir, 21);
      await close();
      await daemon.stop();
    }
  });

  it('refuses a reprocess without an operator token and does it with one', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(
      deployment(dir, [task('calib')], {
        auth: { readOpen: true, operators: [{ name: 'alice', tokenSha256: sha256(TOKEN) }] },
      }),
    ).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      await addRuns(daemon, [{ run: 31, fill: 1, lumi: 1, end: 1 }]);
      const inst = await instanceIn(daemon, 'calib', 31, 'done');
      await page.goto(`${daemon.url}/instances/${inst.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      const msg = page.locator('.action-msg');

      await page.click('button[name=reprocess]');
      await until(async () => /Refused \(401\)/.test(await text(msg)), 5000, 'the refusal');
      assert.match(await text(msg), /operator token/);
      assert.equal((await daemon.runtime.store.getInstance(inst.id))?.attempt, 1);

      await page.fill('#token input[name=token]', TOKEN);
      await page.click('#token button[type=submit]');
      await page.fill('input[name=reason]', 'new pedestals');
      await page.click('button[name=reprocess]');
      await until(
        async () => /Reprocess requested/.test(await text(msg)),
        5000,
        'the confirmation',
      );
      const after = await until(
        async () => {
          const i = await daemon.runtime.store.getInstance(inst.id);
          return i && i.attempt === 2 ? i : undefined;
        },
        5000,
        'attempt 2',
      );
      assert.equal(after.attempt, 2);
      const events = await daemon.runtime.store.listEvents({ instanceId: inst.id });
      const reprocess = events.find((e) => e.to === 'new' && e.from !== null);
      assert.match(reprocess?.by ?? '', /alice/);
      assert.equal(reprocess?.reason?.includes('new pedestals'), true);
      // The token stays for the tab, not in the URL.
      assert.doesNotMatch(page.url(), /token/);
      assert.equal(await page.evaluate('sessionStorage.length'), 1);
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });
});
