import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { validateDeploymentText } from '../src/config/load.ts';
import type { Deployment } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { NotifyDispatcher } from '../src/notify/dispatcher.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { parseAfsListquota, parseEosQuota } from '../src/server/quota.ts';
import { Watchdog } from '../src/watchdog/watchdog.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import {
  dispatcherFor,
  type FakeHook,
  fakeHook,
  newInstance,
  notifier,
  startedInstance,
} from './notify-helpers.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/quota/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const HOUR = 3_600_000;

assertNoLeaksAtEnd();

describe('watchdog settings in the deployment file', () => {
  const FILE = '/srv/calib/autoctrl.yaml';
  it('max_queue and the watchdog durations are checked like every duration, with their line', () => {
    const bad = validateDeploymentText(
      'tasks:\n  reco: { command: [r], max_queue: soon }\nwatchdog: { stalled_after: 400d, max_run_age: 0s }\n',
      FILE,
    );
    assert.deepEqual(
      bad.problems.map((p) => `${p.line}:${p.message}`),
      [
        '2:tasks.reco.max_queue: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
        '3:watchdog.stalled_after: "400d" is longer than the longest duration autoctrl takes (365d): write at most 365d',
        '3:watchdog.max_run_age: must be longer than 0',
      ],
    );
    const good = validateDeploymentText(
      'engine: { interval: 20s }\ntasks:\n  reco: { command: [r], max_queue: 12h }\n',
      FILE,
    ).deployment;
    assert.equal(good?.tasks[0]?.maxQueueMs, 12 * HOUR);
    assert.deepEqual(good?.watchdog, {
      stalledAfterMs: 60_000,
      intervalMs: 60_000,
      maxRunAgeMs: null,
    });
  });
});

