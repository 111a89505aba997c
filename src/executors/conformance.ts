import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Executor, ExecutorJobState, JobLaunch, JobRef } from './contract.ts';

export interface ConformanceTarget {
  executor: Executor;
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** How long a test waits for a job to reach a state (batch systems are slower than processes). Default 15 s. */
  timeoutMs?: number;
  /** Where the suite makes its work directories: a filesystem the executor's jobs see. Default the OS temp dir. */
  workRoot?: string;
}

/**
 * The job every test runs: a small Node program, so that nothing depends on
 * the tools of the machine. `mode` says what it does; it never lingers more
 * than a minute even if a test fails to stop it.
 */
const JOB_SCRIPT = `'use strict';
const fs = require('node:fs');
const [mode, ...args] = process.argv.slice(2);
const out = process.env.CONFORMANCE_OUT;
setTimeout(() => process.exit(99), 60000);
if (mode === 'exit') process.exit(Number(args[0]));
if (mode === 'record') {
  fs.writeFileSync(out, JSON.stringify({ argv: args, env: process.env, cwd: process.cwd() }));
  process.exit(0);
}
if (mode === 'log') {
  process.stdout.write('conformance to stdout\\n');
  process.stderr.write('conformance to stderr\\n');
  process.exit(0);
}
if (mode === 'wait') {
  // Runs until the test creates the file, then exits with the given code.
  setInterval(() => { if (fs.existsSync(args[0])) process.exit(Number(args[1])); }, 20);
}
`;

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
  const waitMs = opts.timeoutMs ?? 15_000;
  let root = '';
  let script = '';
  let nextJobId = 1;
  let opened: ConformanceTarget[] = [];
  let submitted: JobRef[] = [];

  async function open(): Promise<Executor> {
    const target = await make();
    opened.push(target);
    return target.executor;
  }

  /** A launch (and the matching ref) for a job running the test program in `mode`. */
  async function job(
    mode: string,
    args: string[] | ((workDir: string) => string[]) = [],
    extra: Partial<JobLaunch> = {},
  ): Promise<{ launch: JobLaunch; ref: JobRef; workDir: string }> {
    const jobId = nextJobId++;
    const workDir = join(root, `job-${jobId}`);
    await mkdir(workDir, { recursive: true });
    const launch: JobLaunch = {
      jobId,
      name: `autoctrl-${jobId}`,
      argv: [
        process.execPath,
        script,
        mode,
        ...(typeof args === 'function' ? args(workDir) : args),
      ],
      env: { CONFORMANCE_OUT: join(workDir, 'record.json') },
      cwd: workDir,
      workDir,
      logPath: join(root, 'logs', `job-${jobId}.log`),
      timeoutMs: null,
      ...extra,
    };
    const ref: JobRef = {
      jobId,
      executorId: null,
      workDir,
      submittedAt: null,
      timeoutMs: launch.timeoutMs,
    };
    return { launch, ref, workDir };
  }

  async function submit(executor: Executor, launch: JobLaunch, ref: JobRef): Promise<string> {
    ref.submittedAt = Date.now();
    submitted.push(ref);
    const { executorId } = await executor.submit(launch);
    assert.equal(typeof executorId, 'string');
    assert.ok(executorId.length > 0, 'executorId is empty');
    return executorId;
  }

  async function stateOf(executor: Executor, ref: JobRef): Promise<ExecutorJobState> {
    const state = (await executor.status([ref])).get(ref.jobId);
    assert.ok(state, `status() has no entry for job ${ref.jobId}`);
    return state;
  }

  async function waitFor(
    executor: Executor,
    ref: JobRef,
    want: ExecutorJobState['state'],
  ): Promise<ExecutorJobState> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const state = await stateOf(executor, ref);
      if (state.state === want) return state;
      if (Date.now() > deadline) {
        assert.fail(
          `job ${ref.jobId}: no '${want}' after ${waitMs} ms, last ${JSON.stringify(state)}`,
        );
      }
      await delay(20);
    }
  }

  function assertExited(
    state: ExecutorJobState,
    exitCode: number | null,
  ): asserts state is Extract<ExecutorJobState, { state: 'exited' }> {
    assert.equal(state.state, 'exited', JSON.stringify(state));
    if (state.state === 'exited') assert.equal(state.exitCode, exitCode, JSON.stringify(state));
  }

  describe(`executor conformance: ${name}`, () => {
    before(async () => {
      root = await mkdtemp(join(opts.workRoot ?? tmpdir(), 'autoctrl-conformance-'));
      script = join(root, 'job.cjs');
      await writeFile(script, JOB_SCRIPT);
    });

    afterEach(async () => {
      // Stop whatever a failed test left running, with a fresh instance (the test's may be closed).
      const sweeper = await open();
      for (const ref of submitted) {
        const state = await stateOf(sweeper, ref);
        if (state.state === 'running' || state.state === 'queued') {
          await sweeper.cancel(ref, 'conformance cleanup');
          await waitFor(sweeper, ref, 'exited');
        }
      }
      for (const target of opened) {
        await target.executor.close();
        await target.cleanup();
      }
      opened = [];
      submitted = [];
    });

    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('reports exit code 0 for a job that succeeds', async () => {
      const ex = await open();
      const { launch, ref } = await job('exit', ['0']);
      const executorId = await submit(ex, launch, ref);
      ref.executorId = executorId;
      const state = await waitFor(ex, ref, 'exited');
      assertExited(state, 0);
      assert.equal(state.executorId, executorId);
    });

    it('reports exit code 3 for a job that exits 3', async () => {
      const ex = await open();
      const { launch, ref } = await job('exit', ['3']);
      ref.executorId = await submit(ex, launch, ref);
      assertExited(await waitFor(ex, ref, 'exited'), 3);
    });

    it('passes argv and env verbatim, through no shell', async () => {
      const ex = await open();
      const value = '$(touch pwned-env); "x" \'y\'\n`z`';
      const { launch, ref, workDir } = await job('record', NASTY);
      launch.env = {
        ...launch.env,
        CONFORMANCE_VALUE: value,
        AUTOCTRL_JOB_ID: String(launch.jobId),
      };
      await submit(ex, launch, ref);
      assertExited(await waitFor(ex, ref, 'exited'), 0);
      const record = JSON.parse(await readFile(join(workDir, 'record.json'), 'utf8'));
      assert.deepEqual(record.argv, NASTY);
      assert.equal(record.env.CONFORMANCE_VALUE, value);
      assert.equal(record.env.AUTOCTRL_JOB_ID, String(launch.jobId));
      assert.equal(record.cwd, launch.cwd);
      const pwned = (await readdir(workDir)).filter((f) => f.startsWith('pwned'));
      assert.deepEqual(pwned, [], 'a job value was interpreted by a shell');
    });

    it('captures stdout and stderr in the log', async () => {
      const ex = await open();
      const { launch, ref } = await job('log');
      await submit(ex, launch, ref);
      assertExited(await waitFor(ex, ref, 'exited'), 0);
      const log = await readFile(launch.logPath, 'utf8');
      assert.match(log, /conformance to stdout/);
      assert.match(log, /conformance to stderr/);
    });

    it('says unknown for a job never submitted', async () => {
      const ex = await open();
      const { ref } = await job('exit', ['0']);
      const missing: JobRef = {
        ...ref,
        jobId: ref.jobId + 100_000,
        workDir: join(root, 'nowhere'),
      };
      const states = await ex.status([ref, missing]);
      assert.deepEqual(states.get(ref.jobId), { state: 'unknown' });
      assert.deepEqual(states.get(missing.jobId), { state: 'unknown' });
    });

    it('reports several jobs in one status() call', async () => {
      const ex = await open();
      const a = await job('exit', ['0']);
      const b = await job('exit', ['4']);
      await submit(ex, a.launch, a.ref);
      await submit(ex, b.launch, b.ref);
      assertExited(await waitFor(ex, a.ref, 'exited'), 0);
      assertExited(await waitFor(ex, b.ref, 'exited'), 4);
      const both = await ex.status([a.ref, b.ref]);
      assert.equal(both.size, 2);
    });

    it('is found again by a fresh instance while running and after it ended, with or without its executorId', async () => {
      const first = await open();
      const { ref, launch, workDir } = await job('wait', (dir) => [join(dir, 'go'), '7']);
      const executorId = await submit(first, launch, ref);
      await waitFor(first, ref, 'running');
      await first.close();

      const second = await open();
      const unrecorded: JobRef = { ...ref, executorId: null };
      const recorded: JobRef = { ...ref, executorId };
      for (const r of [unrecorded, recorded]) {
        assert.deepEqual(await stateOf(second, r), { state: 'running', executorId });
      }
      await writeFile(join(workDir, 'go'), '');
      assertExited(await waitFor(second, recorded, 'exited'), 7);

      const third = await open();
      for (const r of [unrecorded, recorded]) {
        const state = await stateOf(third, r);
        assertExited(state, 7);
        assert.equal(state.executorId, executorId);
      }
    });

    it('is found by a fresh instance after it ended under a closed one', async () => {
      const first = await open();
      const { launch, ref } = await job('exit', ['5']);
      const executorId = await submit(first, launch, ref);
      await first.close();
      const second = await open();
      assertExited(await waitFor(second, { ...ref, executorId: null }, 'exited'), 5);
      assertExited(await stateOf(second, { ...ref, executorId }), 5);
    });

    it('cancels a job with the given reason', async () => {
      const ex = await open();
      const { launch, ref } = await job('wait', (dir) => [join(dir, 'never'), '0']);
      ref.executorId = await submit(ex, launch, ref);
      await waitFor(ex, ref, 'running');
      await ex.cancel(ref, 'cancelled by conformance test');
      const state = await waitFor(ex, ref, 'exited');
      assert.ok(state.state === 'exited' && state.exitCode !== 0, JSON.stringify(state));
      assert.equal(state.reason, 'cancelled by conformance test');
    });

    it('stops a job that runs past its timeout', async () => {
      const ex = await open();
      const { launch, ref } = await job('wait', (dir) => [join(dir, 'never'), '0'], {
        timeoutMs: 500,
      });
      ref.executorId = await submit(ex, launch, ref);
      const state = await waitFor(ex, ref, 'exited');
      assert.ok(state.state === 'exited' && state.exitCode !== 0, JSON.stringify(state));
      assert.match(state.reason ?? '', /timeout/);
    });

    it('tells onExit listeners once, agreeing with status(), when it has onExit', async (t) => {
      const ex = await open();
      if (!ex.onExit) return t.skip('no onExit: polled only');
      const seen: Array<[number, ExecutorJobState]> = [];
      ex.onExit((jobId, state) => seen.push([jobId, state]));
      const { launch, ref } = await job('exit', ['6']);
      ref.executorId = await submit(ex, launch, ref);
      const polled = await waitFor(ex, ref, 'exited');
      const deadline = Date.now() + waitMs;
      while (seen.length === 0 && Date.now() < deadline) await delay(10);
      await delay(50);
      assert.equal(seen.length, 1, 'onExit must fire exactly once');
      assert.deepEqual(seen[0], [ref.jobId, polled]);
    });
  });
}
