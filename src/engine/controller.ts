import { CursorConflictError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import type { Source } from '../sources/contract.ts';
import { type LongTimer, setLongInterval, setLongTimeout } from '../timers.ts';
import type { PassResult } from './engine.ts';
import { HealthStreak } from './health-streak.ts';
import { StoreOutage } from './outage.ts';

/**
 * The daemon's clock. Every controller keeps trying for the engine lease (a
 * third of its life apart); the one that holds it passes: fully on the
 * timer, and over what changed at once on every trigger (a job's exit, a
 * report, a write by another process seen through the store's wake-up) and
 * when a delayed retry falls due. Only the leader polls the sources. A
 * controller that does not lead still runs the jobs of the host-scoped
 * executors it holds (host-jobs.ts), on the same triggers. Errors in a pass
 * or a poll are logged and retried at the next tick, never fatal.
 */
export class Controller {
  private timers: LongTimer[] = [];
  private wake: LongTimer | null = null;
  private unwatch: (() => void) | null = null;
  private stopped = false;
  private passing: Promise<unknown> = Promise.resolve();
  private readonly health: HealthStreak;
  private readonly outage: StoreOutage;
  private retry: NodeJS.Timeout | null = null;
  lastPass: PassResult | null = null;

  constructor(
    private readonly rt: Runtime,
    private readonly sources: ReadonlyMap<string, Source>,
  ) {
    this.health = new HealthStreak(rt.engine.ctx);
    this.outage = new StoreOutage(rt.engine.ctx.logger);
  }

  start(): void {
    const { engine, deployment, executors, store } = this.rt;
    for (const executor of executors.values())
      executor.onChange?.((jobId, state) => {
        engine.jobChanged(jobId, state);
        this.trigger();
      });
    engine.on('pass', (r) => {
      if (!r.skipped) this.lastPass = r;
      // A standby's wake-up is for the host-scoped executors' jobs it runs.
      this.scheduleWake(r.wakeAt);
    });
    // A new leader starts with a full pass and its own source polls.
    engine.on('lead', (lease) => {
      if (lease === null) return;
      this.trigger({ full: true });
      for (const [name, source] of this.sources) void this.pollSource(name, source);
    });
    // The leader follows every write; a standby only when it runs some executor's jobs (new ones to submit).
    this.unwatch = store.watch(() => {
      if (engine.leading !== null || engine.hostJobs.holding) this.trigger();
    });
    // Chained timers: an interval of weeks must not fire every millisecond (Node's limit is 24.8 days).
    const every = (ms: number, fn: () => void) =>
      this.timers.push(setLongInterval(fn, ms, { ref: true }));
    every(deployment.engine.intervalMs, () => this.trigger({ full: true }));
    every(Math.max(100, engine.ctx.leaseTtlMs / 3), () => void this.keepLease());
    for (const [name, source] of this.sources) {
      const cfg = deployment.sources[name];
      every(cfg?.intervalMs ?? 60_000, () => void this.pollSource(name, source));
    }
    this.trigger({ full: true });
  }

  /**
   * Asks for a pass now: over what changed (the default), or over everything.
   * Triggers during a pass coalesce into one more pass.
   */
  trigger(opts: { full?: boolean } = {}): void {
    if (this.stopped) return;
    this.passing = this.rt.engine.pass({ full: opts.full ?? false }).then(
      () => this.outage.succeeded(),
      (err: unknown) => this.passFailed(err),
    );
  }

  private passFailed(err: unknown): void {
    const delay = this.outage.failed(err);
    if (delay === null) {
      this.rt.engine.ctx.logger.error({ err }, 'pass failed; retrying at the next trigger');
      return;
    }
    if (this.retry !== null || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.trigger({ full: true });
    }, delay);
  }

  /**
   * Renews the leases between passes (the engine's, and those of the
   * host-scoped executors whose jobs this controller runs), or takes them
   * when their holder is gone. Taking an executor over triggers a pass that
   * adopts its jobs.
   */
  private async keepLease(): Promise<void> {
    const { engine } = this.rt;
    try {
      await engine.holdLease();
      if (await engine.hostJobs.hold()) this.trigger();
    } catch (err) {
      if (this.outage.failed(err) === null)
        this.rt.engine.ctx.logger.warn({ err }, 'could not take or renew the engine lease');
    }
  }

  /**
   * Polls one source and stores its runs with its cursor in one transaction,
   * fenced by the engine lease: only the leader polls, and a cursor moved by
   * another process meanwhile makes this poll count for nothing.
   */
  async pollSource(name: string, source: Source): Promise<number> {
    const { store, engine } = this.rt;
    if (this.stopped) return 0;
    const key = `source:${name}`;
    try {
      if ((await engine.holdLease()) === null) return 0;
      const before = await store.getCursor(key);
      const { runs, cursor } = await source.poll(before, engine.ctx.now());
      const { added, changed } = await store.upsertRuns(runs, `source:${name}`, {
        ...(cursor !== null ? { cursor: { key, value: cursor, expected: before } } : {}),
        ...(engine.ctx.fence !== undefined ? { fence: engine.ctx.fence } : {}),
      });
      await this.health.succeeded(name);
      if (added.length + changed.length > 0) this.trigger();
      return added.length + changed.length;
    } catch (err) {
      if (err instanceof CursorConflictError) {
        engine.ctx.logger.warn({ source: name }, 'source polled by another controller meanwhile');
        return 0;
      }
      engine.ctx.logger.warn(
        { err, source: name },
        'source poll failed; retrying at its next interval',
      );
      // After a few failures in a row this becomes an alert (see HealthStreak).
      await this.health.failed(name, err);
      return 0;
    }
  }

  private scheduleWake(at: number | null): void {
    this.wake?.clear();
    this.wake = null;
    if (at === null || this.stopped) return;
    const ms = Math.max(0, at - this.rt.engine.ctx.now()) + 5;
    this.wake = setLongTimeout(() => this.trigger(), ms, { ref: true });
  }

  /** Stops the clock and waits for the pass in progress. Jobs keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) t.clear();
    this.wake?.clear();
    if (this.retry !== null) clearTimeout(this.retry);
    this.unwatch?.();
    await this.passing;
    for (const s of this.sources.values()) await s.close?.();
  }
}
