import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JobLaunch } from '../src/executors/contract.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import { parsePidRecord } from '../src/executors/local/job-files.ts';
import type { LauncherKind } from '../src/executors/local/launcher.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { silentLogger } from '../src/logger.ts';
import { LAUNCH_DEFAULTS, submitOne, waitForState } from './executor-util.ts';
import { assertNoLeaksAtEnd, tempDir, until } from './helpers.ts';

/*
 * The launcher is its jobs' parent and the only one who learns their exit
 * status: it must outlive a controller SIGKILLed under it, and a launcher
 * SIGKILLed must leave its running jobs lost (retried), never done.
 */

assertNoLeaksAtEnd();
const base = tempDir('autoctrl-survival-');
const repo = fileURLToPath(new URL('..', import.meta.url));
const src = (p: string) => JSON.stringify(pathToFileURL(join(repo, p)).href);
let nextId = 1;

/** A job that appends its id to the ledger, waits for `go` in its work directory, and exits with `code`. */
function ledgerJob(code: number): JobLaunch {
  const jobId = nextId++;
  const workDir = join(base, `job-${jobId}`);
  const script = `echo "$0" >>"$1"; until [ -e "$2" ]; do sleep 0.05; done; exit ${code}`;
  return {
    ...LAUNCH_DEFAULTS,
    jobId,
    instanceId: jobId,
    name: `autoctrl-${jobId}`,
    argv: ['/bin/sh', '-c', script, String(jobId), join(base, 'ledger'), join(workDir, 'go')],
    env: { PATH: '/usr/bin:/bin' },
    cwd: base,
    workDir,
    logPath: join(workDir, 'log'),
    timeoutMs: null,
  };
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function launcherPid(launch: JobLaunch): number {
  const record = parsePidRecord(readFileSync(join(launch.workDir, 'pid'), 'utf8').trim());
  assert.ok(record?.launcher, 'the pid file names the launcher');
  return record.launcher.pid;
}

const ledger = () =>
  existsSync(join(base, 'ledger'))
    ? readFileSync(join(base, 'ledger'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/** Submits `launches` from a controller of its own, which is SIGKILLed once they run. */
async function submitAndKill(kind: LauncherKind, launches: JobLaunch[]): Promise<void> {
  const controller = join(base, `controller-${kind}.mts`);
  await writeFile(
    controller,
    `import { LocalExecutor } from ${src('src/executors/local/index.ts')};
import { silentLogger } from ${src('src/logger.ts')};
const ex = new LocalExecutor('local', { slots: 4, logger: silentLogger(), launcher: ${JSON.stringify(kind)} });
const answers = await ex.submit(JSON.parse(process.argv[2]));
process.stdout.write(JSON.stringify(answers) + '\\n');
setInterval(() => {}, 1000);`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', controller, JSON.stringify(launches)], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const answers = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString()));
    child.once('exit', (code) => reject(new Error(`controller exited ${code}`)));
  });
  assert.equal(JSON.parse(answers).length, launches.length);
  for (const l of launches) await until(async () => ledger().includes(String(l.jobId)));
  const dead = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await dead;
}

for (const kind of ['posix_spawn', 'node'] as const) {
  describe(`local jobs survive their controller, ${kind} launcher`, () => {
    it('controller SIGKILLed while jobs run: the launcher records their ends, a new controller settles them, each ran once', {
      timeout: 60_000,
    }, async () => {
      const launches = [ledgerJob(0), ledgerJob(0), ledgerJob(5)];
      await submitAndKill(kind, launches);
      const launcher = launcherPid(launches[0] as JobLaunch);
      assert.ok(alive(launcher), 'the launcher outlives its controller');
      for (const l of launches) await writeFile(join(l.workDir, 'go'), '');
      for (const l of launches) await until(async () => existsSync(join(l.workDir, 'exit')));
      await until(
        async () => !alive(launcher),
        10_000,
        'the launcher to leave once its jobs are recorded',
      );

      const next = new LocalExecutor('local', { slots: 4, logger: silentLogger(), launcher: kind });
      const states = await next.status(launches.map((l) => refOfLaunch(l, null, Date.now())));
      await next.close();
      assert.deepEqual(
        launches.map((l) => {
          const s = states.get(l.jobId);
          return s?.state === 'exited' ? s.exitCode : s?.state;
        }),
        [0, 0, 5],
      );
      const ids = launches.map((l) => String(l.jobId));
      // Each once, in whatever order they started.
      assert.deepEqual(
        ledger()
          .filter((l) => ids.includes(l))
          .sort(),
        ids.sort(),
      );
    });

    it('launcher SIGKILLed while a job runs: the job ends as lost, never done', {
      timeout: 60_000,
    }, async () => {
      const ex = new LocalExecutor('local', { slots: 4, logger: silentLogger(), launcher: kind });
      const launch = ledgerJob(0);
      const ref = refOfLaunch(launch, null, Date.now());
      const executorId = await submitOne(ex, launch);
      const launcher = launcherPid(launch);
      process.kill(launcher, 'SIGKILL');
      await until(async () => !alive(launcher), 10_000, 'the launcher to die');
      assert.deepEqual((await ex.status([ref])).get(launch.jobId), {
        state: 'running',
        executorId,
      });
      await writeFile(join(launch.workDir, 'go'), '');
      const state = await waitForState(ex, ref, 'exited', { ms: 10_000, everyMs: 20 });
      await ex.close();
      assert.equal(state.state === 'exited' && state.exitCode, null);
      assert.match(state.state === 'exited' ? (state.reason ?? '') : '', /^lost:/);
      assert.ok(!existsSync(join(launch.workDir, 'exit')));
    });
  });
}
