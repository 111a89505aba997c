import type { Deployment } from '../config/types.ts';
import { deadOnThisHost } from '../engine/liveness.ts';
import type { Logger } from '../logger.ts';
import type { FeedCursor, Lease, StateStore } from '../store/contract.ts';
import { alertKindOf, buildAlert } from './alerts.ts';
import { type AlertKind, type Notifier, RECOVERY_OF } from './contract.ts';
import { DEFAULT_RETRY, Deliveries, type RetryPolicy } from './delivery.ts';
import { Folder } from './fold.ts';
import { loadState, saveState } from './state.ts';

const PAGE = 500;
const LEASE = 'notify';

export interface DispatcherOptions {
  store: StateStore;
  deployment: Deployment;
  /** By name, as in the deployment's `notify:`; their `events:` are read from there. */
  notifiers: ReadonlyMap<string, Notifier>;
  logger: Logger;
  /** Base of the links in messages (default `server.publicUrl`). */
  publicUrl?: string;
  /** Lease owner: one process on a store sends the alerts, whichever made the events. */
  owner: string;
  /** How often the log is read besides `poke` (default 250 ms). */
  pollMs?: number;
  retry?: RetryPolicy;
  /** Events older than this are not announced (a store that was left alone for long; default 24 h). */
  maxAgeMs?: number;
  leaseTtlMs?: number;
  now?: () => number;
}

/**
 * Chat alerts as a consumer of the event log, not hooks in the engine: it
 * reads the events after its cursor (kept in the store), so an alert is sent
 * whatever process made the change (the daemon, a CLI, a job report), none is
 * lost across a restart and none is sent twice after a clean one.
 *
 * Undelivered alerts (retrying, or folded in an open window) are kept in the
 * store with the cursor, and sent by the next process that dispatches. A crash
 * loses nothing either but may send an alert twice (at least once); a request
 * cut by a stop is sent again after the restart.
 */
export class NotifyDispatcher {
  private readonly opts: Required<Omit<DispatcherOptions, 'retry'>>;
  private readonly deliveries: Deliveries;
  private readonly folders = new Map<string, Folder>();
  private readonly wants = new Map<string, ReadonlySet<AlertKind> | null>();
  private cursor: FeedCursor | null = null;
  private saved = { cursor: '', pending: '' };
  private lease: Lease | null = null;
  private leaseUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(options: DispatcherOptions) {
    this.opts = {
      pollMs: 250,
      maxAgeMs: 24 * 3_600_000,
      leaseTtlMs: 30_000,
      now: Date.now,
      ...options,
      publicUrl: options.publicUrl ?? options.deployment.server.publicUrl,
    };
    this.deliveries = new Deliveries(options.notifiers, {
      retry: options.retry ?? DEFAULT_RETRY,
      logger: options.logger,
      now: this.opts.now,
    });
    for (const [name, n] of options.notifiers) {
      this.folders.set(name, new Folder(n.foldWindowMs));
      const events = options.deployment.notify[name]?.events ?? [];
      const set = new Set(events as AlertKind[]);
      for (const [failure, recovery] of Object.entries(RECOVERY_OF)) {
        if (set.has(failure as AlertKind) && recovery !== undefined) set.add(recovery);
      }
      this.wants.set(name, events.length === 0 ? null : set);
    }
  }

  /** Reads the log once (so that the cursor is set before the engine runs), then every `pollMs`. */
  async start(): Promise<void> {
    await this.tick();
    if (this.stopped) return;
    this.timer = setInterval(() => this.poke(), this.opts.pollMs);
  }

  /** Reads the log soon (the engine just passed); pokes during a read coalesce into one more. */
  poke(): void {
    if (!this.stopped) void this.tick();
  }

