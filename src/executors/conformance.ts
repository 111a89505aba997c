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
import { NASTY_ARGS } from './conformance/nasty.ts';
import type { ExecutorJobState, JobRef } from './contract.ts';

export type { ConformanceOptions, ConformanceTarget } from './conformance/harness.ts';

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

    it('declares its scope, its job limit and its poll interval', async () => {
      const ex = await h.open();
      assert.ok(ex.scope === 'host' || ex.scope === 'cluster', `scope ${ex.scope}`);
      assert.ok(Number.isInteger(ex.maxJobs) && ex.maxJobs > 0, `maxJobs ${ex.maxJobs}`);
      assert.ok(Number.isFinite(ex.pollIntervalMs) && ex.pollIntervalMs >= 0);
    });

    it('passes argv and env verbatim, through no shell, and nothing of its own environment', async () => {
      const ex = await h.open();
      const value = '$(touch pwned-env); "x" \'y\'\n`z`';
      const j = await h.job('record', NASTY_ARGS);
      j.launch.env = { ...j.launch.env, CONFORMANCE_VALUE: value };
      // A controller's secret (an operator token, a webhook URL) must not reach jobs.
      process.env.CONFORMANCE_LEAK = 'leaked';
      try {
        await h.submit(ex, j);
      } finally {
        delete process.env.CONFORMANCE_LEAK;
      }
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 0);
      const record = (what: string) => readFile(join(j.side, `record.${what}`), 'utf8');
      assert.deepEqual((await record('argv')).split('\0').slice(0, -1), NASTY_ARGS);
      assert.equal(await record('value'), value);
      assert.equal(await record('leak'), 'unset', "the controller's environment reached the job");
      assert.equal((await record('cwd')).trim(), j.launch.cwd);
      const pwned = (await readdir(j.side)).filter((f) => f.startsWith('pwned'));
      assert.deepEqual(pwned, [], 'a job value was interpreted by a shell');
    });

    it('stages the inputs and the output directory before the job starts', async () => {
      const ex = await h.open();
      const j = await h.job('record', []);
      await h.submit(ex, j);
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 0);
      const record = (what: string) => readFile(join(j.side, `record.${what}`), 'utf8');
      assert.deepEqual(JSON.parse(await record('inputs')), j.launch.inputs);
      assert.equal((await record('outdir')).trim(), 'yes');
    });

    it('answers each launch of a batch, in order', async () => {
      const ex = await h.open();
      const jobs = [
        await h.job('exit', ['0']),
        await h.job('exit', ['2']),
        await h.job('exit', ['0']),
      ];
      const ids = await h.submitBatch(ex, jobs);
      assert.equal(new Set(ids).size, 3, 'each job has its own id');
      const codes = [];
      for (const j of jobs) codes.push((await h.waitFor(ex, j.ref, 'exited')).exitCode);
      assert.deepEqual(codes, [0, 2, 0]);
    });

    it('captures stdout and stderr in the log, and reads it back whole or its tail', async () => {
      const ex = await h.open();
      const j = await h.job('log');
      await h.submit(ex, j);
      assertExited(await h.waitFor(ex, j.ref, 'exited'), 0);
      const whole = await text(ex.readLog(j.ref));
      assert.match(whole, /conformance to stdout/);
      assert.match(whole, /conformance to stderr/);
      assert.equal(await text(ex.readLog(j.ref, { tail: 2 })), 'line 199\nline 200\n');
    });

    it('follows a log until told to stop, then gives what is left', async () => {
      const ex = await h.open();
      const j = await h.job('wait', (side) => [join(side, 'go'), '0']);
      await h.submit(ex, j);
      await h.waitFor(ex, j.ref, 'running');
      const stop = new AbortController();
      const seen = text(ex.readLog(j.ref, { follow: true, signal: stop.signal }));
      await writeFile(join(j.side, 'go'), '');
      await h.waitFor(ex, j.ref, 'exited');
      stop.abort();
      assert.equal(typeof (await seen), 'string');
    });

    it('says never-submitted for a job it never got', async () => {
      const ex = await h.open();
      const { ref } = await h.job('exit', ['0']);
      const missing: JobRef = {
        ...ref,
        jobId: ref.jobId + 100_000,
        name: `${ref.name}-missing`,
        workDir: join(h.root, 'nowhere'),
      };
      const states = await ex.status([ref, missing]);
      assert.deepEqual(states.get(ref.jobId), { state: 'never-submitted' });
      assert.deepEqual(states.get(missing.jobId), { state: 'never-submitted' });
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
      const j = await h.job('wait', (side) => [join(side, 'go'), '7']);
      const executorId = await h.submit(first, j);
      await h.waitFor(first, j.ref, 'running');
      await first.close();

      const second = await h.open();
      const unrecorded: JobRef = { ...j.ref, executorId: null };
      for (const ref of [unrecorded, j.ref]) {
        // Without the id, an executor may need a moment to learn it (`queued`, id null).
        assert.deepEqual(await h.waitFor(second, ref, 'running'), { state: 'running', executorId });
      }
      await writeFile(join(j.side, 'go'), '');
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
      const j = await h.job('wait', (side) => [join(side, 'never'), '0']);
      await h.submit(ex, j);
      await h.waitFor(ex, j.ref, 'running');
      await ex.cancel(j.ref, 'cancelled by conformance test');
      const state = await h.waitFor(ex, j.ref, 'exited');
      assert.notEqual(state.exitCode, 0, JSON.stringify(state));
      assert.equal(state.reason, 'cancelled by conformance test');
    });

    it('stops a job that runs past its timeout', async () => {
      const ex = await h.open();
      const j = await h.job('wait', (side) => [join(side, 'never'), '0'], {
        timeoutMs: h.timeoutJobMs,
      });
      await h.submit(ex, j);
      const state = await h.waitFor(ex, j.ref, 'exited');
      assert.notEqual(state.exitCode, 0, JSON.stringify(state));
      assert.match(state.reason ?? '', /timeout|time limit/i);
    });

    it('tells onChange listeners once, agreeing with status(), when it has onChange', async (t) => {
      const ex = await h.open();
      if (!ex.onChange) return t.skip('no onChange: polled only');
      const seen: Array<[number, ExecutorJobState]> = [];
      ex.onChange((jobId, state) => seen.push([jobId, state]));
      const j = await h.job('exit', ['6']);
      await h.submit(ex, j);
      const polled = await h.waitFor(ex, j.ref, 'exited');
      const deadline = Date.now() + h.waitMs;
      while (seen.length === 0 && Date.now() < deadline) await delay(10);
      await delay(50);
      assert.deepEqual(seen, [[j.ref.jobId, polled]], 'onChange must fire exactly once');
    });
  });
}

async function text(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let out = '';
  for await (const chunk of chunks) out += decoder.decode(chunk, { stream: true });
  return out + decoder.decode();
}
