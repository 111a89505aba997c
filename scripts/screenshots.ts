// `npm run screenshots`: runs the demo for a while in a temporary directory
// and saves what the dashboard looks like to docs/*.png for the README.
//
//   npm run screenshots -- --seconds 90
//   npm run screenshots -- --dir d --seconds 10   # a demo directory kept (and continued)
//
// Debian's Chromium only (AUTOCTRL_CHROMIUM to point elsewhere).
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { loadDeployment } from '../src/config/load.ts';
import { startDaemon } from '../src/daemon.ts';
import { silentLogger } from '../src/logger.ts';
import type { Instance } from '../src/model/types.ts';
import type { StateStore } from '../src/store/contract.ts';
import { launchBrowser } from '../test/browser.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    out: { type: 'string' },
    dir: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const root = fileURLToPath(new URL('../', import.meta.url));
const out = values.out ?? join(root, 'docs');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`${s}\n`);

/**
 * The instance worth showing: a validation that failed for good (its reason,
 * the resubmit button), else a reconstruction that needed a retry (attempts,
 * exit codes), else a calibration with its fields and outputs.
 */
async function showcase(store: StateStore): Promise<Instance> {
  const find = (task: string, status: 'done' | 'failed') =>
    store.findInstances({ campaign: 'prompt', task, statuses: [status], limit: 1000 });
  const failed = await find('validation', 'failed');
  if (failed[0]) return failed[0];
  for (const inst of (await find('reco', 'done')).reverse()) {
    if ((await store.jobsForInstance(inst.id)).some((j) => j.attempt > 1)) return inst;
  }
  const [calib] = (await find('pi0-calib', 'done')).reverse();
  const any = calib ?? (await store.findInstances({ campaign: 'prompt', limit: 1 }))[0];
  if (!any) throw new Error('the demo made no instance: nothing to show');
  return any;
}

async function shoot(page: Page, url: string, ready: string, file: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector(ready, { timeout: 15_000 });
  // Let the flash of live updates fade and the charts settle.
  await sleep(1800);
  // Live-update highlights are finished, not caught half-way.
  await page.screenshot({ path: join(out, file), animations: 'disabled' });
  say(`saved ${join(out, file)}`);
}

const keep = values.dir !== undefined;
const dir = keep ? resolve(values.dir as string) : await mkdtemp(join(tmpdir(), 'autoctrl-shots-'));
if (!existsSync(join(dir, 'autoctrl.yaml')))
  await cp(join(root, 'examples', 'demo'), dir, { recursive: true });
const daemon = await startDaemon(await loadDeployment(join(dir, 'autoctrl.yaml')), {
  logger: silentLogger(),
  listen: { host: '127.0.0.1', port: 0 },
});
const browser = await launchBrowser();
try {
  say(`demo running at ${daemon.url} in ${dir}; collecting data for ${seconds} s`);
  await sleep(seconds * 1000);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await shoot(page, `${daemon.url}/`, 'section.overview[data-state=ready]', 'overview.png');
  const inst = await showcase(daemon.runtime.store);
  await shoot(
    page,
    `${daemon.url}/instances/${inst.id}`,
    'section.inst[data-state=ready]',
    'instance.png',
  );
  await shoot(
    page,
    `${daemon.url}/plots?task=laser&field=transparency&window=1h`,
    'section.plots[data-state=ready]',
    'plots.png',
  );
} finally {
  await browser.close();
  await daemon.stop();
  // Demo jobs outlive the daemon by design; give the last ones time to end.
  await sleep(1000);
  // A job that was still writing its output when the daemon stopped may race the removal.
  if (!keep) await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
}
