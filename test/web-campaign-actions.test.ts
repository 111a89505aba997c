import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCampaign } from '../src/app/campaigns.ts';
import { campaignProgress } from '../src/views/campaign-progress.ts';
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

const TOKEN = 'op-token-for-tests';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('page actions: reprocess with downstream, campaign cancel and delete', {
  skip,
  timeout: 90_000,
}, () => {
  it('sends the downstream back from the instance page, and cancels then deletes a campaign from the overview', async () => {
    const dir = tempDir();
    // The browser first: a missing Chromium must not leave a daemon running.
    const { page, errors, close } = await openPage(await browser());
    const daemon = await daemonFor(
      deployment(dir, [task('reco'), task('calib', { after: ['reco'] })], {
        auth: { readOpen: true, operators: [{ name: 'alice', tokenSha256: sha256(TOKEN) }] },
      }),
    ).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      const store = daemon.runtime.store;
      await addRuns(daemon, [{ run: 31, fill: 1, lumi: 1, end: 1 }]);
      await instanceIn(daemon, 'calib', 31, 'done');
      const reco = await instanceIn(daemon, 'reco', 31, 'done');
      await page.goto(`${daemon.url}/instances/${reco.id}`);
      await page.waitForSelector('section.inst[data-state=ready]');
      await page.fill('#token input[name=token]', TOKEN);
      await page.click('#token button[type=submit]');
      await page.check('input[name=downstream]');
      await page.click('button[name=reprocess]');
      const msg = page.locator('.action-msg');
      await until(async () => /and 1 downstream/.test(await text(msg)), 5000, 'the confirmation');
      const [calib] = await store.instancesForRuns('prompt', 'calib', [31]);
      assert.equal(calib?.attempt, 2, 'the downstream went back too');

      page.on('dialog', (d) => void d.accept());
      await createCampaign(daemon.runtime, { name: 'rr', runs: '31' }, 'test');
      await page.goto(`${daemon.url}/?campaign=rr`);
      const bar = page.locator('.campaign-actions[data-campaign=rr]');
      await bar.waitFor();
      await bar.locator('button[name=cancel]').click();
      await until(async () => /Cancelled/.test(await text(bar)), 5000, 'the cancel');
      assert.equal((await store.getCampaign('rr'))?.state, 'cancelled');
      // Deleting waits for the controller to stop what it had started.
      await until(
        async () => (await campaignProgress(daemon.runtime, 'rr')).complete,
        20_000,
        'rr settled',
      );
      await bar.locator('button[name=delete]').click();
      await until(
        async () => (await store.getCampaign('rr'))?.state === 'deleted',
        5000,
        'the delete',
      );
      await page.waitForSelector('.campaign-actions', { state: 'detached' });
      assert.equal((await store.getCampaign('rr'))?.state, 'deleted');
      assert.deepEqual(errors, []);
    } finally {
      await close();
      await daemon.stop();
    }
  });
});