describe('quota command outputs (recorded, see test/fixtures/quota/README.md)', () => {
  it('eos quota ls -m: the tightest quota with a limit; none without one', () => {
    assert.deepEqual(parseEosQuota(fixture('eos-quota-project.txt')), {
      usedBytes: 186e12,
      quotaBytes: 200e12,
    });
    assert.equal(parseEosQuota(fixture('eos-quota-nolimit.txt')), null);
  });

  it('fs listquota: kilobytes, the over-quota markers, no limit', () => {
    assert.deepEqual(parseAfsListquota(fixture('afs-listquota.txt')), {
      quotaBytes: 15000 * 1024,
      usedBytes: 5071 * 1024,
    });
    assert.deepEqual(parseAfsListquota(fixture('afs-listquota-over.txt')), {
      quotaBytes: 512000 * 1024,
      usedBytes: 512136 * 1024,
    });
    assert.equal(parseAfsListquota(fixture('afs-listquota-nolimit.txt')), null);
    assert.throws(() => parseAfsListquota('fs: File /x not found\n'), /no "Volume Name/);
  });
});

describe('watchdog alerts through the Mattermost stand-in', () => {
  // Made here, not in `before`: tempDir's own `after` would remove it as soon as `before` ends.
  const dir = tempDir();
  let hook: FakeHook;
  let rt: Runtime;
  let notify: NotifyDispatcher;
  let watchdog: Watchdog;

  before(async () => {
    hook = await fakeHook();
    writeFileSync(join(dir, 'big'), Buffer.alloc(64 * 1024, 1));
    const show = (file: string) => ['sh', '-c', 'cat "$0"', join(FIXTURES, file)];
    const d: Deployment = deployment(dir, [task('reco', { maxQueueMs: HOUR }), task('calib')], {
      notify: { chat: notifier('mattermost', { url: hook.url, fold_window: 0 }) },
      watchdog: { stalledAfterMs: 60_000, intervalMs: 60_000, maxRunAgeMs: 2 * HOUR },
      server: {
        host: '127.0.0.1',
        port: 0,
        publicUrl: 'http://calib.example.org',
        disk: [
          {
            path: '/eos/cms/store/group/dpg_ecal',
            kind: 'eos',
            command: show('eos-quota-project.txt'),
            quotaBytes: null,
            warn: 0.9,
          },
          {
            path: '/afs/cern.ch/work/e/ecal',
            kind: 'afs',
            command: show('afs-listquota-over.txt'),
            quotaBytes: null,
            warn: 0.8,
          },
          {
            path: '/afs/cern.ch/user/s/smith',
            kind: 'afs',
            command: show('afs-listquota.txt'),
            quotaBytes: null,
            warn: 0.8,
          },
          { path: dir, quotaBytes: 32 * 1024, warn: 0.8 },
        ],
      },
    });
    rt = await openRuntime(d, { logger: silentLogger() });
    notify = await dispatcherFor(d, rt.store);
    await notify.start();
    watchdog = new Watchdog({
      store: rt.store,
      deployment: d,
      logger: silentLogger(),
      owner: 'watch-1',
    });
  });

  after(async () => {
    await watchdog.stop();
    await notify.stop();
    await rt.close();
    await hook.close();
  });

  const texts = () => hook.accepted().map((b) => String(b.text));

  it('disk_quota: EOS, AFS and local areas over their warning level, once each', async () => {
    const round = await watchdog.round(true);
    assert.equal(round.disk, 3, JSON.stringify(round));
    await until(async () => texts().length === 3, 5_000, 'three disk messages');
    const all = texts().join('\n');
    assert.match(
      all,
      /:floppy_disk: output area \*\*\/eos\/cms\/store\/group\/dpg\\_ecal\*\* is filling up: 93% used \(186 TB of 200 TB\), above its warning level of 90%/,
    );
    assert.match(
      all,
      /\/afs\/cern.ch\/work\/e\/ecal\*\* is filling up: 100% used .*over its quota/,
    );
    assert.doesNotMatch(all, /smith/);
    // Remembered in the store: the next round (or a cron run) does not repeat them.
    assert.equal((await watchdog.round(true)).disk, 0);
  });

  it('job_stuck: a job queued longer than its task max_queue, once', async () => {
    const at = Date.now() - 1.5 * HOUR;
    await startedInstance(rt.store, 'reco', [7], at);
    const before = texts().length;
    assert.equal((await watchdog.round(true)).stuckJobs, 1);
    await until(async () => texts().length === before + 1, 5_000, 'the job_stuck message');
    assert.match(
      texts().at(-1) ?? '',
      /^`test` :turtle: \*\*reco\*\* for run 7 \(campaign prompt, attempt 1\): a job is stuck: job 0 \(attempt 1\) queued on local for 1h 30m, longer than max\\_queue 1h \(not submitted yet\) — log: \[instance\]\(http:\/\/calib.example.org\/instances\/\d+\)/,
    );
    assert.equal((await watchdog.round(true)).stuckJobs, 0);
  });

  it('job_stuck: a running job its batch system held longer than max_queue, once', async () => {
    const [inst] = await rt.store.createInstances(
      [{ campaign: 'prompt', task: 'reco', groupKey: 'run:8', runs: [8] }],
      'test',
    );
    assert.ok(inst);
    const { jobs } = await rt.store.startInstance(inst.id, {
      from: 'new',
      configHash: 'h',
      config: {},
      jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
      reason: null,
      by: 'test',
      at: Date.now(),
    });
    const id = jobs[0]?.id ?? 0;
    // An executor said so two hours ago: queue_since is the store's clock, so it is set back here.
    const db = new Database(rt.deployment.store.replace(/^sqlite:/, ''));
    db.prepare(
      "UPDATE jobs SET status = 'running', executor_id = '77', queue_state = 'held', queue_since = ? WHERE id = ?",
    ).run(Date.now() - 2 * HOUR, id);
    db.close();
    const before = texts().length;
    assert.equal((await watchdog.round(true)).stuckJobs, 1);
    await until(async () => texts().length === before + 1, 5_000, 'the job_stuck message');
    assert.match(
      texts().at(-1) ?? '',
      /\*\*reco\*\* for run 8 .*job 0 \(attempt 1\) held on local for 2h, longer than max\\_queue 1h \(submitted as 77\)/,
    );
    assert.equal((await watchdog.round(true)).stuckJobs, 0);
  });

  it('run_stuck: a run whose instances did not move for max_run_age, once', async () => {
    const inst = await newInstance(rt.store, 'calib', [9]);
    await rt.store.transitionInstance(inst.id, {
      from: 'new',
      to: 'waiting',
      reason: 'lock t0: run 9 not repacked',
      by: 'test',
      at: Date.now() - 3 * HOUR,
    });
    const before = texts().length;
    assert.equal((await watchdog.round(true)).stuckRuns, 1);
    await until(async () => texts().length === before + 1, 5_000, 'the run_stuck message');
    assert.match(
      texts().at(-1) ?? '',
      /:snail: \*\*run 9\*\* \(campaign prompt\) made no progress: nothing moved for 3h \(max\\_run\\_age 2h\): calib waiting \(lock t0: run 9 not repacked\)/,
    );
    assert.equal((await watchdog.round(true)).stuckRuns, 0);
  });
});
