import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh directory removed when the test file ends. */
export function tempDir(prefix = 'autoctrl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export { deployment, task } from './fixtures.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Fails the test file if it leaves a handle behind (a server, a timer, a
 * child process): such a leak would keep a real controller from exiting.
 */
export function assertNoLeaksAtEnd(allowed: readonly string[] = []): void {
  after(async () => {
    await sleep(50);
    const left = process
      .getActiveResourcesInfo()
      .filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqCallback', 'CloseReq', ...allowed].includes(r));
    assert.deepEqual(left, [], `handles left running: ${left.join(', ')}`);
  });
}
