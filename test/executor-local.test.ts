import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runExecutorConformance } from '../src/executors/conformance.ts';
import type { ExecutorJobState, JobLaunch, JobRef } from '../src/executors/contract.ts';
import { createLocalExecutor, ExecutorError, LocalExecutor } from '../src/executors/local/index.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, submitOne, waitForState } from './executor-util.ts';
import { assertNoProcessesLeft } from './process-leaks.ts';

/** Everything this file creates lives here, so that the final check can find any process left behind. */
const base = mkdtempSync(join(tmpdir(), 'autoctrl-local-test-'));
const repo = fileURLToPath(new URL('..', import.meta.url));
/** Handles that would keep the process alive: timers and children nobody stopped. */
const watched = ['Timeout', 'ProcessWrap', 'TCPWrap', 'FSEventWrap'];
const countWatched = () =>
  process.getActiveResourcesInfo().filter((r) => watched.includes(r)).length;
const resourcesAtStart = countWatched();

const ctx = {
  logger: silentLogger(),
  dataDir: base,
  host: 'test',
  maxJobs: null,
  pollIntervalMs: null,
};
runExecutorConformance(
  'local',
  async () => ({ executor: await createLocalExecutor('local', {}, ctx), cleanup: async () => {} }),
  { workRoot: base },
);
// The fallback for machines without python3 starts jobs with Node's spawn: the same contract.
runExecutorConformance(
  'local, Node launcher',
  async () => ({
    executor: new LocalExecutor('local', { slots: 4, logger: silentLogger(), launcher: 'node' }),
    cleanup: async () => {},
  }),
  { workRoot: base },
);

/** A job that exits with `code` once `file` exists (and gives up after a minute). */
const WAIT_JS = `const [f, code] = process.argv.slice(1);
setTimeout(() => process.exit(99), 60000);
setInterval(() => { if (require('node:fs').existsSync(f)) process.exit(Number(code)); }, 20);`;

let nextJobId = 1;
/** Processes the jobs started in their own way, which the final check must find gone. */
const grandchildren: number[] = [];
let executors: LocalExecutor[] = [];
let refs: JobRef[] = [];

function local(slots = 4, killGraceMs = 3000): LocalExecutor {
  const ex = new LocalExecutor('local', { slots, logger: silentLogger(), killGraceMs });
  executors.push(ex);
  return ex;
}

function job(argv: string[] | ((workDir: string) => string[]), timeoutMs: number | null = null) {
  const jobId = nextJobId++;
  const workDir = join(base, 'local', `job-${jobId}`);
  const launch: JobLaunch = {
    ...LAUNCH_DEFAULTS,
    jobId,
    instanceId: jobId,
    name: `autoctrl-${jobId}`,
    argv: typeof argv === 'function' ? argv(workDir) : argv,
    env: {},
    cwd: base,
    workDir,
    logPath: join(workDir, 'log'),
    timeoutMs,
  };
  const ref = refOfLaunch(launch, null, Date.now());
  refs.push(ref);
  return { launch, ref, workDir, go: join(workDir, 'go') };
}

const waitJob = (code = 0, timeoutMs: number | null = null) =>
  job((dir) => [process.execPath, '-e', WAIT_JS, join(dir, 'go'), String(code)], timeoutMs);

const waitFor = (ex: LocalExecutor, ref: JobRef, want: ExecutorJobState['state']) =>
  waitForState(ex, ref, want, { ms: 10_000, everyMs: 20 });

/** Gone, or a zombie nobody reaps (PID 1 of a container may not). */
function processGone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFile(path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(path) || readFileSync(path, 'utf8') === '') {
    if (Date.now() > deadline) assert.fail(`no ${path}`);
    await delay(10);
  }
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!processGone(pid)) {
    if (Date.now() > deadline) assert.fail(`process ${pid} still alive`);
    await delay(20);
  }
}

