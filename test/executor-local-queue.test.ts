import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutorJobState, JobLaunch, JobRef } from '../src/executors/contract.ts';
import { findCgroupRoot } from '../src/executors/local/cgroup.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import { markedCgroup } from '../src/executors/local/job-files.ts';
import type { LauncherKind } from '../src/executors/local/launcher.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, waitForState } from './executor-util.ts';
import { tempDir, until } from './helpers.ts';
import { assertNoProcessesLeft } from './process-leaks.ts';

/** Jobs beyond the local executor's slots wait in its launcher (`queue`). */
const base = tempDir('autoctrl-local-queue-test-');
const ledger = join(base, 'ledger');
let nextJobId = 1;
let executors: LocalExecutor[] = [];
let refs: JobRef[] = [];

const cgroupRoot = await findCgroupRoot();

function local(launcher: LauncherKind, slots = 1, queue = 2): LocalExecutor {
  const ex = new LocalExecutor('local', { slots, queue, logger: silentLogger(), launcher });
  executors.push(ex);
  return ex;
}

/** A job that appends its start to the ledger, waits for its `go` file, then appends its end. */
function job() {
  const jobId = nextJobId++;
  const workDir = join(base, `job-${jobId}`);
  const go = join(workDir, 'go');
  const script =
    'echo "start $3" >>"$2"; while [ ! -e "$1" ]; do sleep 0.02; done; echo "end $3" >>"$2"';
  const launch: JobLaunch = {
    ...LAUNCH_DEFAULTS,
    jobId,
    instanceId: jobId,
    name: `autoctrl-${jobId}`,
    argv: ['/bin/sh', '-c', script, 'job', go, ledger, String(jobId)],
    env: { PATH: '/usr/bin:/bin' },
    cwd: base,
    workDir,
    logPath: join(workDir, 'log'),
    timeoutMs: null,
  };
  const ref = refOfLaunch(launch, null, Date.now());
  refs.push(ref);
  return { launch, ref, go };
}

const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []);
const waitFor = (ex: LocalExecutor, ref: JobRef, want: ExecutorJobState['state']) =>
  waitForState(ex, ref, want, { ms: 10_000, everyMs: 20 });

/** Job `a` running and `b` waiting behind it, handed over by a controller that then closed; `next` replaces it. */
async function handedOver() {
  const ex = local('posix_spawn');
  const [a, b] = [job(), job()];
  await ex.submit([a.launch]);
  await ex.submit([b.launch]);
  await ex.close();
  return { a, b, next: local('posix_spawn') };
}

