import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  assertExited,
  type ConformanceOptions,
  type ConformanceTarget,
  Harness,
} from './conformance/harness.ts';
import type { ExecutorJobState, JobRef } from './contract.ts';

export type { ConformanceOptions, ConformanceTarget } from './conformance/harness.ts';

/** Arguments a shell would mangle: each must arrive exactly as given. */
const NASTY = [
  'with space',
  "single ' quote",
  'double " quote',
  '$(touch pwned-subst)',
  '`touch pwned-backtick`',
  'a; touch pwned-semicolon',
  'line one\nline two',
  `$HOME \${PATH}`,
  '*',
  '',
  '-n',
  'back\\slash',
  '| cat > pwned-pipe',
  'ünïcødé ✓',
];

/**
 * The suite every executor passes (`test/executor-<kind>.test.ts`). `make`
 * returns a fresh executor instance each time it is called: a second instance
 * over the same work directories stands for a restarted controller.
 */
export function runExecutorConformance(
  name: string,
  make: () => Promise<ConformanceTarget>,
  opts: ConformanceOptions = {},
): void {
  const h = new Harness(make, opts);

  describe(`executor conformance: ${name}`, () => {
    before(() => h.setUp());
    afterEach(() => h.afterEach());
    after(() => h.tearDown());

    it('reports exit code 0 for a job that succeeds', async () => {
      const ex = await h.open();
      const j = await h.job('exit', ['0']);
      const executorId = await h.submit(ex, j);
      const state = await h.waitFor(ex, j.ref, 'exited');
      assertExited(state, 0);
      assert.equal(state.executorId, executorId);
    });

    it('reports exit code 3 for a job that exits 3', async () => {
      const ex = await h.open();
      const j = await h.job('exit', ['3']);
      await h.submit(ex, j);
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 3);
    });

    it('passes argv and env verbatim, through no shell', async () => {
      const ex = await h.open();
      const value = '$(touch pwned-env); "x" \'y\'\n`z`';
      const j = await h.job('record', NASTY);
      j.launch.env = { ...j.launch.env, CONFORMANCE_VALUE: value, AUTOCTRL_JOB_ID: '42' };
      await h.submit(ex, j);
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 0);
      const record = JSON.parse(await readFile(join(j.workDir, 'record.json'), 'utf8'));
      assert.deepEqual(record.argv, NASTY);
      assert.equal(record.env.CONFORMANCE_VALUE, value);
      assert.equal(record.env.AUTOCTRL_JOB_ID, '42');
      assert.equal(record.cwd, j.launch.cwd);
      const pwned = (await readdir(j.workDir)).filter((f) => f.startsWith('pwned'));
      assert.deepEqual(pwned, [], 'a job value was interpreted by a shell');
    });

    it('captures stdout and stderr in the log', async () => {
      const ex = await h.open();
      const j = await h.job('log');
      await h.submit(ex, j);
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 0);
      const log = await readFile(j.launch.logPath, 'utf8');
      assert.match(log, /conformance to stdout/);
      assert.match(log, /conformance to stderr/);
    });

    it('says unknown for a job never submitted', async () => {
      const ex = await h.open();
      const { ref } = await h.job('exit', ['0']);
      const missing: JobRef = {
        ...ref,
        jobId: ref.jobId + 100_000,
        workDir: join(h.root, 'nowhere'),
      };
      const states = await ex.status([ref, missing]);
      assert.deepEqual(states.get(ref.jobId), { state: 'unknown' });
      assert.deepEqual(states.get(missing.jobId), { state: 'unknown' });
    });

    it('reports several jobs in one status() call', async () => {
      const ex = await h.open();
      const a = await h.job('exit', ['0']);
      const b = await h.job('exit', ['4']);
      await h.submit(ex, a);
      await h.submit(ex, b);
      assertExited(await h.waitFor(ex, a.ref, 'exited'), 0);
      assertExited(await h.waitFor(ex, b.ref, 'exited'), 4);
      assert.equal((await ex.status([a.ref, b.ref])).size, 2);
    });

    it('is found again by a fresh instance while running and after it ended, with or without its executorId', async () => {
      const first = await h.open();
      const j = await h.job('wait', (dir) => [join(dir, 'go'), '7']);
      const executorId = await h.submit(first, j);
      await h.waitFor(first, j.ref, 'running');
      await first.close();

      const second = await h.open();
      const unrecorded: JobRef = { ...j.ref, executorId: null };
      for (const ref of [unrecorded, j.ref]) {
        // Without the id, an executor may need a moment to learn it (`queued`, id null).
        assert.deepEqual(await h.waitFor(second, ref, 'running'), { state: 'running', executorId });
      }
      await writeFile(join(j.workDir, 'go'), '');
      assertExited(await h.waitFor(second, j.ref, 'exited'), 7);

      const third = await h.open();
      for (const ref of [unrecorded, j.ref]) {
        const state = await h.stateOf(third, ref);
        assertExited(state, 7);
        assert.equal(state.executorId, executorId);
      }
    });

    it('is found by a fresh instance after it ended under a closed one', async () => {
      const first = await h.open();
      const j = await h.job('exit', ['5']);
      await h.submit(first, j);
      await first.close();
      const second = await h.open();
      assertExited(await h.waitFor(second, { ...j.ref, executorId: null }, 'exited'), 5);
      assertExited(await h.stateOf(second, j.ref), 5);
    });

    it('cancels a job with the given reason', async () => {
      const ex = await h.open();
      const j = await h.job('wait', (dir) => [join(dir, 'never'), '0']);
      await h.submit(ex, j);
      await h.waitFor(ex, j.ref, 'running');
      await ex.cancel(j.ref, 'cancelled by conformance test');
      const state = await h.waitFor(ex, j.ref, 'exited');
      assert.notEqual(state.exitCode, 0, JSON.stringify(state));
      assert.equal(state.reason, 'cancelled by conformance test');
    });

    it('stops a job that runs past its timeout', async () => {
      const ex = await h.open();
      const j = await h.job('wait', (dir) => [join(dir, 'never'), '0'], { timeoutMs: 500 });
      await h.submit(ex, j);
      const state = await h.waitFor(ex, j.ref, 'exited');
      assert.notEqual(state.exitCode, 0, JSON.stringify(state));
      assert.match(state.reason ?? '', /timeout/);
    });

    it('tells onExit listeners once, agreeing with status(), when it has onExit', async (t) => {
      const ex = await h.open();
      if (!ex.onExit) return t.skip('no onExit: polled only');
      const seen: Array<[number, ExecutorJobState]> = [];
      ex.onExit((jobId, state) => seen.push([jobId, state]));
      const j = await h.job('exit', ['6']);
      await h.submit(ex, j);
      const polled = await h.waitFor(ex, j.ref, 'exited');
      const deadline = Date.now() + h.waitMs;
      while (seen.length === 0 && Date.now() < deadline) await delay(10);
      await delay(50);
      assert.deepEqual(seen, [[j.ref.jobId, polled]], 'onExit must fire exactly once');
    });
  });
}
