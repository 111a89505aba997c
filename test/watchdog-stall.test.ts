import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadDeployment } from '../src/config/load.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createApp } from '../src/server/app.ts';
import { CLI, killHard } from './chain-world.ts';
import { autoctrl } from './cli-run.ts';
import { assertNoLeaksAtEnd, sleep, tempDir, until } from './helpers.ts';
import { fakeHook } from './notify-helpers.ts';

assertNoLeaksAtEnd();

/** `autoctrl serve` as a child; resolves once it listens. */
async function serve(file: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '-c', file, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AUTOCTRL_LOG_LEVEL: 'error' },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('autoctrl serving')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${out}`)));
  });
  return child;
}

/** `/api/health` of a process that runs no controller, reading the same store. */
async function healthFromOutside(file: string): Promise<Record<string, unknown>> {
  const rt = await openRuntime(await loadDeployment(file), { logger: silentLogger() });
  try {
    const res = await createApp(rt, { trigger: () => {}, health: () => null }).request(
      '/api/health',
    );
    return (await res.json()) as Record<string, unknown>;
  } finally {
    await rt.close();
  }
}

describe('controller_stalled after the only controller is SIGKILLed', () => {
  const dir = tempDir();
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) await killHard(c);
  });

  it('autoctrl watchdog from cron alerts once, health says stalled, and the restarted daemon tells of its recovery', async () => {
    const hook = await fakeHook();
    try {
      const file = join(dir, 'autoctrl.yaml');
      writeFileSync(
        file,
        `store: sqlite:state.db
environment: test
engine: { interval: 200ms }
watchdog: { stalled_after: 1500ms, interval: 1s }
tasks:
  reco: { command: ["true"] }
notify:
  chat: { type: mattermost, url: "${hook.url}", fold_window: 0 }
`,
      );
      const first = await serve(file);
      children.push(first);
      await until(
        async () => ((await healthFromOutside(file)).work as { at: string | null }).at !== null,
        10_000,
        'the first heartbeat',
      );
      await killHard(first);
      await sleep(1_700);

      const round = await autoctrl(['watchdog', '-c', file]);
      assert.equal(round.code, 0, round.stderr);
      assert.equal(round.stdout, 'watchdog: controller stalled\n');
      await until(async () => hook.accepted().length === 1, 5_000, 'the stalled message');
      assert.match(
        String(hook.accepted()[0]?.text),
        /^`test` :rotating_light: controller \*\*.+\*\* stalled: no pass finished for \d+s \(more than 2s\); the last ended at .+: check that autoctrl serve \(or the cron job running autoctrl pass\) is alive/,
      );
      const health = await healthFromOutside(file);
      assert.equal(health.stalled, true);

      // The next cron run remembers: nothing again.
      const again = await autoctrl(['watchdog', '--json', '-c', file]);
      assert.equal(JSON.parse(again.stdout).controller, null);
      await sleep(200);
      assert.equal(hook.accepted().length, 1);

      // A restarted daemon passes; its own watchdog records the recovery and its dispatcher sends it.
      const second = await serve(file);
      children.push(second);
      await until(async () => hook.accepted().length === 2, 15_000, 'the recovered message');
      assert.match(
        String(hook.accepted()[1]?.text),
        /^`test` :white_check_mark: controller \*\*.+\*\* passes again: a pass finished again after \d+s without one/,
      );
      assert.equal((await healthFromOutside(file)).stalled, false);
      await killHard(second);
    } finally {
      await hook.close();
    }
  });
});
