import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import type { Deployment } from '../src/config/types.ts';
import { type Daemon, startDaemon } from '../src/daemon.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus, RunInput } from '../src/model/types.ts';
import { until } from './helpers.ts';

// Helpers of the browser tests (test/web-*.test.ts): Chromium, a daemon per
// test, and jobs the test holds while it watches the page.

/**
 * Debian's Chromium, driven by playwright-core: no browser download, ever.
 * `AUTOCTRL_CHROMIUM` points elsewhere if a machine keeps it elsewhere.
 */
export const CHROMIUM = process.env.AUTOCTRL_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * Why the browser tests cannot run here, for `describe(..., { skip })`; false
 * when they can. In CI (`AUTOCTRL_REQUIRE_SERVICES=1`) a missing Chromium is
 * not a reason to skip: the tests run and fail saying what is missing.
 */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM) || process.env.AUTOCTRL_REQUIRE_SERVICES === '1') return false;
  return `${CHROMIUM} not found: browser tests skipped (apt-get install chromium, or set AUTOCTRL_CHROMIUM)`;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: the browser tests need Debian's chromium (apt-get install chromium)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** One browser for the test file, closed when it ends. */
export function browserForFile(): () => Promise<Browser> {
  let browser: Promise<Browser> | null = null;
  after(async () => {
    // A launch that failed was already reported by the test that needed it.
    if (browser)
      await browser.then(
        (b) => b.close(),
        () => {},
      );
  });
  return () => {
    browser ??= launchBrowser();
    return browser;
  };
}

/**
 * A fresh page (own context: no shared storage between tests) that fails the
 * test on an uncaught error in the page.
 */
export async function openPage(
  browser: Browser,
): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors, close: () => context.close() };
}

/**
 * A job that waits until the test lets it go (`release(dir, run)`), so the
 * page can be watched while it runs. No shell metacharacters come from run
 * data: the run number is a separate argument.
 */
export const HELD = [
  'sh',
  '-c',
  'echo "started run $1"; until [ -e "release-$1" ]; do sleep 0.05; done; echo "released run $1"',
  'sh',
  '{run}',
];

export function release(dir: string, run: number): void {
  writeFileSync(join(dir, `release-${run}`), '');
}

/** A real daemon (engine, executors, HTTP) in-process on a free port. */
export function daemonFor(d: Deployment): Promise<Daemon> {
  return startDaemon(d, { logger: silentLogger(), listen: { host: '127.0.0.1', port: 0 } });
}

/** What `autoctrl runs add` does: store the runs, then poke the daemon. */
export async function addRuns(daemon: Daemon, runs: RunInput[]): Promise<void> {
  await daemon.runtime.store.upsertRuns(runs, 'test');
  daemon.controller.trigger();
}

/** The instance of (prompt, task) covering `run`, once it is in `status`. */
export async function instanceIn(
  daemon: Daemon,
  task: string,
  run: number,
  status: InstanceStatus,
  timeoutMs = 15_000,
) {
  return until(
    async () => {
      const [inst] = await daemon.runtime.store.instancesForRuns('prompt', task, [run]);
      return inst?.status === status ? inst : undefined;
    },
    timeoutMs,
    `${task} of run ${run} to be ${status}`,
  );
}

/** A locator's text ('' when absent). */
export async function text(l: Locator): Promise<string> {
  return (await l.textContent()) ?? '';
}
