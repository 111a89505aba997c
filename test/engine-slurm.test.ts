import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { TaskConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { EventRecord } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, deployment, sleep, task, tempDir, until } from './helpers.ts';
import { slurmForThisFile } from './services/slurm.ts';

/**
 * The engine with the Slurm executor against the real single-node Slurm of
 * `test/services/slurm.ts`: what a deployment with `type: slurm` does.
 */
const { skip, cluster } = slurmForThisFile();
assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

async function start(tasks: TaskConfig[]): Promise<Runtime> {
  const dir = tempDir('autoctrl-engine-slurm-');
  const d = deployment(dir, tasks);
  d.executors.slurm = {
    type: 'slurm',
    maxJobs: null,
    pollIntervalMs: 200,
    lostAfterMs: 600_000,
    options: { slurm_conf: cluster().conf, command_timeout: '3s' },
  };
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  await rt.store.upsertRuns([{ run: 1, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
  return rt;
}

async function jobsOf(rt: Runtime, taskName: string) {
  const [inst] = await rt.store.instancesForRuns('prompt', taskName, [1]);
  return inst === undefined ? [] : rt.store.jobsForInstance(inst.id);
}

async function alerts(rt: Runtime, alert: string): Promise<EventRecord[]> {
  return (await rt.store.listEvents({ limit: 10_000 })).filter((e) => e.data?.alert === alert);
}

/** Passes until `check` holds: the daemon's timer, by hand. */
function passUntil<T>(rt: Runtime, check: () => Promise<T | undefined | false>, ms = 60_000) {
  return until(async () => {
    await rt.engine.pass();
    return check();
  }, ms);
}

describe('engine on Slurm', { skip }, () => {
  it('runs a chain through Slurm, one array per instance, outputs passed downstream', async () => {
    const rt = await start([
      task('reco', {
        executor: 'slurm',
        jobs: 3,
        command: ['/bin/sh', '-c', 'echo "part $AUTOCTRL_JOB_INDEX" > "$AUTOCTRL_OUTPUT_DIR/part"'],
      }),
      task('calib', {
        executor: 'slurm',
        after: ['reco'],
        command: ['/bin/sh', '-c', 'grep -c "\\"runs\\"" "$AUTOCTRL_INPUTS"'],
      }),
    ]);
    const calib = await passUntil(rt, async () => {
      const [j] = await jobsOf(rt, 'calib');
      return j?.status === 'done' ? j : undefined;
    });
    const reco = await jobsOf(rt, 'reco');
    assert.deepEqual(
      reco.map((j) => j.status),
      ['done', 'done', 'done'],
    );
    const arrays = new Set(reco.map((j) => j.executorId?.split('_')[0]));
    assert.equal(arrays.size, 1, `one array: ${reco.map((j) => j.executorId).join(' ')}`);
    assert.match(calib.executorId ?? '', /^\d+$/, 'a lone job is a plain Slurm job');
  });

  it('holds back only the Slurm jobs while slurmctld is down, alerts, and loses nothing', async () => {
    const dir = tempDir('autoctrl-engine-slurm-go-');
    const go = join(dir, 'go');
    const rt = await start([
      task('farm', {
        executor: 'slurm',
        command: ['/bin/sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.1; done', go],
      }),
      task('quick', { command: ['true'] }),
    ]);
    const job = await passUntil(rt, async () => {
      const [j] = await jobsOf(rt, 'farm');
      return j?.status === 'running' ? j : undefined;
    });
    await cluster().stopController();
    try {
      // The local task goes on meanwhile: one batch system down stops nothing else.
      await passUntil(rt, async () => (await jobsOf(rt, 'quick'))[0]?.status === 'done');
      await passUntil(rt, async () => (await alerts(rt, 'executor_unavailable')).length > 0);
      // The job ends while Slurm is away; passes go on failing to reach it.
      writeFileSync(go, '');
      for (let i = 0; i < 10; i++) {
        await rt.engine.pass();
        await sleep(300);
      }
      assert.equal(
        (await rt.store.getJob(job.id))?.status,
        'running',
        'nothing is failed meanwhile',
      );
    } finally {
      await cluster().startController();
    }
    const done = await passUntil(rt, async () => {
      const j = await rt.store.getJob(job.id);
      return j?.status === 'done' ? j : undefined;
    });
    assert.equal(done.attempt, 1, 'not run twice');
    assert.equal((await alerts(rt, 'executor_unavailable')).length, 1);
    await passUntil(rt, async () => (await alerts(rt, 'executor_recovered')).length > 0);
  });
});
