import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, sleep, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = 200;
const TASKS = ['reco', 'calib', 'valid'];

/**
 * Each job appends "<job id> <attempt>" to the ledger; one job in seven fails
 * its first attempt so that retries are crashed into too.
 */
const JOB =
  'echo "$AUTOCTRL_JOB $AUTOCTRL_ATTEMPT" >> "$LEDGER"; sleep 0.05; if [ $((AUTOCTRL_JOB % 7)) -eq 0 ] && [ "$AUTOCTRL_ATTEMPT" = 1 ]; then exit 1; fi';

function deploymentYaml(ledger: string): string {
  const task = (name: string, after: string | null) =>
    `  ${name}:\n${after ? `    after: [${after}]\n` : ''}    command: [sh, -c, '${JOB}']\n    retries: 1\n    retry_delay: 50ms\n    env: { LEDGER: "${ledger}" }\n`;
  return `store: sqlite:state.db\nexecutors:\n  local: { type: local, slots: 8 }\nengine: { interval: 200ms }\ntasks:\n${task('reco', null)}${task('calib', 'reco')}${task('valid', 'calib')}`;
}

function startDaemon(file: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'serve', '-c', file, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, AUTOCTRL_LOG_LEVEL: 'error' },
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('crash safety', () => {
  it('SIGKILLed at random points, the daemon runs every job exactly once per attempt and loses none', {
    timeout: 240_000,
  }, async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    const dir = tempDir('autoctrl-crash-');
    const ledger = join(dir, 'ledger.txt');
    writeFileSync(ledger, '');
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(file, deploymentYaml(ledger));
    const store = await createSqliteStore(join(dir, 'state.db'), { logger: silentLogger() });
    try {
      await store.upsertRuns(
        Array.from({ length: RUNS }, (_, i) => ({
          run: 1000 + i,
          fill: 1 + Math.floor(i / 20),
          lumi: 5,
          start: 1,
          end: 2,
        })),
        'test',
      );
      const allDone = async () => {
        const done = await store.findInstances({ task: 'valid', statuses: ['done'] });
        return done.length === RUNS;
      };
      let seed = 12345;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      let kills = 0;
      const deadline = Date.now() + 150_000;
      while (!(await allDone()) && Date.now() < deadline) {
        const daemon = startDaemon(file);
        // Live between 0.2 s and 1.5 s: long enough to start up and do some work, short enough to die mid-pass.
        await sleep(200 + random() * 1300);
        if (kills < 25) {
          await kill(daemon);
          kills++;
        } else {
          while (!(await allDone()) && Date.now() < deadline) await sleep(200);
          await kill(daemon);
        }
      }
      assert.ok(await allDone(), 'every run reached the end of the chain');
      assert.ok(kills >= 10, `the daemon was killed ${kills} times`);

      const lines = readFileSync(ledger, 'utf8').trim().split('\n');
      const counts = new Map<string, number>();
      for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no job attempt ran twice');

      const jobs = [];
      for (const task of TASKS) {
        for (const inst of await store.findInstances({ task })) {
          assert.equal(inst.status, 'done', `${task} ${inst.groupKey}`);
          jobs.push(...(await store.jobsForInstance(inst.id)));
        }
      }
      for (const j of jobs) {
        assert.ok(j.status === 'done' || j.status === 'failed', `job ${j.id} settled`);
        assert.ok(
          counts.has(`${j.id} ${j.attempt}`),
          `job ${j.id} attempt ${j.attempt} (${j.status}: ${j.reason}) ran`,
        );
        assert.equal(j.reason?.startsWith('lost') ?? false, false, `job ${j.id} was not lost`);
      }
      assert.equal(lines.length, jobs.length, 'every ledger line is a job the store knows');
      const retried = jobs.filter((j) => j.attempt === 2).length;
      assert.ok(retried > 0, 'retries happened');
    } finally {
      await store.close();
    }
  });
});
