import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Executor, ExecutorJobState, JobLaunch, JobRef } from '../contract.ts';
import { refOfLaunch } from '../shared/job-ref.ts';

export interface ConformanceTarget {
  executor: Executor;
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** How long a test waits for a job to reach a state (batch systems are slower than processes). Default 15 s. */
  timeoutMs?: number;
  /** Where the suite makes its work directories: a filesystem the executor's jobs see. Default the OS temp dir. */
  workRoot?: string;
  /** The run-time limit of the timeout test (a batch system counts whole minutes: Slurm's is 1 min). Default 500 ms. */
  timeoutJobMs?: number;
}

/**
 * The job every test runs: POSIX `sh`, because worker nodes may have no
 * Node.js. `mode` says what it does; it never lingers more than a minute
 * past twice the timeout test's limit even if a test fails to stop it (it
 * must outlive that limit: Slurm enforces a 1 min limit only at its next
 * check, up to 30 s later).
 */
const JOB_SCRIPT = `mode=$1; shift
case $mode in
exit) exit "$1" ;;
record)
  printf '%s\\0' "$@" > "$CONFORMANCE_OUT.argv"
  printf '%s' "$CONFORMANCE_VALUE" > "$CONFORMANCE_OUT.value"
  printf '%s' "\${CONFORMANCE_LEAK-unset}" > "$CONFORMANCE_OUT.leak"
  pwd > "$CONFORMANCE_OUT.cwd"
  cat "$AUTOCTRL_INPUTS" > "$CONFORMANCE_OUT.inputs"
  [ -d "$AUTOCTRL_OUTPUT_DIR" ] && echo yes > "$CONFORMANCE_OUT.outdir"
  exit 0 ;;
log)
  echo 'conformance to stdout'
  echo 'conformance to stderr' >&2
  i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i + 1)); done
  exit 0 ;;
wait)
  # Runs until the test creates the file, then exits with the given code.
  i=0
  while [ ! -e "$1" ]; do
    sleep 0.05; i=$((i + 1)); [ $i -gt "$CONFORMANCE_GIVE_UP" ] && exit 99
  done
  exit "$2" ;;
esac
exit 98
`;

export type Exited = Extract<ExecutorJobState, { state: 'exited' }>;

export interface TestJob {
  launch: JobLaunch;
  ref: JobRef;
  /** Where the job writes its records (`record.*`) and `wait` looks for its file: not the work directory, which the executor owns. */
  side: string;
}

/** Work directories, jobs and executor instances of the suite, and the waiting it does. */
export class Harness {
  #root = '';
  #script = '';
  #nextJobId = 1;
  /** Tells this run's job names from another's on a shared batch system. */
  readonly #tag = Math.random().toString(36).slice(2, 8);
  #opened: ConformanceTarget[] = [];
  #submitted: JobRef[] = [];
  readonly waitMs: number;
  readonly timeoutJobMs: number;

  constructor(
    private readonly make: () => Promise<ConformanceTarget>,
    private readonly opts: ConformanceOptions,
  ) {
    this.waitMs = opts.timeoutMs ?? 15_000;
    this.timeoutJobMs = opts.timeoutJobMs ?? 500;
  }

  get root(): string {
    return this.#root;
  }

  async setUp(): Promise<void> {
    this.#root = await mkdtemp(join(this.opts.workRoot ?? tmpdir(), 'autoctrl-conformance-'));
    this.#script = join(this.#root, 'job.sh');
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
      if (['running', 'queued', 'held', 'suspended'].includes(state.state)) {
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
    args: readonly string[] | ((workDir: string) => string[]) = [],
    extra: Partial<JobLaunch> = {},
  ): Promise<TestJob> {
    const jobId = this.#nextJobId++;
    // The executor creates the work directory; the records and the `wait` files live beside it.
    const workDir = join(this.#root, `job-${jobId}`);
    const side = join(this.#root, `side-${jobId}`);
    await mkdir(side, { recursive: true });
    const launch: JobLaunch = {
      jobId,
      attempt: 1,
      instanceId: jobId,
      name: `conformance-${this.#tag}-${jobId}.1`,
      argv: ['/bin/sh', this.#script, mode, ...(typeof args === 'function' ? args(side) : args)],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        CONFORMANCE_OUT: join(side, 'record'),
        // Rounds of 50 ms the `wait` mode waits at most.
        CONFORMANCE_GIVE_UP: String(Math.ceil((60_000 + 2 * this.timeoutJobMs) / 50)),
        AUTOCTRL_INPUTS: join(workDir, 'inputs.json'),
        AUTOCTRL_OUTPUT_DIR: join(workDir, 'out'),
      },
      cwd: side,
      workDir,
      inputs: { runs: [], outputs: [], input: `input of job ${jobId}` },
      logPath: join(this.#root, 'logs', `job-${jobId}.log`),
      timeoutMs: null,
      resources: {},
      ...extra,
    };
    return { launch, ref: refOfLaunch(launch), side };
  }

  /** Submits like the engine: `submittedAt` recorded first, the returned id kept in `ref`. */
  async submit(executor: Executor, job: TestJob): Promise<string> {
    const [id] = await this.submitBatch(executor, [job]);
    return id as string;
  }

  /** Submits jobs as one batch; each must be accepted, and its id is learnt now or from `status`. */
  async submitBatch(executor: Executor, jobs: readonly TestJob[]): Promise<string[]> {
    for (const { ref } of jobs) {
      ref.submittedAt = Date.now();
      this.#submitted.push(ref);
    }
    const answers = await executor.submit(jobs.map((j) => j.launch));
    assert.equal(answers.length, jobs.length, 'one answer per launch');
    const ids: string[] = [];
    for (const [i, { ref }] of jobs.entries()) {
      const answer = answers[i];
      assert.ok(
        answer !== undefined && 'executorId' in answer,
        `job ${ref.jobId}: ${String(answer && 'error' in answer ? answer.error : answer)}`,
      );
      let id = answer.executorId;
      if (id === null) {
        const deadline = Date.now() + this.waitMs;
        while (id === null && Date.now() < deadline) {
          const st = await this.stateOf(executor, ref);
          if ('executorId' in st && st.executorId !== null) id = st.executorId;
          else await delay(50);
        }
      }
      assert.ok(id !== null && id.length > 0, `job ${ref.jobId}: no executor id`);
      ref.executorId = id;
      ids.push(id);
    }
    return ids;
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
  ): Promise<ExecutorJobState>;
  async waitFor(
    executor: Executor,
    ref: JobRef,
    want: ExecutorJobState['state'],
  ): Promise<ExecutorJobState> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const state = await this.stateOf(executor, ref);
      if (state.state === want) return state;
      // `never-submitted` for a submitted job would let the engine run it a second time.
      if (ref.submittedAt !== null)
        assert.notEqual(state.state, 'never-submitted', `job ${ref.jobId}`);
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
