import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validateDeploymentText } from '../src/config/load.ts';
import { Controller } from '../src/engine/controller.ts';
import { silentLogger } from '../src/logger.ts';
import type { Alert } from '../src/notify/contract.ts';
import { formatText } from '../src/notify/format.ts';
import { openRuntime } from '../src/runtime.ts';
import type { Source } from '../src/sources/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, deployment, sleep, tempDir, until } from './helpers.ts';
import { dispatcherFor, failedInstance, fakeHook, notifier } from './notify-helpers.ts';

assertNoLeaksAtEnd();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('alerts', () => {
  it('folds repeated failures of one cause into the first message and a summary', async () => {
    const mm = await fakeHook();
    cleanups.push(() => mm.close());
    const dir = tempDir();
    const dep = deployment(dir, [], {
      notify: { chat: notifier('mattermost', { url: mm.url, fold_window: 0.4 }) },
    });
    const store = await createSqliteStore(join(dir, 'state.db'));
    cleanups.push(() => store.close());
    // Driven by hand, on its own clock, so that the window does not depend on the machine's speed.
    let clock = Date.now();
    const notify = await dispatcherFor(dep, store, { now: () => clock });
    cleanups.push(() => notify.stop(100));
    await notify.tick();

    for (const run of [355100, 355101, 355102, 355103, 355104]) {
      await failedInstance(store, 'pi0-calib', [run], run === 355103 ? 137 : 1);
    }
    await failedInstance(store, 'ecal-laser', [355200]);
    await notify.tick();
    await until(async () => mm.accepted().length === 2, 3000, 'the first alert of each cause');
    clock += 300;
    await notify.tick();
    await sleep(100);
    assert.equal(mm.requests.length, 2, 'the window is still open');
    clock += 150;
    await notify.tick();
    await until(async () => mm.accepted().length === 3, 3000, 'the summary');
    clock += 1000;
    await notify.tick();
    await sleep(100);
    const texts = mm.accepted().map((b) => String(b.text));
    assert.equal(texts.length, 3, texts.join('\n'));
    assert.match(texts[0] ?? '', /\*\*pi0-calib\*\* for run 355100 \(campaign prompt, attempt 1\)/);
    assert.match(texts[1] ?? '', /\*\*ecal-laser\*\* for run 355200 /);
    assert.match(
      texts[2] ?? '',
      /^`test` :red_circle: … and 4 more like it within 400 ms: \*\*pi0-calib\*\* for runs 355101–355104 \(campaign prompt\) permanently failed: job 0 failed after 1 attempt: exit code 1 — \[the first of them\]/,
    );
  });

  it('turns failing polls of a source into one alert, and its recovery into another', async () => {
    const mm = await fakeHook();
    cleanups.push(() => mm.close());
    const dir = tempDir();
    const dep = deployment(dir, [], {
      notify: { chat: notifier('slack', { url: mm.url }, ['source_failing']) },
    });
    const rt = await openRuntime(dep, { logger: silentLogger() });
    cleanups.push(() => rt.close());
    const notify = await dispatcherFor(dep, rt.store);
    cleanups.push(() => notify.stop(100));
    await notify.start();
    let down = true;
    const source: Source = {
      name: 'runregistry',
      poll: async () => {
        if (down) throw new Error('connect ECONNREFUSED 10.0.0.1:443');
        return { runs: [], cursor: null };
      },
    };
    const controller = new Controller(rt, new Map([['runregistry', source]]));
    for (let i = 0; i < 5; i++) await controller.pollSource('runregistry', source);
    down = false;
    await controller.pollSource('runregistry', source);
    await controller.pollSource('runregistry', source);
    await controller.stop();

    const events = await rt.store.listEvents({ entity: 'source', entityId: 'runregistry' });
    assert.deepEqual(
      events.map((e) => e.data),
      [
        { alert: 'source_failing', failures: 3 },
        { alert: 'source_recovered', failures: 5 },
      ],
    );
    await until(async () => mm.accepted().length === 2);
    const [failing, recovered] = mm.accepted().map((b) => String(b.text));
    assert.equal(
      failing,
      '`test` :warning: source *runregistry* is failing: 3 polls in a row failed, the last with: connect ECONNREFUSED 10.0.0.1:443',
    );
    assert.match(
      recovered ?? '',
      /source \*runregistry\* recovered: polls succeed again after 5 failures/,
    );
  });

  it('writes Slack mrkdwn with its links and escapes', () => {
    const alert: Alert = {
      kind: 'job_retried',
      eventId: 7,
      at: 0,
      environment: 'prod',
      campaign: 'rereco-2024',
      task: 'pi0-calib',
      runs: [355100, 355102],
      attempt: 1,
      instanceId: 3,
      jobId: 9,
      jobAttempt: 1,
      jobAttempts: 3,
      subject: null,
      reason: 'exit code 1 <oom>',
      url: 'https://c.example.org/instances/3',
      logUrl: 'https://c.example.org/api/jobs/9/log',
      logPath: null,
    };
    assert.equal(
      formatText({ alert, folded: null }, 'mrkdwn'),
      ':repeat: *pi0-calib* for runs 355100, 355102 (campaign rereco-2024, attempt 1): a job failed, retrying (attempt 2 of 3): exit code 1 &lt;oom&gt; — log: <https://c.example.org/instances/3|instance> · <https://c.example.org/api/jobs/9/log|job log>',
    );
  });
});

