import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { applyJobReport } from '../src/app/report.ts';
import type { TaskConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, closeRuntime, deployment, task, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await closeRuntime(rt);
});

async function start(
  tasks: TaskConfig[] | ((dir: string) => TaskConfig[]),
): Promise<{ rt: Runtime; dir: string }> {
  const dir = tempDir();
  const list = typeof tasks === 'function' ? tasks(dir) : tasks;
  const rt = await openRuntime(deployment(dir, list), { logger: silentLogger() });
  open.push(rt);
  return { rt, dir };
}

/** Sends a done instance back to `new` by hand and runs passes until its attempt 2 is done. */
async function reprocessDone(rt: Runtime, id: number, reason: string): Promise<void> {
  await rt.store.transitionInstance(id, {
    from: 'done',
    to: 'new',
    reason,
    by: 'test',
    at: Date.now(),
  });
  await until(async () => {
    await rt.engine.pass();
    const i = await rt.store.getInstance(id);
    return i?.status === 'done' && i.attempt === 2;
  });
}

/** Runs passes until every instance of `taskName` covering `run` has the wanted status. */
async function drive(
  rt: Runtime,
  taskName: string,
  run: number,
  want: InstanceStatus,
  timeoutMs = 10_000,
) {
  return until(
    async () => {
      await rt.engine.pass();
      const [inst] = await rt.store.instancesForRuns('prompt', taskName, [run]);
      return inst?.status === want ? inst : undefined;
    },
    timeoutMs,
    `${taskName} for run ${run} to be ${want}`,
  );
}

const addRuns = (rt: Runtime, runs: Array<{ run: number; fill?: number; lumi?: number }>) =>
  rt.store.upsertRuns(
    runs.map((r) => ({ fill: 1, lumi: 10, start: 1, end: 2, ...r })),
    'test',
  );

