import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { jobRef } from '../src/engine/launch.ts';
import type { Runtime } from '../src/runtime.ts';
import { assertNoProcessesLeft } from './process-leaks.ts';

/** A fresh directory removed when the test file ends. */
export function tempDir(prefix = 'autoctrl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Retried: a job that ended with the test may still be writing its exit file (ENOTEMPTY).
  after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 40, retryDelay: 50 }));
  return dir;
}

export { deployment, task } from './fixtures.ts';

/**
 * Stops every job the runtime still has in flight, then closes it. Jobs
 * outlive their controller by design: a test that failed before letting its
 * jobs end would leave them running (waiting forever on a file in a removed
 * directory) without this. Closes it even when a cancel fails.
 */
export async function closeRuntime(
  rt: Runtime,
  /** Cancel errors to pass over (a batch system that is not there runs nothing to stop). */
  ignore: (err: unknown) => boolean = () => false,
): Promise<void> {
  try {
    for (const job of await rt.store.activeJobs()) {
      await rt.executors
        .get(job.executor)
        ?.cancel(jobRef(rt.engine.ctx, job), 'test over')
        .catch((err: unknown) => {
          if (!ignore(err)) throw err;
        });
    }
  } finally {
    await rt.close();
  }
}

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
 * child process): such a leak would keep a real controller from exiting; or a
 * process of its own running (a daemon, a job launcher), which is killed.
 */
export function assertNoLeaksAtEnd(allowed: readonly string[] = []): void {
  after(async () => {
    await sleep(50);
    const left = openHandles(allowed);
    assert.deepEqual(left, [], `handles left running: ${left.join(', ')}`);
    await assertNoProcessesLeft();
  });
}

/** What keeps the process alive now, but the terminal, pipes and file requests under way. */
export function openHandles(allowed: readonly string[] = []): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqCallback', 'CloseReq', ...allowed].includes(r));
}