describe('autoctrl pass', () => {
  const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  const run = promisify(execFile);

  it('sends the alerts of its pass before it exits', async () => {
    const mm = await fakeHook();
    cleanups.push(() => mm.close());
    const dir = tempDir();
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(
      file,
      [
        'store: sqlite:state.db',
        'server: { port: 1, public_url: https://calib.example.org }',
        'environment: dev',
        'tasks:',
        '  pi0-calib: { command: [sh, -c, "exit 3"] }',
        'notify:',
        '  chat: { type: mattermost, url_env: MM_HOOK, channel: { prod: calib-alerts, dev: calib-dev } }',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, MM_HOOK: mm.url, NO_COLOR: '1' };
    const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, '-c', file], { env });
    await cli('pass');
    await cli('runs', 'add', '355100', '--fill', '8222', '--lumi', '10');
    await until(async () => {
      await cli('pass');
      return mm.accepted().length > 0;
    });
    const [body] = mm.accepted();
    assert.equal(body?.channel, 'calib-dev');
    assert.match(
      String(body?.text),
      /\*\*pi0-calib\*\* for run 355100 \(campaign prompt, attempt 1\) permanently failed: job 0 failed after 1 attempt: exit code 3 — log: \[instance\]\(https:\/\/calib\.example\.org\/instances\/1\)/,
    );
    await cli('pass');
    assert.equal(mm.requests.length, 1);
  });
});

describe('notify section of the deployment file', () => {
  const FILE = '/srv/calib/autoctrl.yaml';
  const BASE = 'environment: dev\ntasks:\n  a: { command: [run.sh] }\n';

  it('loads notifiers with their events and options', () => {
    const { deployment: dep, problems } = validateDeploymentText(
      `${BASE}notify:
  chat:
    type: mattermost
    url: https://mattermost.example.org/hooks/abc
    channel: { prod: calib-alerts, dev: calib-dev }
    events: [instance_failed, lock_timeout]
  ops: { type: webhook, url_env: OPS_HOOK, fold_window: 2m }
`,
      FILE,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(dep?.notify.chat, {
      type: 'mattermost',
      events: ['instance_failed', 'lock_timeout'],
      options: {
        url: 'https://mattermost.example.org/hooks/abc',
        channel: { prod: 'calib-alerts', dev: 'calib-dev' },
      },
    });
  });

  it('names the line of a bad notifier', () => {
    const { problems } = validateDeploymentText(
      `${BASE}notify:
  chat:
    type: mattermost
    url: https://mattermost.example.org/hooks/abc
    channel: { prod: calib-alerts }
    events: [instance_failed, run_added]
  pager: { type: pagerduty }
  ops: { type: webhook, url: https://ops.example.org/in, fold_window: soon, colour: red }
  both: { type: slack, url: https://hooks.slack.com/x, url_env: SLACK_HOOK }
`,
      FILE,
    );
    assert.deepEqual(
      problems.map((p) => `${p.line}: ${p.message}`),
      [
        "8: notify.chat.channel: no channel for environment 'dev': add dev: or default: (the webhook's own channel could be production's)",
        "9: notify.chat.events[1]: unknown event 'run_added' (known: instance_failed, job_retried, lock_timeout, source_failing, executor_unavailable, submission_blocked, export_failing, controller_stalled, disk_quota, job_stuck, run_stuck)",
        "10: notify.pager.type: unknown notifier type 'pagerduty' (known: mattermost, slack, webhook)",
        '11: notify.ops.fold_window: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
        '11: notify.ops.colour: unknown key (known: type, events, url, url_env, fold_window, timeout, headers)',
        '12: notify.both: give either url or url_env (the variable holding the URL)',
      ],
    );
  });
});
