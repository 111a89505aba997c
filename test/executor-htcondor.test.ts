import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ExecutorUnavailableError } from '../src/errors.ts';
import { runExecutorConformance } from '../src/executors/conformance.ts';
import type { JobLaunch, JobRef } from '../src/executors/contract.ts';
import { createHTCondorExecutor, type HTCondorExecutor } from '../src/executors/htcondor/index.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, waitForState } from './executor-util.ts';

/**
 * The HTCondor executor against stand-in condor_* programs (test/fixtures/htcondor/bin),
 * which run jobs locally and write real-format event logs: HTCondor cannot be installed
 * here. Parsing of recorded real outputs is in executor-htcondor-formats.test.ts.
 */
const base = mkdtempSync(join(tmpdir(), 'autoctrl-htcondor-test-'));
const bin = fileURLToPath(new URL('fixtures/htcondor/bin', import.meta.url));
const schedd = join(base, 'schedd');
process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
process.env.CONDOR_STANDIN_DIR = schedd;

after(async () => {
  await rm(base, { recursive: true, force: true });
});

function ctx(dataDir = join(base, 'data')) {
  return { logger: silentLogger(), dataDir, host: 'test', maxJobs: null, pollIntervalMs: null };
}

async function open(options: Record<string, unknown> = {}): Promise<HTCondorExecutor> {
  return (await createHTCondorExecutor('condor', options, ctx())) as HTCondorExecutor;
}

runExecutorConformance(
  'htcondor (stand-in condor_* tools)',
  async () => ({ executor: await open(), cleanup: async () => {} }),
  { workRoot: base, timeoutJobMs: 1000 },
);

let nextJobId = 1_000;

function job(argv: string[], extra: Partial<JobLaunch> = {}): { launch: JobLaunch; ref: JobRef } {
  const jobId = nextJobId++;
  const workDir = join(base, 'jobs', `job-${jobId}`);
  const launch: JobLaunch = {
    ...LAUNCH_DEFAULTS,
    jobId,
    instanceId: jobId,
    name: `demo-prod-${jobId}.1`,
    argv,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AUTOCTRL_INPUTS: join(workDir, 'inputs.json'),
      AUTOCTRL_OUTPUT_DIR: join(workDir, 'out'),
    },
    cwd: base,
    workDir,
    logPath: join(base, 'logs', `job-${jobId}.log`),
    timeoutMs: null,
    ...extra,
  };
  return { launch, ref: refOfLaunch(launch, null, Date.now()) };
}

