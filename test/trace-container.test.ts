import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cancelJob, jobName, jobWorkDir } from '../src/engine/launch.ts';
import { resolveImageDigest } from '../src/executors/container/digest.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { podmanImage, podmanMissing } from './podman-image.ts';

assertNoLeaksAtEnd();

describe('a task with container: runs in podman through the engine', () => {
  const missing = podmanMissing();
  let rt: Runtime | undefined;
  // First of the clean-ups: nothing of the controller may write in the directory being removed.
  after(async () => {
    await rt?.close();
  });
  // Registered before the temporary directory's removal, so it runs first: a cancelled job's
  // container can leave its shm mounted there when the local executor's cgroup kill ends
  // podman's conmon and clean-up: unmounted here.
  after(() => {
    if (missing) return;
    execFileSync('podman', ['rm', '--all', '--force'], { stdio: 'ignore' });
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const at = line.split(' ')[1];
      if (at?.startsWith(`${dir}/`)) execFileSync('umount', [at]);
    }
  });
  const dir = tempDir();
  const image = `localhost/autoctrl-trace-${process.pid}:1`;
  let env: Record<string, string> = {};

  before(
    async () => {
      if (missing) return;
      env = podmanImage(dir, image).env;
      // The controller asks podman for the image's digest with its own environment.
      Object.assign(process.env, env);
      const box = { image, runtime: 'podman' as const, args: [], binds: [] };
      rt = await openRuntime(
        deployment(join(dir, 'deploy'), [
          task('reco', {
            container: box,
            command: [
              'sh',
              '-c',
              'pwd > "$AUTOCTRL_OUTPUT_DIR/pwd"; env > "$AUTOCTRL_OUTPUT_DIR/env"',
            ],
            env,
          }),
          // Only for the run the cancel test adds: a hang of run 1 would run on through the
          // teardown, and its end be written into the directory being removed.
          task('hang', {
            container: box,
            command: ['sleep', '300'],
            env,
            when: { types: ['hang'], minLumi: null, meta: {} },
          }),
        ]),
        { logger: silentLogger() },
      );
    },
    { timeout: 180_000 },
  );
  const drive = (name: string, run: number, want: (s: InstanceStatus) => boolean) =>
    until(
      async () => {
        await rt?.engine.pass();
        const [inst] = (await rt?.store.instancesForRuns('prompt', name, [run])) ?? [];
        return inst !== undefined && want(inst.status) ? inst : undefined;
      },
      120_000,
      `${name} of run ${run}`,
    );

  it('wraps the command, binds the work directory, and records the image digest', {
    skip: missing,
    timeout: 150_000,
  }, async () => {
    assert.ok(rt);
    await rt.store.upsertRuns([{ run: 1, fill: 1, lumi: 1, start: 1, end: 2 }], 'test');
    const inst = await drive('reco', 1, (s) => s === 'done' || s === 'failed');
    const [job] = await rt.store.jobsForInstance(inst.id);
    assert.ok(job);
    assert.equal(
      inst.status,
      'done',
      `job log: ${job.logPath ? readFileSync(job.logPath, 'utf8') : ''}`,
    );
    const out = join(jobWorkDir(rt.engine.ctx, job), 'out');
    assert.equal(readFileSync(join(out, 'pwd'), 'utf8').trim(), rt.deployment.tasks[0]?.cwd);
    assert.match(readFileSync(join(out, 'env'), 'utf8'), /^AUTOCTRL_JOB=\d+$/m);
    const config = (await rt.store.getConfig(inst.configHash ?? '')) as {
      container: { image: string };
      code: { image: string };
    };
    assert.equal(config.container.image, image);
    assert.equal(
      config.code.image,
      await resolveImageDigest({ image, runtime: 'podman', args: [], binds: [] }),
    );
  });

  it('removes the container when the job is cancelled', {
    skip: missing,
    timeout: 150_000,
  }, async () => {
    assert.ok(rt);
    await rt.store.upsertRuns(
      [{ run: 2, type: 'hang', fill: 1, lumi: 1, start: 1, end: 2 }],
      'test',
    );
    const inst = await drive('hang', 2, (s) => s === 'processing');
    const name = await until(
      async () => {
        await rt?.engine.pass();
        const [job] = (await rt?.store.jobsForInstance(inst.id)) ?? [];
        if (job?.status !== 'running') return undefined;
        const n = jobName(rt?.deployment ?? ({} as never), job);
        const ps = execFileSync('podman', ['ps', '--format', '{{.Names}}'], { encoding: 'utf8' });
        return ps.split('\n').includes(n) ? { job, n } : undefined;
      },
      120_000,
      'the container running',
    );
    const executor = rt.executors.get('local');
    assert.ok(executor);
    await cancelJob(rt.engine.ctx, executor, name.job, 'cancelled by test');
    const all = execFileSync('podman', ['ps', '-a', '--format', '{{.Names}}'], {
      encoding: 'utf8',
    });
    assert.ok(!all.split('\n').includes(name.n), `${name.n} is gone: ${all}`);
    // Its podman client ends too, by SIGTERM or by the SIGKILL a grace later: closing the runtime
    // before that would leave it running (jobs outlive their controller).
    await until(
      async () => {
        await rt?.engine.pass();
        const [job] = (await rt?.store.jobsForInstance(inst.id)) ?? [];
        return job?.status !== 'running' && job?.status !== 'idle';
      },
      60_000,
      'the cancelled job ended',
    );
  });
});