  /** Reads the new events and sends their alerts in the background. Never throws. */
  tick(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.readLog().catch((err: unknown) => {
          this.opts.logger.warn({ err }, 'reading the event log for alerts failed; retrying');
        });
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Stops: reads what is left of the log, sends every folded summary now,
   * waits up to `waitMs` for deliveries, keeps the rest in the store.
   */
  async stop(waitMs = 5_000): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.tick();
    this.stopped = true;
    await this.running;
    for (const [name, folder] of this.folders) {
      for (const m of folder.flush()) this.deliveries.enqueue(name, m);
    }
    await this.deliveries.settle(waitMs);
    await this.deliveries.stop();
    if (this.cursor === null) return;
    try {
      await this.save();
      if (this.lease !== null) await this.opts.store.releaseLease(this.lease);
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not keep the undelivered alerts');
    }
  }

  private async readLog(): Promise<void> {
    if (!(await this.holdLease())) return;
    if (this.cursor === null) await this.load();
    for (;;) {
      const page = await this.opts.store.readFeed(this.cursor, { limit: PAGE, kinds: ['event'] });
      const oldest = this.opts.now() - this.opts.maxAgeMs;
      for (const item of page.items) {
        if (item.kind !== 'event') continue;
        const e = item.event;
        const kind = alertKindOf(e);
        const to = kind === null || e.at < oldest ? [] : this.subscribers(kind);
        if (kind !== null && to.length > 0) {
          const alert = await buildAlert(e, kind, this.opts);
          // A window that ended must be summarised before a new alert of its cause opens the next.
          this.closeWindows();
          for (const name of to) {
            if (this.folders.get(name)?.add(alert, this.opts.now()) === 'send') {
              this.deliveries.enqueue(name, { alert, folded: null });
            }
          }
        }
      }
      this.cursor = page.cursor;
      this.closeWindows();
      await this.save();
      if (page.items.length < PAGE || this.stopped) return;
    }
  }

  private closeWindows(): void {
    const now = this.opts.now();
    for (const [name, folder] of this.folders) {
      for (const m of folder.due(now)) this.deliveries.enqueue(name, m);
    }
  }

  private subscribers(kind: AlertKind): string[] {
    return [...this.wants].filter(([, set]) => set === null || set.has(kind)).map(([n]) => n);
  }

  /** Renewed well before it expires; another holder (the daemon, when this is a one-shot pass) does the sending. */
  private async holdLease(): Promise<boolean> {
    const now = this.opts.now();
    const ttl = this.opts.leaseTtlMs;
    if (now < this.leaseUntil - (2 * ttl) / 3) return true;
    const held = await this.acquire(ttl);
    this.lease = held;
    if (held !== null) this.leaseUntil = now + ttl;
    else if (this.leaseUntil > 0) {
      // Taken over: the new holder reloads from the store; this one reloads if it gets it back.
      this.opts.logger.warn('another process took over sending alerts');
      this.leaseUntil = 0;
      this.cursor = null;
    }
    return held !== null;
  }

  /** Free, or held by a process of this host that is gone (a SIGKILLed daemon): no need to wait for it to expire. */
  private async acquire(ttl: number): Promise<Lease | null> {
    const { store, owner } = this.opts;
    const got = await store.acquireLease(LEASE, owner, ttl);
    if (got !== null) return got;
    const holder = (await store.getLease(LEASE))?.owner;
    if (holder === undefined || !deadOnThisHost(holder, owner)) return null;
    return store.acquireLease(LEASE, owner, ttl, { takeFrom: holder });
  }

  private async load(): Promise<void> {
    const { cursor, pending, fresh } = await loadState(this.opts.store);
    this.deliveries.restore(pending.deliveries);
    for (const [name, windows] of Object.entries(pending.folds)) {
      this.folders.get(name)?.restore(windows);
    }
    this.cursor = cursor;
    if (fresh) this.opts.logger.info({ cursor }, 'alerts start from the end of the event log');
  }

  private async save(): Promise<void> {
    if (this.cursor === null || this.lease === null) return;
    const folds = Object.fromEntries([...this.folders].map(([n, f]) => [n, f.state()]));
    this.saved = await saveState(
      this.opts.store,
      this.cursor,
      { deliveries: this.deliveries.pending(), folds },
      this.saved,
      { lease: LEASE, epoch: this.lease.epoch },
    );
  }
}
