import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutorJobState } from '../src/executors/contract.ts';
import { findCgroupRoot, killCgroup, sweepEmpty } from '../src/executors/local/cgroup.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import { markedCgroup } from '../src/executors/local/job-files.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, submitOne } from './executor-util.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();
const base = tempDir('autoctrl-tree-');
const cgroupRoot = await findCgroupRoot();
/** Processes the jobs left behind: killed at the end whatever happens. */
const leftovers: number[] = [];
after(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

/** This process's cgroup (v2): where the launcher it starts lives. */
const v2Own = () =>
  readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);

/** Gone, or a zombie nobody reaps. */
function gone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

let nextId = 1;
/** Runs `script` (it writes the pid it leaves behind to ./left) and waits for the job's end. */
async function run(root: string | null, script: string, timeoutMs: number | null = null) {
  const ex = new LocalExecutor('local', {
    slots: 1,
    logger: silentLogger(),
    cgroupRoot: root,
    killGraceMs: 200,
  });
  const jobId = nextId++;
  const workDir = join(base, `job-${jobId}`);
  const ended = new Promise<ExecutorJobState>((resolve) => ex.onChange((_, s) => resolve(s)));
  const keepAlive = setInterval(() => {}, 1000);
  await submitOne(ex, {
    ...LAUNCH_DEFAULTS,
    instanceId: 1,
    jobId,
    name: `autoctrl-${jobId}`,
    argv: ['sh', '-c', script],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    cwd: workDir,
    workDir,
    logPath: join(workDir, 'log'),
    timeoutMs,
  });
  const state = await ended;
  clearInterval(keepAlive);
  await ex.close();
  const file = join(workDir, 'left');
  assert.ok(existsSync(file), 'the job wrote the pid it left behind');
  const pid = Number(readFileSync(file, 'utf8'));
  leftovers.push(pid);
  return { state, pid };
}

async function assertGone(pid: number): Promise<void> {
  for (let i = 0; i < 50 && !gone(pid); i++) await delay(20);
  assert.ok(gone(pid), `process ${pid} outlived its job`);
}

const LEAVES_SLEEP = 'sleep 300 & echo $! > left; exit 0';
const SETSID = 'setsid sleep 300 & echo $! > left; sleep 0.2; exit 0';
const SETSID_HANGS = 'setsid sleep 300 & echo $! > left; sleep 300';

describe('a job ends with everything it started', () => {
  it('cgroup: empty job cgroups nobody cleaned are swept once old, fresh ones are left', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    const root = cgroupRoot as string;
    const [old, fresh] = [join(root, 'job-sweep-old'), join(root, 'job-sweep-fresh')];
    mkdirSync(old);
    mkdirSync(fresh);
    utimesSync(old, new Date(0), new Date(0));
    await sweepEmpty(root, Date.now());
    assert.deepEqual([existsSync(old), existsSync(fresh)], [false, true]);
    rmdirSync(fresh);
  });

  it('cgroup: a job started before markers named cgroups (its path in a `cgroup` file) is emptied too', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    const workDir = join(base, 'legacy');
    const cg = join(cgroupRoot as string, 'job-legacy-test');
    mkdirSync(workDir);
    mkdirSync(cg);
    writeFileSync(join(workDir, 'submitted'), `${JSON.stringify({ jobId: 7, storeId: null })}\n`);
    writeFileSync(join(workDir, 'cgroup'), `${cg}\n`);
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const pid = child.pid as number;
    leftovers.push(pid);
    writeFileSync(join(cg, 'cgroup.procs'), String(pid));
    assert.equal(markedCgroup(workDir), cg);
    await killCgroup(workDir);
    await assertGone(pid);
    assert.ok(!existsSync(cg), `${cg} is removed`);
  });

  it('process group: a sleep left behind after a normal exit is killed', async () => {
    const { state, pid } = await run(null, LEAVES_SLEEP);
    assert.equal(state.state === 'exited' && state.exitCode, 0);
    await assertGone(pid);
  });

  it('cgroup: a sleep left behind is killed, and the cgroup removed', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    const { pid } = await run(cgroupRoot, LEAVES_SLEEP);
    await assertGone(pid);
  });

  it('cgroup: a setsid child is killed after a normal exit', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    const { state, pid } = await run(cgroupRoot, SETSID);
    assert.equal(state.state === 'exited' && state.exitCode, 0);
    await assertGone(pid);
    const cg = markedCgroup(join(base, `job-${nextId - 1}`)) ?? '(none)';
    assert.ok(!existsSync(cg), `${cg} is removed`);
  });

  it('cgroup: the job is born in its cgroup, and its launcher goes back to its own', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    // The launcher (the job's parent) is looked at once it has surely finished the spawn.
    const script = `cat /proc/$$/cgroup >seen; sleep 0.3; cat /proc/$PPID/cgroup >parent; ${LEAVES_SLEEP}`;
    await run(cgroupRoot, script);
    const workDir = join(base, `job-${nextId - 1}`);
    const v2 = (file: string) =>
      readFileSync(join(workDir, file), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'))
        ?.slice(3);
    const cg = markedCgroup(workDir) ?? '(none)';
    assert.ok(cg.endsWith(v2('seen') ?? '-'), `job in ${v2('seen')}, its cgroup is ${cg}`);
    assert.equal(v2('parent'), v2Own());
  });

  it('cgroup: a setsid child is killed when the job times out', {
    skip: cgroupRoot === null && 'no writable cgroup v2 here',
  }, async () => {
    const { state, pid } = await run(cgroupRoot, SETSID_HANGS, 500);
    assert.match(state.state === 'exited' ? (state.reason ?? '') : '', /timeout/);
    await assertGone(pid);
  });
});