describe('htcondor executor with stand-in tools', () => {
  it('submits a batch as one cluster, one condor_submit call', async () => {
    const ex = await open();
    const before = ex.calls.get('condor_submit') ?? 0;
    const jobs = [job(['/bin/true']), job(['/bin/false']), job(['/bin/true'])];
    const answers = await ex.submit(jobs.map((j) => j.launch));
    assert.equal((ex.calls.get('condor_submit') ?? 0) - before, 1);
    const ids = answers.map((a) => ('executorId' in a ? a.executorId : null));
    const clusters = new Set(ids.map((id) => id?.split('.')[0]));
    assert.equal(clusters.size, 1, JSON.stringify(ids));
    assert.deepEqual(
      ids.map((id) => id?.split('.')[1]),
      ['0', '1', '2'],
    );
    for (const j of jobs) j.ref.executorId = ids[jobs.indexOf(j)] ?? null;
    const codes = [];
    for (const j of jobs)
      codes.push((await waitForState(ex, j.ref, 'exited')) as { exitCode: number });
    assert.deepEqual(
      codes.map((c) => c.exitCode),
      [0, 1, 0],
    );
    await ex.close();
  });

  it('answers a launch it cannot write with an error, and submits the others', async () => {
    const ex = await open();
    const bad = job(['/bin/true'], { name: 'bad name with spaces.1' });
    const good = job(['/bin/true']);
    const [a, b] = await ex.submit([bad.launch, good.launch]);
    assert.ok(a && 'error' in a, JSON.stringify(a));
    assert.ok(b && 'executorId' in b && b.executorId !== null);
    assert.deepEqual((await ex.status([bad.ref])).get(bad.ref.jobId), {
      state: 'never-submitted',
    });
    await ex.close();
  });

  it('shows a held job with its reason, then runs it once released', async () => {
    await mkdir(schedd, { recursive: true });
    await writeFile(join(schedd, 'start-delay-ms'), '8000');
    const ex = await open();
    const j = job(['/bin/true']);
    try {
      const [answer] = await ex.submit([j.launch]);
      assert.ok(answer && 'executorId' in answer && answer.executorId !== null);
      j.ref.executorId = answer.executorId;
      // The stand-in's condor_hold: an operator holding the job.
      await run('condor_hold', [answer.executorId]);
      const held = await waitForState(ex, j.ref, 'held');
      assert.deepEqual(held, {
        state: 'held',
        executorId: answer.executorId,
        reason: `via condor_hold (by user ${process.env.USER ?? 'user'}) (code 1 subcode 0)`,
      });
      await ex.release([j.ref]);
      const state = await waitForState(ex, j.ref, 'exited');
      assert.equal((state as { exitCode: number }).exitCode, 0);
    } finally {
      await rm(join(schedd, 'start-delay-ms'), { force: true });
      await ex.close();
    }
  });

  it('adopts a job submitted before a crash, whose id was never recorded, without submitting it again', async () => {
    const first = await open();
    const j = job(['/bin/sh', '-c', 'exit 4']);
    await first.submit([j.launch]);
    await first.close();
    // The event log is gone (another disk, a cleanup): only the schedd knows the job.
    const marker = JSON.parse(await readFile(join(j.launch.workDir, 'htcondor.json'), 'utf8'));
    await delay(500);
    await rm(marker.log, { force: true });
    const second = await open({ queue_check: 0.001 });
    const state = await waitForState(second, { ...j.ref, executorId: null }, 'exited');
    assert.equal((state as { exitCode: number }).exitCode, 4);
    assert.equal(second.calls.get('condor_submit') ?? 0, 0, 'submitted again');
    assert.ok((second.calls.get('condor_history') ?? 0) >= 1);
    await second.close();
  });

  it('says never-submitted for a job marked but never taken by the schedd', async () => {
    const ex = await open({ queue_check: 0.001 });
    const j = job(['/bin/true']);
    await mkdir(j.launch.workDir, { recursive: true });
    await writeFile(
      join(j.launch.workDir, 'htcondor.json'),
      JSON.stringify({ log: join(base, 'none.log'), batchName: 'x', proc: 0, name: j.launch.name }),
    );
    assert.deepEqual((await ex.status([j.ref])).get(j.ref.jobId), { state: 'never-submitted' });
    await ex.close();
  });

  it('says gone for a running job that neither condor_q nor condor_history knows', async () => {
    const ex = await open({ queue_check: 0.001 });
    const j = job(['/bin/true']);
    const log = join(base, 'lost.log');
    await mkdir(j.launch.workDir, { recursive: true });
    const marker = { log, batchName: 'lost', proc: 0, name: j.launch.name };
    await writeFile(join(j.launch.workDir, 'htcondor.json'), JSON.stringify(marker));
    // The recorded submit and execute events of events-normal.log: the job then vanished.
    const recorded = await readFile(
      new URL('fixtures/htcondor/events-normal.log', import.meta.url),
      'utf8',
    );
    await writeFile(log, `${recorded.split('\n').slice(0, 4).join('\n')}\n`);
    const before = ex.calls.get('condor_q') ?? 0;
    assert.deepEqual((await ex.status([j.ref])).get(j.ref.jobId), {
      state: 'gone',
      executorId: '984.0',
      reason: 'neither condor_q nor condor_history knows it',
    });
    assert.equal((ex.calls.get('condor_q') ?? 0) - before, 1);
    await ex.close();
  });

  it('transfers inputs and out/ without a shared filesystem, with scratch-relative names', async () => {
    const ex = await open({ shared_fs: false });
    const script =
      'cat "$AUTOCTRL_INPUTS"; echo "$AUTOCTRL_INPUTS $AUTOCTRL_OUTPUT_DIR"; echo made > "$AUTOCTRL_OUTPUT_DIR/result.txt"';
    const j = job(['/bin/sh', '-c', script]);
    const [answer] = await ex.submit([j.launch]);
    assert.ok(answer && 'executorId' in answer);
    const state = await waitForState(ex, j.ref, 'exited');
    assert.equal((state as { exitCode: number }).exitCode, 0);
    const log = await readFile(j.launch.logPath, 'utf8');
    assert.match(log, /inputs\.json out\n/);
    assert.equal(await readFile(join(j.launch.workDir, 'out', 'result.txt'), 'utf8'), 'made\n');
    await ex.close();
  });

  it('makes every call throw ExecutorUnavailableError while the schedd does not answer', async () => {
    const ex = await open({ command_timeout: 2, queue_check: 0.001 });
    const j = job(['/bin/true']);
    try {
      process.env.CONDOR_STANDIN_MODE = 'unreachable';
      await assert.rejects(ex.submit([j.launch]), ExecutorUnavailableError);
      await assert.rejects(ex.status([j.ref]), ExecutorUnavailableError);
      process.env.CONDOR_STANDIN_MODE = 'hang';
      await assert.rejects(ex.status([j.ref]), /did not answer within 2000 ms/);
    } finally {
      delete process.env.CONDOR_STANDIN_MODE;
    }
    await ex.close();
    // Back (asked with a timeout a loaded machine's stand-in meets): the job was never taken, and says so.
    const back = await open({ command_timeout: 60, queue_check: 0.001 });
    assert.deepEqual((await back.status([j.ref])).get(j.ref.jobId), { state: 'never-submitted' });
    await back.close();
  });
});

async function run(tool: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(tool, args, (err) => (err ? reject(err) : resolve())),
  );
}
