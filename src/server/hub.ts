import type { Logger } from '../logger.ts';
import type { EventRecord } from '../model/types.ts';
import type { FeedCursor, StateStore } from '../store/contract.ts';

/** An event with the change-feed position that resumes right after it. */
export interface FedEvent {
  event: EventRecord;
  cursor: FeedCursor;
}

export interface Subscriber {
  /** New events, in change-feed order, each delivered once. */
  deliver(fed: readonly FedEvent[]): void;
  /** A heartbeat (SSE comment) so proxies keep the connection. */
  beat?(): void;
  /** The hub is closing (the server stops). */
  close?(): void;
}

const PAGE = 500;

/**
 * One loop per server reading the store's change feed (events only, every
 * `pollMs`) and fanning out to every live stream: the cost of watching is the
 * same for one client as for a hundred, and other processes' writes (a job's
 * `autoctrl job report`, another controller) are seen too. The loop runs only
 * while someone listens, so an idle server holds no timer.
 */
export class EventHub {
  readonly #store: StateStore;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #heartbeatMs: number;
  readonly #subs = new Set<Subscriber>();
  #cursor: FeedCursor = '';
  #started: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #beat: NodeJS.Timeout | null = null;
  #closed = false;
  /** Bumped by every stop: a start that finishes after a stop (and a restart) stands down. */
  #generation = 0;

  constructor(
    store: StateStore,
    logger: Logger,
    opts: { pollMs?: number; heartbeatMs?: number } = {},
  ) {
    this.#store = store;
    this.#logger = logger;
    this.#pollMs = opts.pollMs ?? 25;
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get listeners(): number {
    return this.#subs.size;
  }

  /**
   * Adds a subscriber and resolves with the feed position it starts from:
   * everything after it reaches the subscriber live.
   */
  async subscribe(sub: Subscriber): Promise<FeedCursor> {
    if (this.#closed) throw new Error('the event hub is closed');
    this.#subs.add(sub);
    if (this.#started === null) {
      this.#started = this.#start();
    }
    await this.#started;
    return this.#cursor;
  }

  unsubscribe(sub: Subscriber): void {
    this.#subs.delete(sub);
    if (this.#subs.size === 0) this.#stop();
  }

  /** Ends every subscription and stops the loop; no timer is left. */
  close(): void {
    this.#closed = true;
    for (const s of this.#subs) s.close?.();
    this.#subs.clear();
    this.#stop();
  }

  async #start(): Promise<void> {
    const generation = this.#generation;
    const head = await this.#store.feedHead();
    if (generation !== this.#generation || this.#closed) return;
    this.#cursor = head;
    if (this.#subs.size === 0) {
      this.#started = null;
      return;
    }
    this.#schedule();
    this.#beat = setInterval(() => {
      for (const s of this.#subs) s.beat?.();
    }, this.#heartbeatMs);
  }

  #stop(): void {
    this.#generation++;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#beat !== null) clearInterval(this.#beat);
    this.#timer = null;
    this.#beat = null;
    this.#started = null;
  }

  #schedule(delay = this.#pollMs): void {
    if (this.#subs.size === 0 || this.#closed) return;
    this.#timer = setTimeout(() => void this.#poll(), delay);
  }

  async #poll(): Promise<void> {
    this.#timer = null;
    let full = false;
    try {
      const page = await this.#store.readFeed(this.#cursor, { limit: PAGE, kinds: ['event'] });
      this.#cursor = page.cursor;
      const fed = page.items.flatMap((i) =>
        i.kind === 'event' ? [{ event: i.event, cursor: i.cursor }] : [],
      );
      if (fed.length > 0) for (const s of this.#subs) s.deliver(fed);
      full = page.items.length === PAGE;
    } catch (err) {
      this.#logger.warn({ err }, 'reading the event log for live streams failed; retrying');
    }
    if (this.#timer === null && this.#beat !== null) this.#schedule(full ? 0 : this.#pollMs);
  }
}
