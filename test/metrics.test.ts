import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../src/daemon.ts';
import { registerFeedLag, setExecutorAvailable } from '../src/export/metrics-hooks.ts';
import { silentLogger } from '../src/logger.ts';
import { sha256 } from './api-setup.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { PROMTOOL, PrometheusServer, prometheusMissing } from './services/prometheus.ts';

const skip = prometheusMissing() ?? false;
const TOKEN = 'metrics-reader-token';

assertNoLeaksAtEnd();

describe('GET /metrics, scraped by a real Prometheus', { skip }, () => {
  let daemon: Daemon;
  let prometheus: PrometheusServer;
  let text: string;
  let unregister: () => void;

  // Made here, not in `before`: tempDir's own `after` would remove it as soon as `before` ends.
  const dir = tempDir();

  before(async () => {
    const d = deployment(
      dir,
      [
        task('reco'),
        task('calib', { after: ['reco'], command: ['sh', '-c', 'test "$1" != 2', 'sh', '{run}'] }),
      ],
      {
        auth: { readOpen: false, operators: [{ name: 'prom', tokenSha256: sha256(TOKEN) }] },
        engine: { intervalMs: 200, leaseTtlMs: 6_000, controllers: 1 },
      },
    );
    daemon = await startDaemon(d, {
      logger: silentLogger(),
      listen: { host: '127.0.0.1', port: 0 },
    });
    // The first scrape starts following the change feed: what settles from now on is counted.
    assert.equal((await fetch(`${daemon.url}/metrics`, auth())).status, 200);
    await daemon.runtime.store.upsertRuns(
      [1, 2, 3].map((run) => ({ run, fill: 1, start: 1, end: 2, lumi: 10 })),
      'test',
    );
    daemon.controller.trigger({ full: true });
    await until(
      async () =>
        (await daemon.runtime.store.campaignCounts('prompt')).instances.failed === 1 &&
        (await daemon.runtime.store.campaignCounts('prompt')).instances.done === 5,
      120_000,
      'the chain to settle',
    );
    const [reco] = await daemon.runtime.store.findInstances({ task: 'reco' });
    const [job] = await daemon.runtime.store.jobsForInstance(reco?.id ?? 0);
    await daemon.runtime.store.recordJobData(job?.id ?? 0, {
      fields: { gain: 1.25, tag: 'text is no gauge' },
      at: Date.now(),
    });
    setExecutorAvailable('local', false);
    unregister = registerFeedLag('influx', () => 2.5);
    // The settled counters follow the change feed: wait until a scrape has read it.
    text = await until(
      async () => {
        const t = await (await fetch(`${daemon.url}/metrics`, auth())).text();
        return (
          t.includes(
            'autoctrl_instances_settled_total{campaign="prompt",task="calib",status="failed"} 1',
          ) &&
          t.includes('autoctrl_instances{campaign="prompt",task="calib",status="processing"} 0') &&
          t.includes('autoctrl_instances{campaign="prompt",task="calib",status="failed"} 1') &&
          t.includes('autoctrl_job_field{campaign="prompt",task="reco",field="gain"} 1.25') &&
          t
        );
      },
      60_000,
      'the counts to show the settled chain',
    );
    prometheus = await PrometheusServer.start({ url: daemon.url, token: TOKEN });
  });

  after(async () => {
    unregister?.();
    setExecutorAvailable('local', true);
    await prometheus?.stop();
    await daemon?.stop();
  });

  const auth = () => ({ headers: { authorization: `Bearer ${TOKEN}` } });

  it('follows auth.read: no token, no metrics', async () => {
    const res = await fetch(`${daemon.url}/metrics`);
    assert.equal(res.status, 401);
  });

  it('serves the exposition format with every family, and promtool finds nothing wrong', () => {
    for (const family of [
      'autoctrl_instances',
      'autoctrl_jobs',
      'autoctrl_pass_duration_seconds_bucket',
      'autoctrl_job_reports_total',
      'autoctrl_lock_waits',
      'autoctrl_executor_available{executor="local"} 0',
      'autoctrl_export_feed_lag_seconds{exporter="influx"} 2.5',
      'autoctrl_leader 1',
      'autoctrl_last_pass_age_seconds',
      'autoctrl_stalled 0',
    ])
      assert.ok(text.includes(family), `${family} missing from:\n${text}`);
    assert.match(
      text,
      /autoctrl_instances_settled_total\{campaign="prompt",task="reco",status="done"\} 3/,
    );
    assert.doesNotMatch(text, /field="tag"/);
    assert.match(text, /autoctrl_jobs_ended_total\{executor="local",status="failed"\} 1/);
    assert.match(text, /autoctrl_jobs\{executor="local",status="running"\} 0/);
    assert.match(text, /autoctrl_jobs\{executor="local",status="done"\} 5/);
    assert.match(text, /autoctrl_jobs\{executor="local",status="failed"\} 1/);
    assert.match(text, /autoctrl_instances\{campaign="prompt",task="reco",status="done"\} 3/);
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  });

  it('is scraped with the token, and the query API returns the series', async () => {
    const done = await until(
      async () => {
        const r = await prometheus.query(
          'autoctrl_instances_settled_total{task="reco",status="done"}',
        );
        return r.length > 0 && r;
      },
      20_000,
      `Prometheus to scrape (${JSON.stringify(await prometheus.targets())})`,
    );
    assert.deepEqual(
      done.map((s) => [s.metric.campaign, s.value]),
      [['prompt', 3]],
    );
    const [leader] = await prometheus.query('autoctrl_leader');
    assert.equal(leader?.value, 1);
    const passes = await prometheus.query('sum(autoctrl_pass_duration_seconds_count)');
    assert.ok((passes[0]?.value ?? 0) > 0, 'passes observed');
    // One scrape slowed by a loaded machine reads as down until the next: the target must come back up.
    await until(
      async () => (await prometheus.targets())[0]?.health === 'up',
      10_000,
      `the target to be up (${JSON.stringify(await prometheus.targets())})`,
    );
  });
});