describe('local executor queue', () => {
  afterEach(async () => {
    const sweeper = new LocalExecutor('local', { slots: 1, logger: silentLogger() });
    for (const ref of refs) {
      const state = (await sweeper.status([ref])).get(ref.jobId)?.state;
      if (state !== 'running' && state !== 'queued') continue;
      await sweeper.cancel(ref, 'test cleanup');
      await writeFile(join(ref.workDir, 'go'), '');
      await waitFor(sweeper, ref, 'exited');
    }
    for (const ex of [...executors, sweeper]) await ex.close();
    executors = [];
    refs = [];
  });

  it('takes its slots plus its queue, and counts campaign shares on its slots', () => {
    const ex = local('posix_spawn', 3, 5);
    assert.equal(ex.maxJobs, 8);
    assert.equal(ex.slots, 3);
    assert.equal(new LocalExecutor('l', { slots: 2, logger: silentLogger() }).maxJobs, 18);
    assert.equal(new LocalExecutor('l', { slots: 20, logger: silentLogger() }).maxJobs, 40);
  });

  for (const launcher of ['posix_spawn', 'node'] as const) {
    it(`${launcher}: a job beyond the slots waits, then starts the moment one ends, told running then exited`, async () => {
      const ex = local(launcher);
      const told: string[] = [];
      ex.onChange((jobId, state) => told.push(`${jobId} ${state.state}`));
      const [a, b, c] = [job(), job(), job()];
      // One by one: the launches of one batch reach the launcher in any order.
      const answers = [];
      for (const j of [a, b, c]) answers.push(...(await ex.submit([j.launch])));
      assert.ok(answers.every((x) => !('error' in x)));
      assert.equal((answers[0] as { running?: boolean }).running, true);
      assert.deepEqual(answers.slice(1), [{ executorId: null }, { executorId: null }]);
      assert.equal((await ex.status([b.ref])).get(b.ref.jobId)?.state, 'queued');
      assert.equal((await ex.status([c.ref])).get(c.ref.jobId)?.state, 'queued');
      // The later ones may go at once: only the slot holds them back.
      await Promise.all([writeFile(b.go, ''), writeFile(c.go, '')]);
      await writeFile(a.go, '');
      const ended = await waitFor(ex, c.ref, 'exited');
      assert.equal(ended.state === 'exited' && ended.exitCode, 0);
      const ids = [a, b, c].map((j) => j.ref.jobId);
      // One slot: each starts after the one before it ended, in the order handed over.
      assert.deepEqual(
        lines(),
        ids.flatMap((id) => [`start ${id}`, `end ${id}`]),
      );
      for (const id of ids.slice(1)) {
        const mine = told.filter((t) => t.startsWith(`${id} `));
        assert.deepEqual(mine, [`${id} running`, `${id} exited`]);
      }
      await writeFile(ledger, '');
    });

    it(`${launcher}: a job stopped while it waits never starts, and ends with the reason`, async () => {
      const ex = local(launcher);
      const told: Array<[number, ExecutorJobState]> = [];
      ex.onChange((jobId, state) => told.push([jobId, state]));
      const [a, b] = [job(), job()];
      await ex.submit([a.launch]);
      await ex.submit([b.launch]);
      await ex.cancel(b.ref, 'campaign x cancelled');
      await writeFile(b.go, '');
      await writeFile(a.go, '');
      const state = await waitFor(ex, b.ref, 'exited');
      assert.deepEqual(state, {
        state: 'exited',
        executorId: null,
        exitCode: 143,
        reason: 'campaign x cancelled',
      });
      assert.ok(!lines().includes(`start ${b.ref.jobId}`), 'the stopped job ran');
      await waitFor(ex, a.ref, 'exited');
      assert.deepEqual(
        told.filter(([id]) => id === b.ref.jobId).map(([, s]) => s.state),
        ['exited'],
      );
      await writeFile(ledger, '');
    });

    it(`${launcher}: a job that waited is born in its cgroup, even one swept meanwhile`, {
      skip: cgroupRoot === null && 'no writable cgroup v2 here',
    }, async () => {
      const ex = local(launcher);
      const [a, b] = [job(), job()];
      await ex.submit([a.launch]);
      await ex.submit([b.launch]);
      // What a controller's start does to an empty cgroup older than ten minutes.
      const cg = markedCgroup(b.ref.workDir) ?? '(none)';
      rmdirSync(cg);
      await writeFile(a.go, '');
      const running = await waitFor(ex, b.ref, 'running');
      const pid = Number((running.state === 'running' ? running.executorId : '').split(':')[1]);
      const own = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'))
        ?.slice(3);
      assert.ok(own !== undefined && cg.endsWith(own), `job in ${own}, its cgroup is ${cg}`);
      await writeFile(b.go, '');
      await waitFor(ex, b.ref, 'exited');
      await writeFile(ledger, '');
    });
  }

  it('counts the time limit of a job that waited from its start, not from its submission', async () => {
    const ex = local('posix_spawn');
    const [a, b] = [job(), job()];
    const limited = { ...b.launch, timeoutMs: 600 };
    const ref = { ...b.ref, timeoutMs: 600 };
    await ex.submit([a.launch]);
    await ex.submit([limited]);
    // Longer than its limit in the queue.
    await delay(900);
    await writeFile(a.go, '');
    await waitFor(ex, ref, 'running');
    // What a poll does (a full pass, or a controller that adopted the job after a restart).
    for (let i = 0; i < 3; i++)
      assert.equal((await ex.status([ref])).get(ref.jobId)?.state, 'running');
    await writeFile(b.go, '');
    const state = await waitFor(ex, ref, 'exited');
    assert.deepEqual(state.state === 'exited' && [state.exitCode, state.reason], [0, null]);
    await writeFile(ledger, '');
  });

  it('jobs waiting when their controller goes still start, and the next one follows them', async () => {
    const { a, b, next } = await handedOver();
    assert.equal((await next.status([b.ref])).get(b.ref.jobId)?.state, 'queued');
    await writeFile(b.go, '');
    await writeFile(a.go, '');
    const state = await waitFor(next, b.ref, 'exited');
    assert.equal(state.state === 'exited' && state.exitCode, 0);
    assert.ok(lines().includes(`end ${b.ref.jobId}`));
    await writeFile(ledger, '');
  });

  it("the next controller is told when the last one's waiting and running jobs start and end, without asking again", async () => {
    const { a, b, next } = await handedOver();
    const told: string[] = [];
    next.onChange((jobId, state) => told.push(`${jobId} ${state.state}`));
    // What the next controller's first pass asks; after it, only what it is told.
    const first = await next.status([a.ref, b.ref]);
    assert.deepEqual(
      [a.ref, b.ref].map((r) => first.get(r.jobId)?.state),
      ['running', 'queued'],
    );
    await writeFile(a.go, '');
    const [endA, startB, endB] = [
      `${a.ref.jobId} exited`,
      `${b.ref.jobId} running`,
      `${b.ref.jobId} exited`,
    ];
    await until(
      async () => told.includes(endA) && told.includes(startB),
      5000,
      'a told ended, b started',
    );
    await writeFile(b.go, '');
    await until(async () => told.includes(endB), 5000, 'b told ended');
    assert.deepEqual(told.sort(), [endA, startB, endB].sort(), 'each change told once');
    await writeFile(ledger, '');
  });
});

after(async () => {
  await assertNoProcessesLeft();
});
