import type { Deployment } from '../config/types.ts';
import { FencedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { FeedCursor, FeedItem, Fence, StateStore } from '../store/contract.ts';
import { healthEvent } from '../store/records.ts';
import type { Exporter, ExportItem } from './contract.ts';
import { registerFeedLag } from './metrics-hooks.ts';
import { cursorKey, loadStatus, type MirrorStatus, statusKey } from './status.ts';
import { SubjectLookup } from './subjects.ts';

/** Failed writes in a row after which an `export_failing` alert goes out: one blip is not worth a message. */
export const EXPORT_ALERT_AFTER = 5;
/** Engine figures kept while the destination is away; the oldest go beyond this. */
const MAX_FIGURES = 10_000;
const STATUS_EVERY_MS = 5_000;

export interface MirrorOptions {
  store: StateStore;
  deployment: Deployment;
  exporter: Exporter;
  logger: Logger;
  controllerId: string;
  /** The engine lease's fence: the cursor moves only while this controller leads. */
  fence?: Fence;
  /** Where to start when no cursor is stored (default: the feed's beginning, so history is copied). */
  from?: FeedCursor | null;
  /** Where the cursor is kept (default `export:<kind>:cursor`); null keeps none (a replay). */
  cursorKey?: string | null;
  /** Only items of this time or later (ms since the epoch; runs by their end): a replay `--since`. */
  since?: number;
  /** Feed items per batch (default 5,000). */
  batch?: number;
  /** How often the feed is read besides the store's wake-ups (default 250 ms). */
  pollMs?: number;
  /** Retry delay after a failure, doubling up to `maxMs` (default 500 ms to 30 s). */
  backoff?: { minMs: number; maxMs: number };
  alertAfter?: number;
  now?: () => number;
}

/**
 * Mirrors the store's change feed to one exporter, from a cursor of its own
 * that moves only after the destination acknowledged a batch: a destination
 * that is down or slow delays the mirror and loses nothing; it catches up by
 * itself, retrying with backoff. It runs beside the engine, which never
 * waits on it. Failures show in the status (health) and the log, and after
 * `alertAfter` in a row an `export_failing` event (an alert), then
 * `export_recovered`.
 */
interface Batch {
  items: ExportItem[];
  /** The engine figures among `items`. */
  figures: ExportItem[];
  cursor: FeedCursor;
  full: boolean;
  /** When the feed was read: a short page means everything committed before this is in it. */
  readAt: number;
}

export class FeedMirror {
  readonly #o: Required<Omit<MirrorOptions, 'fence' | 'from' | 'cursorKey' | 'since'>> &
    Pick<MirrorOptions, 'fence' | 'since'>;
  readonly #cursorKey: string | null;
  readonly #from: FeedCursor | null;
  readonly #lookup: SubjectLookup;
  #figures: ExportItem[] = [];
  #cursor: FeedCursor | null = null;
  #status: MirrorStatus;
  #statusSavedAt = 0;
  #abort = new AbortController();
  /** Ends the current wait: a poke ends only the poll's, a stop ends any. */
  #wake: { done: () => void; pokable: boolean } | null = null;
  #loop: Promise<void> | null = null;
  #unwatch: (() => void) | null = null;
  #stopped = false;
  /** When the mirror last had everything the feed held written (the feed lag of `/metrics` counts from it). */
  #caughtUpAt: number;
  #unregisterLag: (() => void) | null = null;

  constructor(options: MirrorOptions) {
    this.#o = {
      batch: 5_000,
      pollMs: 250,
      backoff: { minMs: 500, maxMs: 30_000 },
      alertAfter: EXPORT_ALERT_AFTER,
      now: Date.now,
      ...options,
    };
    this.#caughtUpAt = this.#o.now();
    this.#from = options.from ?? null;
    this.#cursorKey =
      options.cursorKey === undefined ? cursorKey(options.exporter.name) : options.cursorKey;
    this.#lookup = new SubjectLookup(options.store, options.deployment);
    this.#status = {
      target: options.exporter.target,
      state: 'ok',
      error: null,
      failures: 0,
      failingSince: null,
      lastWriteAt: null,
      catchingUp: false,
      controller: options.controllerId,
      updatedAt: this.#o.now(),
    };
  }

  get status(): MirrorStatus {
    return this.#status;
  }

  /** Seconds since the mirror last had everything the feed held written: about the poll interval while it keeps up. */
  get lagSeconds(): number {
    return Math.max(0, this.#o.now() - this.#caughtUpAt) / 1000;
  }

  get name(): string {
    return this.#o.exporter.name;
  }

  /** Starts following the feed in the background. */
  start(): void {
    if (this.#loop !== null) return;
    this.#unwatch = this.#o.store.watch(() => this.poke());
    this.#unregisterLag = registerFeedLag(this.name, () => this.lagSeconds);
    this.#loop = this.#run().catch((err: unknown) => {
      this.#o.logger.error({ err }, 'the export mirror stopped');
    });
  }

  /** Reads the feed soon. */
  poke(): void {
    if (this.#wake?.pokable) this.#wake.done();
  }

  /** Adds an engine figure (a pass, a gauge) to the next batch. */
  add(item: ExportItem): void {
    if (this.#figures.length >= MAX_FIGURES) this.#figures.shift();
    this.#figures.push(item);
    this.poke();
  }

  /** Stops: a write in flight is cut (it is sent again by the next leader), the cursor stays where acknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#unwatch?.();
    this.#unregisterLag?.();
    this.#wake?.done();
    await this.#loop;
  }

  /**
   * Copies everything up to the feed's head now, then returns (the one-shot
   * replay of `autoctrl export`). Throws the failure once `attempts` writes
   * in a row failed.
   */
  async drain(attempts = 5): Promise<number> {
    let written = 0;
    let failed = 0;
    await this.#load();
    for (;;) {
      const batch = await this.#read(this.#cursor);
      try {
        if (batch.items.length > 0) await this.#o.exporter.write(batch.items, this.#abort.signal);
      } catch (err) {
        if (++failed >= attempts) throw err;
        await this.#sleep(this.#delay(failed));
        continue;
      }
      failed = 0;
      written += batch.items.length;
      await this.#saveCursor(batch.cursor);
      if (!batch.full) return written;
    }
  }

  async #run(): Promise<void> {
    await this.#load();
    let batch: Batch | null = null;
    while (!this.#stopped) {
      try {
        batch ??= await this.#read(this.#cursor);
      } catch (err) {
        this.#o.logger.warn({ err }, 'reading the change feed for export failed; retrying');
        await this.#sleep(this.#o.backoff.minMs);
        continue;
      }
      let next: Promise<Batch | null> | null = null;
      if (batch.items.length > 0) {
        const writing = this.#o.exporter.write(batch.items, this.#abort.signal);
        // Catching up, the next page is read and encoded while this one is in flight.
        if (batch.full) next = this.#prefetch(batch.cursor);
        try {
          await writing;
        } catch (err) {
          this.#unread(await next);
          if (this.#stopped) return;
          await this.#failed(err);
          await this.#sleep(this.#delay(this.#status.failures));
          continue;
        }
        await this.#succeeded(batch.full);
      }
      try {
        await this.#saveCursor(batch.cursor);
      } catch (err) {
        this.#unread(await next);
        if (err instanceof FencedError) {
          this.#o.logger.warn('export stops: this controller no longer leads');
          this.#stopped = true;
          return;
        }
        this.#o.logger.warn({ err }, 'could not keep the export cursor; retrying');
        await this.#sleep(this.#o.backoff.minMs);
        continue;
      }
      const full = batch.full;
      if (!full) this.#caughtUpAt = batch.readAt;
      batch = next === null ? null : await next;
      if (!full) await this.#sleep(this.#o.pollMs, true);
    }
  }

  /** The page after `cursor`, read after the write in flight got its turn to send; null on failure (read again later). */
  async #prefetch(cursor: FeedCursor): Promise<Batch | null> {
    await new Promise((r) => setImmediate(r));
    return this.#read(cursor).catch(() => null);
  }

  /** A page read ahead but not written: its engine figures go back to the queue. */
  #unread(batch: Batch | null): void {
    if (batch !== null) this.#figures.unshift(...batch.figures);
  }

  async #load(): Promise<void> {
    const stored = this.#cursorKey === null ? null : await this.#o.store.getCursor(this.#cursorKey);
    this.#cursor = stored ?? this.#from;
    const status = await loadStatus(this.#o.store, this.name);
    // A failure counted before a restart still gets its recovery alert.
    if (status !== null && status.state === 'failing') {
      this.#status = {
        ...this.#status,
        ...status,
        controller: this.#o.controllerId,
        target: this.#o.exporter.target,
      };
    }
  }

  async #read(after: FeedCursor | null): Promise<Batch> {
    const readAt = this.#o.now();
    const page = await this.#o.store.readFeed(after, { limit: this.#o.batch });
    const since = this.#o.since;
    const wanted = since === undefined ? page.items : page.items.filter((i) => timeOf(i) >= since);
    const items = await this.#lookup.items(wanted);
    const figures = this.#figures;
    this.#figures = [];
    for (const f of figures) items.push(f);
    return {
      items,
      figures,
      cursor: page.cursor,
      full: page.items.length === this.#o.batch,
      readAt,
    };
  }

  async #saveCursor(cursor: FeedCursor): Promise<void> {
    if (cursor === this.#cursor) return;
    if (this.#cursorKey !== null)
      await this.#o.store.setCursor(this.#cursorKey, cursor, this.#o.fence);
    this.#cursor = cursor;
  }

  async #failed(err: unknown): Promise<void> {
    const now = this.#o.now();
    const message = err instanceof Error ? err.message : String(err);
    const failures = this.#status.failures + 1;
    this.#status = {
      ...this.#status,
      state: 'failing',
      error: message,
      failures,
      failingSince: this.#status.failingSince ?? now,
    };
    // The first failure and every tenth: a long outage must not fill the log.
    if (failures === 1 || failures % 10 === 0) {
      this.#o.logger.error(
        { err, failures, target: this.#status.target },
        'export write failed; retrying with backoff',
      );
    }
    if (failures === this.#o.alertAfter) {
      await this.#record(
        'export_failing',
        `${failures} writes in a row failed, the last with: ${message}`,
      );
    }
    await this.#saveStatus(true);
  }

  async #succeeded(catchingUp: boolean): Promise<void> {
    const was = this.#status;
    this.#status = {
      ...was,
      state: 'ok',
      error: null,
      failures: 0,
      failingSince: null,
      lastWriteAt: this.#o.now(),
      catchingUp,
    };
    if (was.failures > 0) {
      this.#o.logger.info({ failures: was.failures }, 'export writes succeed again');
      if (was.failures >= this.#o.alertAfter) {
        const down =
          was.failingSince === null
            ? ''
            : ` (down ${Math.round((this.#o.now() - was.failingSince) / 1000)} s)`;
        await this.#record(
          'export_recovered',
          `writes succeed again after ${was.failures} failures${down}`,
        );
      }
    }
    await this.#saveStatus(was.failures > 0 || was.catchingUp !== catchingUp);
  }

  async #saveStatus(force: boolean): Promise<void> {
    const now = this.#o.now();
    if (!force && now - this.#statusSavedAt < STATUS_EVERY_MS) return;
    this.#status = { ...this.#status, updatedAt: now };
    try {
      await this.#o.store.setCursor(statusKey(this.name), JSON.stringify(this.#status));
      this.#statusSavedAt = now;
    } catch (err) {
      this.#o.logger.warn({ err }, 'could not record the export status');
    }
  }

  async #record(alert: 'export_failing' | 'export_recovered', reason: string): Promise<void> {
    try {
      await this.#o.store.appendEvent(
        healthEvent(
          'export',
          this.name,
          reason,
          `controller:${this.#o.controllerId}`,
          this.#o.now(),
          {
            alert,
            failures: this.#status.failures,
            target: this.#status.target,
          },
        ),
      );
    } catch (err) {
      this.#o.logger.warn({ err, alert }, 'could not record the export alert');
    }
  }

  #delay(failures: number): number {
    const { minMs, maxMs } = this.#o.backoff;
    return Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1));
  }

  /** Waits `ms`, or less when stopped (or poked, when `pokable`: a backoff is not cut by new writes). */
  #sleep(ms: number, pokable = false): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = { done, pokable };
    });
  }
}

function timeOf(item: FeedItem): number {
  if (item.kind === 'event') return item.event.at;
  if (item.kind === 'sample') return item.sample.at;
  return item.run.end ?? item.run.start ?? Number.POSITIVE_INFINITY;
}
