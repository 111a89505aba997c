import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PassResult } from '../engine/engine.ts';
import { PROMPT } from '../model/campaign.ts';
import { INSTANCE_STATUSES, JOB_STATUSES } from '../model/types.ts';
import type { Runtime } from '../runtime.ts';
import type { StatusCounts } from '../store/contract.ts';
import { stallState } from '../watchdog/heartbeat.ts';
import {
  executorAvailable,
  feedLagReaders,
  lastSourceSuccess,
  reportsTaken,
} from './metrics-hooks.ts';
import { MAX_FIELD_SERIES, StatusTally } from './status-tally.ts';

/**
 * The Prometheus view of one process (`GET /metrics`). Every figure is cheap
 * to read at each scrape: instances and jobs by status from the counts the
 * store keeps as they change (`statusCounts`), the heartbeat, what the hooks
 * were told; what settles and the job fields from a `StatusTally` following
 * the change feed.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly tally: StatusTally;
  private readonly passes: Histogram<'full'>;
  private readonly onPass = (r: PassResult) => {
    if (!r.skipped) this.passes.observe({ full: String(r.full) }, r.durationMs / 1000);
  };

  /** One read of the store's counts per scrape, shared by the two families that show them. */
  private counting: Promise<StatusCounts> | null = null;

  constructor(private readonly rt: Runtime) {
    this.tally = new StatusTally(rt);
    const registers = [this.registry];
    const self = this;
    this.passes = new Histogram({
      name: 'autoctrl_pass_duration_seconds',
      help: 'Duration of the engine passes this controller ran (full: the timer pass over everything)',
      labelNames: ['full'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    rt.engine.on('pass', this.onPass);
    new Gauge({
      name: 'autoctrl_instances',
      help: 'Instances by campaign, task and status (campaigns deleted left out)',
      labelNames: ['campaign', 'task', 'status'],
      registers,
      async collect() {
        this.reset();
        const counts = await self.counts();
        // Zeros for every task of every campaign counted: a status that emptied shows 0, not a gap.
        const campaigns = new Set([PROMPT, ...counts.instances.map((r) => r.campaign)]);
        for (const campaign of campaigns)
          for (const t of rt.deployment.tasks)
            for (const status of INSTANCE_STATUSES) this.set({ campaign, task: t.name, status }, 0);
        for (const r of counts.instances)
          this.set({ campaign: r.campaign, task: r.task, status: r.status }, r.count);
      },
    });
    const settledSeen = new Map<string, number>();
    new Counter({
      name: 'autoctrl_instances_settled_total',
      help: 'Instances that turned done or failed, by campaign and task, since this process started following the change feed',
      labelNames: ['campaign', 'task', 'status'],
      registers,
      async collect() {
        await self.tally.follow();
        addDeltas(this, self.tally.settled, ['campaign', 'task', 'status'], settledSeen);
      },
    });
    new Gauge({
      name: 'autoctrl_jobs',
      help: 'Jobs of every attempt by executor and status, as of this scrape (campaigns deleted left out)',
      labelNames: ['executor', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const name of Object.keys(rt.deployment.executors))
          for (const status of JOB_STATUSES) this.set({ executor: name, status }, 0);
        for (const r of (await self.counts()).jobs)
          this.inc({ executor: r.executor, status: r.status }, r.count);
      },
    });
    const endedSeen = new Map<string, number>();
    new Counter({
      name: 'autoctrl_jobs_ended_total',
      help: "Jobs that ended done or failed, by their task's executor, since this process started following the change feed",
      labelNames: ['executor', 'status'],
      registers,
      async collect() {
        // After the settled counter's collect, which read the feed for both.
        await self.tally.follow();
        addDeltas(this, self.tally.jobsEnded, ['executor', 'status'], endedSeen);
      },
    });
    new Gauge({
      name: 'autoctrl_job_field',
      help: `The latest numeric value jobs reported for each field, by campaign and task, since this process started following the change feed (at most ${MAX_FIELD_SERIES} series)`,
      labelNames: ['campaign', 'task', 'field'],
      registers,
      async collect() {
        await self.tally.follow();
        this.reset();
        for (const [key, value] of self.tally.latestFields) {
          const [campaign = '', task = '', field = ''] = JSON.parse(key) as string[];
          this.set({ campaign, task, field }, value);
        }
      },
    });
    let reportsSeen = 0;
    new Counter({
      name: 'autoctrl_job_reports_total',
      help: 'Job reports this process took (rate() gives reports per second)',
      registers,
      collect() {
        const now = reportsTaken();
        this.inc(now - reportsSeen);
        reportsSeen = now;
      },
    });
    new Gauge({
      name: 'autoctrl_source_lag_seconds',
      help: "Time since each source's last successful poll by this process (only the leader polls)",
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [source, at] of lastSourceSuccess()) this.set({ source }, (now - at) / 1000);
      },
    });
    new Gauge({
      name: 'autoctrl_lock_waits',
      help: 'Instances waiting on a closed lock, by lock (known to the leader only)',
      labelNames: ['lock'],
      registers,
      collect() {
        this.reset();
        for (const w of rt.engine.ctx.memory.lockWaits.values()) this.inc({ lock: w.lock });
      },
    });
    new Gauge({
      name: 'autoctrl_lock_wait_longest_seconds',
      help: 'The longest current wait on each lock (known to the leader only)',
      labelNames: ['lock'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        const longest = new Map<string, number>();
        for (const w of rt.engine.ctx.memory.lockWaits.values())
          longest.set(w.lock, Math.max(longest.get(w.lock) ?? 0, now - w.since));
        for (const [lock, ms] of longest) this.set({ lock }, ms / 1000);
      },
    });
    new Gauge({
      name: 'autoctrl_executor_available',
      help: 'Whether each executor can take work now (1) or its batch system does not answer (0)',
      labelNames: ['executor'],
      registers,
      collect() {
        for (const name of Object.keys(rt.deployment.executors))
          this.set({ executor: name }, executorAvailable(name) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'autoctrl_export_feed_lag_seconds',
      help: 'How far behind the change feed each exporter is',
      labelNames: ['exporter'],
      registers,
      async collect() {
        this.reset();
        for (const [exporter, lag] of feedLagReaders()) this.set({ exporter }, await lag());
      },
    });
    new Gauge({
      name: 'autoctrl_leader',
      help: 'Whether this controller leads the engine (1) or stands by (0)',
      registers,
      collect() {
        this.set(rt.engine.leading === null ? 0 : 1);
      },
    });
    const stall = async () => stallState(rt.store, rt.deployment);
    new Gauge({
      name: 'autoctrl_last_pass_age_seconds',
      help: "Time since the leader's last finished pass, by the heartbeat in the store (absent before the first)",
      registers,
      async collect() {
        this.reset();
        const s = await stall();
        if (s.ageMs !== null) this.set(s.ageMs / 1000);
      },
    });
    new Gauge({
      name: 'autoctrl_stalled',
      help: 'Whether no pass finished for watchdog.stalled_after (1)',
      registers,
      async collect() {
        this.set((await stall()).stalled ? 1 : 0);
      },
    });
  }

  /** The exposition text (format 0.0.4). */
  async text(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.counting = null;
    }
  }

  private counts(): Promise<StatusCounts> {
    this.counting ??= this.rt.store.statusCounts();
    return this.counting;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the engine. */
  close(): void {
    this.rt.engine.off('pass', this.onPass);
  }
}

/** Adds to a counter what a running total grew by since the last scrape. */
function addDeltas(
  counter: Counter<string>,
  totals: ReadonlyMap<string, number>,
  labels: readonly string[],
  seen: Map<string, number>,
): void {
  for (const [key, total] of totals) {
    const delta = total - (seen.get(key) ?? 0);
    if (delta <= 0) continue;
    const values = JSON.parse(key) as Array<string | null>;
    counter.inc(Object.fromEntries(labels.map((l, i) => [l, values[i] ?? ''])), delta);
    seen.set(key, total);
  }
}