describe('local executor', () => {
  afterEach(async () => {
    const sweeper = local();
    for (const ref of refs) {
      if ((await sweeper.status([ref])).get(ref.jobId)?.state !== 'running') continue;
      await sweeper.cancel(ref, 'test cleanup');
      await waitFor(sweeper, ref, 'exited');
    }
    for (const ex of executors) await ex.close();
    executors = [];
    refs = [];
  });

  it('kills the whole process group on timeout, SIGKILL after the grace when SIGTERM is ignored', async () => {
    const ex = local(4, 300);
    const script = (trap: string) => (dir: string) => [
      '/bin/sh',
      '-c',
      `${trap} sleep 317 & echo $! >"$0"; wait`,
      join(dir, 'grandchild'),
    ];
    const polite = job(script(''), 300);
    const stubborn = job(script("trap '' TERM;"), 300);
    // Stopped by a controller that dies before its SIGKILL: the next one must finish the job.
    const orphan = job(script("trap '' TERM;"));
    for (const j of [polite, stubborn, orphan]) await submitOne(ex, j.launch);
    const dying = local(4, 300);
    await waitFile(join(orphan.workDir, 'grandchild')); // its trap is set
    await dying.cancel(orphan.ref, 'cancelled by test');
    await dying.close();

    const a = await waitFor(ex, polite.ref, 'exited');
    assert.deepEqual(a, { ...a, exitCode: 143, reason: 'timeout after 300 ms' });
    // Killed after the grace: its launcher, outside its group, records the SIGKILL.
    const b = await waitFor(ex, stubborn.ref, 'exited');
    assert.deepEqual(b, { ...b, exitCode: 137, reason: 'timeout after 300 ms' });
    const c = await waitFor(local(4, 300), orphan.ref, 'exited');
    assert.deepEqual(c, { ...c, exitCode: 137, reason: 'cancelled by test' });
    for (const j of [polite, stubborn, orphan]) {
      grandchildren.push(Number(await readFile(join(j.workDir, 'grandchild'), 'utf8')));
      await waitGone(grandchildren.at(-1) ?? 0);
    }
  });

  // How fast is measured by bench/exit-latency.ts, not asserted here: this machine is shared.
  it('fires onChange once per job: submit → onChange for `true`', async (t) => {
    const ex = local();
    const exits = new Map<number, ExecutorJobState>();
    const twice: number[] = [];
    const waiters = new Map<number, () => void>();
    ex.onChange((jobId, state) => {
      if (exits.has(jobId)) twice.push(jobId);
      exits.set(jobId, state);
      waiters.get(jobId)?.();
    });
    const latencies: number[] = [];
    // Jobs are unref'd (the controller may exit while they run): something must keep this test's loop alive.
    const keepAlive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(keepAlive));
    for (let i = 0; i < 20; i++) {
      const { launch } = job(['true']);
      const done = new Promise<void>((resolve) => waiters.set(launch.jobId, resolve));
      const start = performance.now();
      const executorId = await submitOne(ex, launch);
      await done;
      latencies.push(performance.now() - start);
      assert.deepEqual(exits.get(launch.jobId), {
        state: 'exited',
        executorId,
        exitCode: 0,
        reason: null,
      });
    }
    const sorted = latencies.toSorted((x, y) => x - y);
    const median = ((sorted[9] ?? 0) + (sorted[10] ?? 0)) / 2;
    t.diagnostic(
      `submit → onChange for true: median ${median.toFixed(2)} ms, max ${sorted[19]?.toFixed(2)} ms`,
    );
    assert.deepEqual(twice, [], 'onChange fired twice for a job');
    const killed = job(['/bin/sh', '-c', 'kill -9 $$']);
    await submitOne(ex, killed.launch);
    const state = await waitFor(ex, killed.ref, 'exited');
    assert.deepEqual(state, { ...state, exitCode: 137, reason: 'killed by signal 9' });
  });

  it('finds exit statuses after a restart, including a job that ended while no controller existed', async () => {
    const first = local();
    const ended = waitJob(4);
    const timed = waitJob(0, 400);
    const ids = [await submitOne(first, ended.launch), await submitOne(first, timed.launch)];
    await first.close();
    await writeFile(ended.go, '');
    // The launcher outlives its closed controller until it has recorded its jobs' ends.
    await waitFile(join(ended.workDir, 'exit'));

    const second = local();
    for (const ref of [ended.ref, { ...ended.ref, executorId: ids[0] ?? null }]) {
      const state = (await second.status([ref])).get(ref.jobId);
      assert.deepEqual(state, { state: 'exited', executorId: ids[0], exitCode: 4, reason: null });
    }
    // The submit-time timer died with the first instance: status() enforces the limit.
    const state = await waitFor(second, timed.ref, 'exited');
    assert.equal(state.state === 'exited' && state.reason, 'timeout after 400 ms');
  });

  it('adopts a job whose controller was SIGKILLed before recording its executorId', async () => {
    const j = waitJob(9);
    const src = (p: string) => JSON.stringify(pathToFileURL(join(repo, p)).href);
    const controller = join(base, 'controller.mts');
    await writeFile(
      controller,
      `import { LocalExecutor } from ${src('src/executors/local/index.ts')};
import { silentLogger } from ${src('src/logger.ts')};
const ex = new LocalExecutor('local', { slots: 1, logger: silentLogger() });
const [answer] = await ex.submit([JSON.parse(process.argv[2])]);
const executorId = answer.executorId;
process.stdout.write(executorId + '\\n');
setInterval(() => {}, 1000);`,
    );
    const args = ['--import', 'tsx', controller, JSON.stringify(j.launch)];
    const child = spawn(process.execPath, args, {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const executorId = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`controller exited ${code}`)));
    });
    const dead = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await dead;

    const next = local();
    assert.deepEqual(await waitFor(next, j.ref, 'running'), { state: 'running', executorId });
    await writeFile(j.go, '');
    const state = await waitFor(next, j.ref, 'exited');
    assert.deepEqual(state, { state: 'exited', executorId, exitCode: 9, reason: null });
  });

  it('refuses to submit the same job twice', async () => {
    const ex = local();
    const j = waitJob(0);
    await submitOne(ex, j.launch);
    await assert.rejects(submitOne(local(), j.launch), ExecutorError);
    await writeFile(j.go, '');
    await waitFor(ex, j.ref, 'exited');
  });

  it('tells a spawn that never happened from one in progress by the marker age', async () => {
    const ex = local();
    const j = job(['true']);
    await mkdir(j.workDir, { recursive: true });
    const marker = join(j.workDir, 'submitted');
    await writeFile(marker, '');
    assert.deepEqual((await ex.status([j.ref])).get(j.ref.jobId), {
      state: 'queued',
      executorId: null,
    });
    const old = new Date(Date.now() - 20_000);
    await utimes(marker, old, old);
    assert.deepEqual((await ex.status([j.ref])).get(j.ref.jobId), { state: 'never-submitted' });
    assert.deepEqual(readdirSync(j.workDir), []);
    await submitOne(ex, j.launch); // safe to submit now
    await waitFor(ex, j.ref, 'exited');
  });

  it('says lost when the pid now belongs to another process, never-submitted after a failed spawn', async () => {
    const ex = local();
    const reused = job(['true']);
    await mkdir(reused.workDir, { recursive: true });
    await writeFile(join(reused.workDir, 'submitted'), '');
    await writeFile(join(reused.workDir, 'pid'), `${process.pid}\n`);
    const state = (await ex.status([reused.ref])).get(reused.ref.jobId);
    assert.deepEqual(state, { ...state, state: 'exited', exitCode: null });
    assert.match(state?.state === 'exited' ? (state.reason ?? '') : '', /^lost:/);

    const failed = job(['true']);
    failed.launch.cwd = join(base, 'no-such-dir');
    await assert.rejects(submitOne(ex, failed.launch), ExecutorError);
    assert.deepEqual((await ex.status([failed.ref])).get(failed.ref.jobId), {
      state: 'never-submitted',
    });
    await assert.rejects(submitOne(ex, { ...job([]).launch }), /argv is empty/);
  });
});

after(async () => {
  // No job, wrapper or grandchild of this file may survive it.
  const leftovers = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const ours = cmd.includes(base) || grandchildren.includes(Number(pid));
        return ours && !processGone(Number(pid)) ? [`${pid}: ${cmd}`] : [];
      } catch {
        return [];
      }
    });
  await rm(base, { recursive: true, force: true });
  assert.deepEqual(leftovers, []);
  await assertNoProcessesLeft();
  assert.ok(
    countWatched() <= resourcesAtStart,
    `handles left open: ${process.getActiveResourcesInfo().join(', ')}`,
  );
});
