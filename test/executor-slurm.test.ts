import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ExecutorUnavailableError } from '../src/errors.ts';
import { runExecutorConformance } from '../src/executors/conformance.ts';
import type { ExecutorJobState, JobLaunch, JobRef } from '../src/executors/contract.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { createSlurmExecutor, type SlurmExecutor } from '../src/executors/slurm/index.ts';
import { CANCELLED_OUTSIDE } from '../src/executors/slurm/states.ts';
import { taskFilePath, taskFileText } from '../src/executors/slurm/task-file.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, waitForState } from './executor-util.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';
import { slurmForThisFile } from './services/slurm.ts';

const { skip, cluster } = slurmForThisFile();
assertNoLeaksAtEnd();
const base = mkdtempSync(join(tmpdir(), 'autoctrl-slurm-test-'));
after(() => rmSync(base, { recursive: true, force: true }));

async function slurm(options: Record<string, unknown> = {}, pollIntervalMs: number | null = null) {
  return (await createSlurmExecutor(
    'slurm',
    { slurm_conf: cluster().conf, command_timeout: '5s', ...options },
    { logger: silentLogger(), dataDir: base, host: 'test', maxJobs: null, pollIntervalMs },
  )) as SlurmExecutor;
}

describe('slurm executor', { skip }, () => {
  runExecutorConformance(
    'slurm',
    async () => ({ executor: await slurm(), cleanup: async () => {} }),
    // Slurm's shortest time limit is a minute, enforced at its next check (up to 30 s later).
    { workRoot: base, timeoutMs: 150_000, timeoutJobMs: 60_000 },
  );
});

let nextJobId = 1;
const tag = Math.random().toString(36).slice(2, 8);

/** A launch and its ref; `argv` may use the job's side directory (for `go` files). */
function job(argv: string[] | ((dir: string) => string[]), env: Record<string, string> = {}) {
  const jobId = nextJobId++;
  const workDir = join(base, 'cases', `job-${jobId}`);
  const side = join(base, 'cases', `side-${jobId}`);
  mkdirSync(side, { recursive: true });
  const launch: JobLaunch = {
    ...LAUNCH_DEFAULTS,
    jobId,
    instanceId: 1,
    name: `test-${tag}-${jobId}.1`,
    argv: typeof argv === 'function' ? argv(side) : argv,
    env: { PATH: '/usr/bin:/bin', ...env },
    cwd: side,
    workDir,
    logPath: join(workDir, 'log.txt'),
    timeoutMs: null,
  };
  return { launch, ref: refOfLaunch(launch, null, Date.now()), go: join(side, 'go') };
}

/** Runs until its `go` file exists (at most 2 min), then exits 0. */
const waitJob = () =>
  job((side) => [
    '/bin/sh',
    '-c',
    'i=0; while [ ! -e "$0" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done',
    join(side, 'go'),
  ]);

async function submitAll(ex: SlurmExecutor, jobs: Array<{ launch: JobLaunch; ref: JobRef }>) {
  const answers = await ex.submit(jobs.map((j) => j.launch));
  for (const [i, a] of answers.entries()) {
    assert.ok('executorId' in a && a.executorId !== null, JSON.stringify(a));
    (jobs[i] as { ref: JobRef }).ref.executorId = a.executorId;
  }
  return jobs.map((j) => j.ref.executorId as string);
}

const waitFor = (
  ex: SlurmExecutor,
  ref: JobRef,
  ok: (s: ExecutorJobState) => boolean,
  ms = 30_000,
) => waitForState(ex, ref, ok, { ms, everyMs: 100 });
const is = (want: ExecutorJobState['state']) => (s: ExecutorJobState) => s.state === want;

