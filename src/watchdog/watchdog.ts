import { deadOnThisHost } from '../engine/liveness.ts';
import type { DiskUsage } from '../server/disk.ts';
import { DiskMonitor } from '../server/disk.ts';
import type { Lease } from '../store/contract.ts';
import { type LongTimer, setLongInterval } from '../timers.ts';
import { checkDisk } from './disk-check.ts';
import type { WatchdogContext } from './record.ts';
import { checkStalled } from './stalled.ts';
import { checkStuckJobs, checkStuckRuns } from './stuck.ts';

const LEASE = 'watchdog';

/** What one round found and recorded; `skipped` when another process watches. */
export interface WatchdogRound {
  skipped: boolean;
  controller: 'stalled' | 'recovered' | null;
  stuckJobs: number;
  stuckRuns: number;
  disk: number;
  /** Checks that failed (a store error, a quota command that does not answer). */
  errors: string[];
}

export interface WatchdogOptions extends Omit<WatchdogContext, 'by'> {
  /** This process (its controller id): the lease's owner. */
  owner: string;
  /** Output area usage; default a monitor of `server.disk`. */
  disk?: { usage(): Promise<DiskUsage[]> };
}

/**
 * Alerts on the automation itself, run by every `autoctrl serve` (a standby
 * watches the leader) and by `autoctrl watchdog` from cron on another host (a
 * lone controller that died is noticed too). One process at a time checks,
 * under the `watchdog` lease; what was alerted is remembered in the store, so
 * neither several watchdogs nor successive cron runs repeat an alert.
 */
export class Watchdog {
  private readonly ctx: WatchdogContext;
  private readonly disk: { usage(): Promise<DiskUsage[]> };
  private lease: Lease | null = null;
  private renewBy = 0;
  private timer: LongTimer | null = null;
  private lastFullAt = 0;
  private running: Promise<WatchdogRound> | null = null;

  constructor(private readonly opts: WatchdogOptions) {
    this.ctx = { ...opts, by: `watchdog:${opts.owner}` };
    this.disk = opts.disk ?? new DiskMonitor(opts.deployment.server.disk ?? [], 30_000);
  }

  /** How often the stall is judged: a few times within its threshold, at most every `watchdog.interval`. */
  get tickMs(): number {
    const w = this.opts.deployment.watchdog;
    return Math.max(1_000, Math.min(w.intervalMs, Math.floor(w.stalledAfterMs / 4)));
  }

  start(): void {
    this.timer = setLongInterval(() => void this.round(), this.tickMs, { ref: false });
  }

  /**
   * One round: the stall at every round, the other checks when `all` or once
   * per `watchdog.interval`. Never throws: a failing check is logged and
   * listed in `errors`, the others still run.
   */
  round(all = false): Promise<WatchdogRound> {
    this.running ??= this.check(all).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async check(all: boolean): Promise<WatchdogRound> {
    const out: WatchdogRound = {
      skipped: false,
      controller: null,
      stuckJobs: 0,
      stuckRuns: 0,
      disk: 0,
      errors: [],
    };
    const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        this.ctx.logger.warn({ err }, `watchdog: ${what} failed; trying again at the next round`);
        out.errors.push(`${what}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const held = await attempt('taking the watchdog lease', () => this.hold());
    if (held !== true) return { ...out, skipped: held === false };
    out.controller = (await attempt('the stall check', () => checkStalled(this.ctx))) ?? null;
    const now = Date.now();
    if (!all && now - this.lastFullAt < this.opts.deployment.watchdog.intervalMs) return out;
    this.lastFullAt = now;
    out.stuckJobs =
      (await attempt('the stuck jobs check', () => checkStuckJobs(this.ctx, now))) ?? 0;
    out.stuckRuns =
      (await attempt('the stuck runs check', () => checkStuckRuns(this.ctx, now))) ?? 0;
    out.disk =
      (await attempt('the disk check', async () => checkDisk(this.ctx, await this.disk.usage()))) ??
      0;
    return out;
  }

  /**
   * Renewed when a third of its life is left, lasting a few rounds; taken at
   * once from a process of this host that is gone. Others only read it while
   * it is held: a write per round from every controller would wake them all
   * (the store's cross-process wake-up) and contend for SQLite's write lock.
   */
  private async hold(): Promise<boolean> {
    const { store, owner } = this.opts;
    const ttl = Math.max(10_000, 3 * this.tickMs);
    if (this.lease !== null && Date.now() < this.renewBy) return true;
    let got: Lease | null = null;
    if (this.lease !== null) got = await store.renewLease(this.lease, ttl);
    else {
      const [current, now] = await Promise.all([store.getLease(LEASE), store.clock()]);
      const free = current === null || current.expiresAt <= now || current.owner === owner;
      if (free) got = await store.acquireLease(LEASE, owner, ttl);
      else if (deadOnThisHost(current.owner, owner))
        got = await store.acquireLease(LEASE, owner, ttl, { takeFrom: current.owner });
    }
    this.lease = got;
    this.renewBy = Date.now() + (2 * ttl) / 3;
    return got !== null;
  }

  /** Stops the timer, waits for a round in progress and lets another process watch at once. */
  async stop(): Promise<void> {
    this.timer?.clear();
    this.timer = null;
    await this.running;
    if (this.lease !== null) await this.opts.store.releaseLease(this.lease).catch(() => {});
    this.lease = null;
  }
}
