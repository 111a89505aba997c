import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Executor, ExecutorJobState, JobLaunch, JobRef } from '../contract.ts';

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
setTimeout(() => process.exit(99), 60000);
if (mode === 'exit') process.exit(Number(args[0]));
if (mode === 'record') {
  const record = { argv: args, env: process.env, cwd: process.cwd() };
  fs.writeFileSync(process.env.CONFORMANCE_OUT, JSON.stringify(record));
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

export type Exited = Extract<ExecutorJobState, { state: 'exited' }>;

export interface TestJob {
  launch: JobLaunch;
  ref: JobRef;
  workDir: string;
}

/** Work directories, jobs and executor instances of the suite, and the waiting it does. */
export class Harness {
  #root = '';
  #script = '';
  #nextJobId = 1;
  #opened: ConformanceTarget[] = [];
  #submitted: JobRef[] = [];
  readonly waitMs: number;

  constructor(
    private readonly make: () => Promise<ConformanceTarget>,
    private readonly opts: ConformanceOptions,
  ) {
    this.waitMs = opts.timeoutMs ?? 15_000;
  }

  get root(): string {
    return this.#root;
  }

  async setUp(): Promise<void> {
    this.#root = await mkdtemp(join(this.opts.workRoot ?? tmpdir(), 'autoctrl-conformance-'));
    this.#script = join(this.#root, 'job.cjs');
    await writeFile(this.#script, JOB_SCRIPT);
  }

  async tearDown(): Promise<void> {
    await rm(this.#root, { recursive: true, force: true });
  }

  /** Stops what a failed test left running (with a fresh instance: the test's may be closed), closes every instance. */
  async afterEach(): Promise<void> {
    const sweeper = await this.open();
    for (const ref of this.#submitted) {
      const state = await this.stateOf(sweeper, ref);
      if (state.state === 'running' || state.state === 'queued') {
        await sweeper.cancel(ref, 'conformance cleanup');
        await this.waitFor(sweeper, ref, 'exited');
      }
    }
    for (const target of this.#opened) {
      await target.executor.close();
      await target.cleanup();
    }
    this.#opened = [];
    this.#submitted = [];
  }

  /** A new executor instance: a second one over the same jobs stands for a restarted controller. */
  async open(): Promise<Executor> {
    const target = await this.make();
    this.#opened.push(target);
    return target.executor;
  }

  /** A launch (and the matching ref) for a job running the test program in `mode`. */
  async job(
    mode: string,
    args: string[] | ((workDir: string) => string[]) = [],
    extra: Partial<JobLaunch> = {},
  ): Promise<TestJob> {
    const jobId = this.#nextJobId++;
    const workDir = join(this.#root, `job-${jobId}`);
    await mkdir(workDir, { recursive: true });
    const launch: JobLaunch = {
      jobId,
      name: `autoctrl-${jobId}`,
      argv: [
        process.execPath,
        this.#script,
        mode,
        ...(typeof args === 'function' ? args(workDir) : args),
      ],
      env: { CONFORMANCE_OUT: join(workDir, 'record.json') },
      cwd: workDir,
      workDir,
      logPath: join(this.#root, 'logs', `job-${jobId}.log`),
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

  /** Submits like the engine: `submittedAt` recorded first, the returned id kept in `ref`. */
  async submit(executor: Executor, { launch, ref }: TestJob): Promise<string> {
    ref.submittedAt = Date.now();
    this.#submitted.push(ref);
    const { executorId } = await executor.submit(launch);
    assert.equal(typeof executorId, 'string');
    assert.ok(executorId.length > 0, 'executorId is empty');
    ref.executorId = executorId;
    return executorId;
  }

  async stateOf(executor: Executor, ref: JobRef): Promise<ExecutorJobState> {
    const state = (await executor.status([ref])).get(ref.jobId);
    assert.ok(state, `status() has no entry for job ${ref.jobId}`);
    return state;
  }

  async waitFor(executor: Executor, ref: JobRef, want: 'running'): Promise<ExecutorJobState>;
  async waitFor(executor: Executor, ref: JobRef, want: 'exited'): Promise<Exited>;
  async waitFor(
    executor: Executor,
    ref: JobRef,
    want: ExecutorJobState['state'],
  ): Promise<ExecutorJobState> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const state = await this.stateOf(executor, ref);
      if (state.state === want) return state;
      // `unknown` for a submitted job would let the engine run it a second time.
      if (ref.submittedAt !== null) assert.notEqual(state.state, 'unknown', `job ${ref.jobId}`);
      if (state.state === 'exited') assert.fail(`job ${ref.jobId} ended: ${JSON.stringify(state)}`);
      if (Date.now() > deadline) {
        assert.fail(
          `job ${ref.jobId}: no '${want}' after ${this.waitMs} ms, last ${JSON.stringify(state)}`,
        );
      }
      await delay(20);
    }
  }
}

export function assertExited(
  state: ExecutorJobState,
  exitCode: number | null,
): asserts state is Exited {
  assert.equal(state.state, 'exited', JSON.stringify(state));
  assert.equal((state as Exited).exitCode, exitCode, JSON.stringify(state));
}
