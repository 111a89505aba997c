import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { TaskConfig } from '../src/config/types.ts';
import { stopJob } from '../src/engine/campaign-stop.ts';
import { Submissions } from '../src/engine/submissions.ts';
import type { Executor } from '../src/executors/contract.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import {
  assertNoLeaksAtEnd,
  closeRuntime,
  deployment,
  sleep,
  task,
  tempDir,
  until,
} from './helpers.ts';

assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await closeRuntime(rt);
});

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

/**
 * A runtime in `dir` whose local executor answers submissions only once
 * `release()` is called: the jobs start, and may end, before.
 */
async function heldSubmissions(dir: string, tasks: TaskConfig[]) {
  const rt = await openRuntime(deployment(dir, tasks), { logger: silentLogger() });
  open.push(rt);
  const local = rt.executors.get('local') as Executor;
  let release = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let answered = false;
  const submit = local.submit.bind(local);
  local.submit = async (batch) => {
    const answers = await submit(batch);
    await held;
    answered = true;
    return answers;
  };
  return { rt, local, release, answered: () => answered };
}

describe('submissions the pass does not wait for', () => {
  it('passes on while a job starts, and follows its exit once its start is recorded', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'ledger');
    // The executor answers reco's submission only when the test lets it: the job runs and exits before.
    const { rt, local, release, answered } = await heldSubmissions(dir, [
      task('reco', { command: ['sh', '-c', 'echo "$0" >> "$1"', 'reco', ledger] }),
      task('calib', {
        after: ['reco'],
        command: ['sh', '-c', 'echo "$0" >> "$1"', 'calib', ledger],
      }),
    ]);
    let exitTold = false;
    local.onChange?.((jobId, state) => {
      rt.engine.jobChanged(jobId, state);
      exitTold = true;
      void rt.engine.pass({ full: false });
    });
    let passesWhileHeld = 0;
    rt.engine.on('pass', () => {
      if (exitTold && !answered()) passesWhileHeld++;
    });

    await rt.store.upsertRuns([{ run: 7, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
    const first = rt.engine.pass();
    await until(
      async () => passesWhileHeld > 0,
      10_000,
      'a pass after the exit, the submission held',
    );
    const [reco] = await rt.store.instancesForRuns('prompt', 'reco', [7]);
    assert.ok(reco);
    // Its exit waits for its start to be recorded: the job is neither settled nor given up as never submitted.
    const [job] = await rt.store.jobsForInstance(reco.id);
    assert.equal(job?.status, 'idle');
    assert.equal(job?.submittedAt, null);
    assert.deepEqual(lines(ledger), ['reco']);

    release();
    await first;
    await until(
      async () => {
        await rt.engine.pass();
        const [calib] = await rt.store.instancesForRuns('prompt', 'calib', [7]);
        return calib?.status === 'done';
      },
      10_000,
      'calib done',
    );
    const [after] = await rt.store.jobsForInstance(reco.id);
    assert.equal(after?.status, 'done');
    assert.equal(after?.attempt, 1);
    assert.deepEqual(lines(ledger), ['reco', 'calib']);
  });

  it("stops a cancelled campaign's job only once its submission is recorded", async () => {
    const { rt, local, release } = await heldSubmissions(tempDir(), [
      task('reco', { command: ['sleep', '30'] }),
    ]);
    // What a batch system's cancel gets: before the submission answered, no id to find the job by.
    const cancel = local.cancel.bind(local);
    const asked: Array<string | null> = [];
    local.cancel = (ref, reason) => {
      asked.push(ref.executorId);
      return cancel(ref, reason);
    };
    await rt.store.upsertRuns([{ run: 7, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
    const first = rt.engine.pass();
    const job = await until(
      async () => {
        const [inst] = await rt.store.instancesForRuns('prompt', 'reco', [7]);
        const [j] = inst === undefined ? [] : await rt.store.jobsForInstance(inst.id);
        return j?.claimedBy != null ? j : undefined;
      },
      10_000,
      'the job claimed',
    );
    assert.ok(rt.engine.ctx.memory.submitting.has(job.id));
    let stopped: boolean | null = null;
    const stopping = stopJob(rt.engine.ctx, job, rt.executors).then((s) => {
      stopped = s;
    });
    await sleep(200);
    assert.deepEqual([asked, stopped], [[], null], 'it waits for the submission');
    release();
    await Promise.all([stopping, first]);
    assert.equal(stopped, true);
    assert.equal(asked.length, 1);
    assert.notEqual(asked[0], null, 'cancelled by the id the submission recorded');
    assert.equal((await rt.store.getJob(job.id))?.status, 'failed');
  });

  it('waits for every submission, those added while it waits too, and logs one that throws', async () => {
    const errors: unknown[] = [];
    const logger = { ...silentLogger(), error: (o: unknown) => errors.push(o) } as never;
    const s = new Submissions();
    let late = false;
    s.add([1, 2], sleep(30), logger);
    s.add(
      [3],
      sleep(10).then(() => {
        s.add(
          [4],
          sleep(40).then(() => {
            late = true;
          }),
          logger,
        );
        throw new Error('no answer');
      }),
      logger,
    );
    assert.ok(s.has(1) && s.has(3));
    await s.settled();
    assert.equal(late, true);
    assert.deepEqual(
      [1, 2, 3, 4].filter((id) => s.has(id)),
      [],
    );
    assert.equal(errors.length, 1);
  });
});