describe('engine', () => {
  it('runs a chain and hands upstream outputs to downstream jobs', async () => {
    const { rt, dir } = await start((d) => [
      task('a', {
        command: ['sh', '-c', 'while [ ! -f "$GO" ]; do sleep 0.02; done'],
        env: { GO: join(d, 'go') },
      }),
      task('b', {
        after: ['a'],
        command: ['sh', '-c', 'cp "$AUTOCTRL_INPUTS" "$AUTOCTRL_OUTPUT_DIR/../seen.json"'],
      }),
    ]);
    await addRuns(rt, [{ run: 100 }]);
    const a = await drive(rt, 'a', 100, 'processing');
    const aJob = await until(async () =>
      (await rt.store.jobsForInstance(a.id)).find((j) => j.executorId !== null),
    );
    // What a job does before it exits: register its outputs.
    await applyJobReport(
      rt.engine.ctx,
      aJob.id,
      { outputs: [{ path: '/data/a.root', kind: 'root' }] },
      'test',
    );
    writeFileSync(join(dir, 'go'), '');
    const b = await drive(rt, 'b', 100, 'done');
    const [bJob] = await rt.store.jobsForInstance(b.id);
    const seen = JSON.parse(readFileSync(join(bJob?.logPath ?? '', '..', 'seen.json'), 'utf8'));
    assert.deepEqual(
      seen.outputs.map((o: { path: string }) => o.path),
      ['/data/a.root'],
    );
    assert.equal(seen.runs[0].run, 100);
    assert.equal(b.attempt, 1);
    assert.match(b.configHash ?? '', /^[0-9a-f]{16}$/);
  });

  it('joins: a task after two upstream tasks waits, with the reason, until both are done', async () => {
    const { rt, dir } = await start((d) => [
      task('fast'),
      task('slow', {
        command: ['sh', '-c', 'while [ ! -f "$GO" ]; do sleep 0.02; done'],
        env: { GO: join(d, 'go') },
      }),
      task('join', { after: ['fast', 'slow'] }),
    ]);
    await addRuns(rt, [{ run: 200 }]);
    await drive(rt, 'fast', 200, 'done');
    const waiting = await drive(rt, 'join', 200, 'waiting');
    assert.match(waiting.reason ?? '', /upstream slow is processing for run 200/);
    writeFileSync(join(dir, 'go'), '');
    await drive(rt, 'join', 200, 'done');
  });

  it('groups by fill once the fill has ended, and by accumulated luminosity', async () => {
    const { rt } = await start([
      task('perfill', { group: { by: 'fill' } }),
      task('lumi', { group: { by: 'lumi', lumi: 25 } }),
    ]);
    await addRuns(rt, [
      { run: 300, fill: 7, lumi: 10 },
      { run: 301, fill: 7, lumi: 10 },
    ]);
    await rt.engine.pass();
    assert.equal(
      (await rt.store.findInstances({ task: 'perfill' })).length,
      0,
      'fill 7 is still open',
    );
    assert.equal((await rt.store.findInstances({ task: 'lumi' })).length, 0, '20 /pb < 25 /pb');
    await addRuns(rt, [{ run: 302, fill: 8, lumi: 10 }]);
    const fillInst = await drive(rt, 'perfill', 300, 'done');
    assert.deepEqual(fillInst.runs, [300, 301]);
    assert.equal(fillInst.groupKey, 'fill:7');
    const lumiInst = await drive(rt, 'lumi', 302, 'done');
    assert.deepEqual(lumiInst.runs, [300, 301, 302]);
  });

  it('retries with backoff up to the limit, then fails for good with the reason', async () => {
    const { rt } = await start([
      task('flaky', { command: ['sh', '-c', 'exit 3'], retries: 2, retryDelayMs: 30 }),
    ]);
    await addRuns(rt, [{ run: 400 }]);
    const inst = await drive(rt, 'flaky', 400, 'failed');
    const jobs = await rt.store.jobsForInstance(inst.id);
    assert.deepEqual(
      jobs.map((j) => [j.attempt, j.status, j.exitCode]),
      [
        [1, 'failed', 3],
        [2, 'failed', 3],
        [3, 'failed', 3],
      ],
    );
    assert.match(inst.reason ?? '', /job 0 failed after 3 attempts: exit code 3/);
    const gap1 = (jobs[1]?.submittedAt ?? 0) - (jobs[0]?.endedAt ?? 0);
    const gap2 = (jobs[2]?.submittedAt ?? 0) - (jobs[1]?.endedAt ?? 0);
    assert.ok(gap1 >= 30, `first retry waited ${gap1} ms`);
    assert.ok(gap2 >= 60, `second retry waited ${gap2} ms (backoff doubles)`);
  });

  it('takes the exit code as the status of a job that did not report, and a report over it', async () => {
    // It reports, then exits 0 once told to: the report wins over the exit code, whatever the load.
    const { rt, dir } = await start((d) => [
      task('silent-ok', { command: ['true'] }),
      task('silent-bad', { command: ['sh', '-c', 'exit 7'] }),
      task('says-failed', {
        command: ['sh', '-c', 'while [ ! -f "$GO" ]; do sleep 0.02; done; : > "$GO.seen"'],
        env: { GO: join(d, 'go-says-failed') },
      }),
    ]);
    await addRuns(rt, [{ run: 500 }]);
    await drive(rt, 'silent-ok', 500, 'done');
    const bad = await drive(rt, 'silent-bad', 500, 'failed');
    assert.match(bad.reason ?? '', /exit code 7/);
    const [said] = await rt.store.instancesForRuns('prompt', 'says-failed', [500]);
    const [job] = await rt.store.jobsForInstance(said?.id ?? 0);
    assert.ok(job);
    await applyJobReport(
      rt.engine.ctx,
      job.id,
      { status: 'failed', reason: 'pi0 fit did not converge', fields: { chi2: 42 } },
      'job',
    );
    writeFileSync(join(dir, 'go-says-failed'), '');
    const failed = await drive(rt, 'says-failed', 500, 'failed');
    assert.match(failed.reason ?? '', /pi0 fit did not converge/);
    const [after] = await rt.store.jobsForInstance(failed.id);
    assert.equal(after?.fields.chi2, 42);
    // Settled by its report, the job still runs until told to go: the test ends after it does.
    await until(
      async () => existsSync(join(dir, 'go-says-failed.seen')),
      10_000,
      'the job to see go',
    );
  });

  it('reprocesses: done → new as attempt 2, with new jobs, history kept', async () => {
    const { rt } = await start([task('r')]);
    await addRuns(rt, [{ run: 600 }]);
    const first = await drive(rt, 'r', 600, 'done');
    await reprocessDone(rt, first.id, 'new global tag');
    const jobs = await rt.store.jobsForInstance(first.id);
    assert.equal(jobs.length, 2);
    const history = await rt.store.listEvents({ instanceId: first.id, entity: 'instance' });
    assert.deepEqual(
      history.map((e) => e.to),
      ['new', 'processing', 'done', 'new', 'processing', 'done'],
    );
  });

  it("tells a reprocessed attempt's jobs their own attempt's job count, on a retry too", async () => {
    // Writes its count; attempt 2's single job fails its first try, so its retry is submitted in a
    // later pass than its instance's start (the job count is then read from the store).
    const script =
      'echo "$AUTOCTRL_JOB_COUNT" >> "$0/n"; [ "$AUTOCTRL_JOB_COUNT" = 3 ] || [ -f "$0/tried" ] || { touch "$0/tried"; exit 1; }';
    const { rt, dir } = await start((d) => [
      task('r', { jobs: 3, retries: 1, command: ['sh', '-c', script, d] }),
    ]);
    await addRuns(rt, [{ run: 610 }]);
    const first = await drive(rt, 'r', 610, 'done');
    const [r] = rt.deployment.tasks;
    assert.ok(r);
    r.jobs = 1;
    await reprocessDone(rt, first.id, 'one job is enough');
    assert.deepEqual(readFileSync(join(dir, 'n'), 'utf8').trim().split('\n'), [
      '3',
      '3',
      '3',
      '1',
      '1',
    ]);
  });

  it('splits a task into one job per upstream output', async () => {
    const { rt, dir } = await start((d) => [
      task('files', { command: ['sh', '-c', `while [ ! -f ${d}/go ]; do sleep 0.02; done`] }),
      task('per', {
        after: ['files'],
        jobs: { per: 'input' },
        command: ['sh', '-c', 'test -n "$1"', 'x', '{input}'],
      }),
    ]);
    await addRuns(rt, [{ run: 700 }]);
    // Outputs are reported while the job runs: an ended attempt may no longer report.
    const files = await drive(rt, 'files', 700, 'processing');
    const [fj] = await rt.store.jobsForInstance(files.id);
    await applyJobReport(
      rt.engine.ctx,
      fj?.id ?? 0,
      { outputs: [{ path: '/f/1.root' }, { path: '/f/2.root' }, { path: '/f/3 with space.root' }] },
      'job',
    );
    writeFileSync(join(dir, 'go'), '');
    await drive(rt, 'files', 700, 'done');
    const per = await drive(rt, 'per', 700, 'done');
    const jobs = await rt.store.jobsForInstance(per.id);
    assert.deepEqual(jobs.map((j) => j.input).sort(), [
      '/f/1.root',
      '/f/2.root',
      '/f/3 with space.root',
    ]);
  });
});
