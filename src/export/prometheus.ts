import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PassResult } from '../engine/engine.ts';
import type { Runtime } from '../runtime.ts';
import type { StatusCounts } from '../store/contract.ts';
import { stallState } from '../watchdog/heartbeat.ts';
import {
  executorAvailable,
  feedLagReaders,
  lastSourceSuccess,
  reportsTaken,
} from './metrics-hooks.ts';

/** How old the whole-store counts may be: counting a year of instances is not a scrape's work. */
const COUNTS_TTL_MS = 15_000;

/**
 * The Prometheus view of one process (`GET /metrics`). Cheap figures are read
 * at each scrape (active jobs through their partial index, the heartbeat,
 * what the hooks were told); the counts of every instance and job by status
 * come from `statusCounts`, refreshed in the background when older than
 * `countsTtlMs`, so a scrape never waits for a count but the first.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private counts: { at: number; value: StatusCounts } | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly passes: Histogram<'full'>;
  private readonly onPass = (r: PassResult) => {
    if (!r.skipped) this.passes.observe({ full: String(r.full) }, r.durationMs / 1000);
  };

  constructor(
    private readonly rt: Runtime,
    private readonly countsTtlMs = COUNTS_TTL_MS,
  ) {
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
      help: 'Instances by campaign, task and status (the whole store; see autoctrl_status_counts_age_seconds)',
      labelNames: ['campaign', 'task', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const r of (await self.statusCounts()).instances)
          this.set({ campaign: r.campaign, task: r.task, status: r.status }, r.count);
      },
    });
    new Gauge({
      name: 'autoctrl_jobs',
      help: 'Jobs by executor and status: idle and running as of this scrape, done and failed from the whole-store count',
      labelNames: ['executor', 'status'],
      registers,
      async collect() {
        this.reset();
        const [all, active] = await Promise.all([self.statusCounts(), rt.store.activeJobCounts()]);
        for (const r of all.jobs)
          if (r.status === 'done' || r.status === 'failed')
            this.set({ executor: r.executor, status: r.status }, r.count);
        for (const name of Object.keys(rt.deployment.executors))
          for (const status of ['idle', 'running']) this.set({ executor: name, status }, 0);
        for (const r of active) this.inc({ executor: r.executor, status: r.status }, r.count);
      },
    });
    new Gauge({
      name: 'autoctrl_status_counts_age_seconds',
      help: 'Age of the whole-store counts behind autoctrl_instances and the done/failed autoctrl_jobs',
      registers,
      collect() {
        this.set(self.counts === null ? 0 : (Date.now() - self.counts.at) / 1000);
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
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the engine. */
  close(): void {
    this.rt.engine.off('pass', this.onPass);
  }

  private async statusCounts(): Promise<StatusCounts> {
    const stale = this.counts === null || Date.now() - this.counts.at > this.countsTtlMs;
    if (stale && this.refreshing === null) {
      this.refreshing = this.rt.store
        .statusCounts()
        .then(
          (value) => {
            this.counts = { at: Date.now(), value };
          },
          (err: unknown) => {
            // The previous counts stay (their age shows it); a first scrape fails with the error.
            this.rt.engine.ctx.logger.warn(
              { err },
              'counting instances and jobs for /metrics failed',
            );
            if (this.counts === null) throw err;
          },
        )
        .finally(() => {
          this.refreshing = null;
        });
    }
    if (this.counts === null) await this.refreshing;
    return this.counts?.value ?? { instances: [], jobs: [] };
  }
}