describe('slurm executor cases', { skip }, () => {
  it('submits a batch of 100 as one array, each task with its own argv, env, log', async () => {
    const ex = await slurm();
    const jobs = Array.from({ length: 100 }, (_, i) =>
      job(['/bin/sh', '-c', 'echo "task $CODE"; exit "$CODE"'], { CODE: String(i % 4) }),
    );
    const ids = await submitAll(ex, jobs);
    const arrayId = ids[0]?.split('_')[0];
    assert.deepEqual(
      ids,
      jobs.map((_, i) => `${arrayId}_${i}`),
      'one sbatch: one array',
    );
    const deadline = Date.now() + 120_000;
    let states = await ex.status(jobs.map((j) => j.ref));
    while ([...states.values()].some((s) => s.state !== 'exited') && Date.now() < deadline) {
      await delay(500);
      states = await ex.status(jobs.map((j) => j.ref));
    }
    for (const [i, j] of jobs.entries()) {
      const s = states.get(j.ref.jobId);
      assert.equal(s?.state, 'exited', JSON.stringify(s));
      assert.equal(s.exitCode, i % 4 === 0 ? 0 : i % 4, JSON.stringify(s));
      assert.equal(await readFile(j.launch.logPath, 'utf8'), `task ${i % 4}\n`);
    }
  });

  it('shows a held job as held with its reason, and runs it once released', async () => {
    const ex = await slurm({ sbatch_args: ['--begin=now+3600'] });
    const j = job(['/bin/true']);
    const [id] = await submitAll(ex, [j]);
    assert.deepEqual(await waitFor(ex, j.ref, is('queued')), {
      state: 'queued',
      executorId: id,
      reason: 'BeginTime',
    });
    await cluster().run('scontrol', ['hold', id as string]);
    const held = await waitFor(ex, j.ref, is('held'));
    assert.match(held.state === 'held' ? held.reason : '', /JobHeld(User|Admin)/);
    await cluster().run('scontrol', ['release', id as string]);
    await cluster().run('scontrol', ['update', `jobid=${id}`, 'StartTime=now']);
    assert.deepEqual(await waitFor(ex, j.ref, is('exited')), {
      state: 'exited',
      executorId: id,
      exitCode: 0,
      signal: null,
      reason: null,
    });
  });

  it('reports a job cancelled outside autoctrl as ended, and why', async () => {
    const ex = await slurm();
    const j = waitJob();
    const [id] = await submitAll(ex, [j]);
    await waitFor(ex, j.ref, is('running'));
    await cluster().run('scancel', [id as string]);
    const state = await waitFor(ex, j.ref, is('exited'));
    assert.equal(state.state === 'exited' && state.reason, CANCELLED_OUTSIDE);
    assert.notEqual(state.state === 'exited' && state.exitCode, 0);
  });

  it('reports the jobs of a node set down as ended by a node failure', async () => {
    const ex = await slurm();
    const j = waitJob();
    await submitAll(ex, [j]);
    await waitFor(ex, j.ref, is('running'));
    const node = cluster().node;
    await cluster().run('scontrol', ['update', `nodename=${node}`, 'state=down', 'reason=test']);
    try {
      const state = await waitFor(ex, j.ref, is('exited'));
      assert.equal(state.state === 'exited' && state.exitCode, null, JSON.stringify(state));
      assert.match(state.state === 'exited' ? (state.reason ?? '') : '', /node failure/);
    } finally {
      // slurmd registers again and ReturnToService=2 brings the node back by itself.
      await cluster().waitIdle();
    }
  });

  it('says gone for an id neither squeue nor sacct knows', async () => {
    const ex = await slurm();
    const { ref } = job(['/bin/true']);
    const state = (await ex.status([{ ...ref, executorId: '987654' }])).get(ref.jobId);
    assert.equal(state?.state, 'gone');
  });

  it('adopts array tasks by name after a controller lost their ids, and tells an sbatch that never got through', async () => {
    const first = await slurm();
    const jobs = [waitJob(), waitJob(), waitJob()];
    const ids = await submitAll(first, jobs);
    const second = await slurm();
    for (const [i, j] of jobs.entries()) {
      const s = await waitFor(second, { ...j.ref, executorId: null }, is('running'));
      assert.deepEqual(s, { state: 'running', executorId: ids[i] });
    }
    for (const j of jobs) writeFileSync(j.go, '');
    for (const [i, j] of jobs.entries()) {
      const s = await waitFor(second, { ...j.ref, executorId: null }, is('exited'));
      assert.equal(s.state === 'exited' && s.executorId, ids[i]);
    }

    // A task file written, then the controller died before sbatch ran.
    const lost = job(['/bin/true']);
    mkdirSync(lost.launch.workDir, { recursive: true });
    const task = taskFilePath(lost.launch.workDir, 1);
    writeFileSync(task, taskFileText([lost.launch], lost.launch.name));
    assert.deepEqual((await second.status([lost.ref])).get(lost.ref.jobId), {
      state: 'queued',
      executorId: null,
      reason: 'being submitted',
    });
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(task, old, old);
    assert.deepEqual((await second.status([lost.ref])).get(lost.ref.jobId), {
      state: 'never-submitted',
    });
  });

  it('is unavailable while slurmctld is down, within its command timeout, and finds its jobs again after', async () => {
    const ex = await slurm({ command_timeout: '3s' });
    const j = waitJob();
    await submitAll(ex, [j]);
    await waitFor(ex, j.ref, is('running'));
    await cluster().stopController();
    try {
      await assert.rejects(ex.status([j.ref]), ExecutorUnavailableError);
      await assert.rejects(ex.submit([job(['/bin/true']).launch]), ExecutorUnavailableError);
      await assert.rejects(ex.cancel(j.ref, 'test'), ExecutorUnavailableError);
      writeFileSync(j.go, '');
    } finally {
      await cluster().startController();
    }
    const state = await waitFor(ex, j.ref, is('exited'));
    assert.equal(state.state === 'exited' && state.exitCode, 0, JSON.stringify(state));
  });
});
