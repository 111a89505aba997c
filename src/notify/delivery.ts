import type { Logger } from '../logger.ts';
import { type AlertMessage, DeliveryError, type Notifier } from './contract.ts';

/** A message on its way: plain data, so that it can be kept in the store across a restart. */
export interface Delivery {
  notifier: string;
  message: AlertMessage;
  /** Attempts made so far. */
  attempts: number;
  /** Not to be tried before this time (backoff). */
  dueAt: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay after the first failure; doubles after each further one. */
  firstDelayMs: number;
}

/** 6 attempts over about 10 minutes (20 s, 40 s, … 320 s apart): a webhook restart or a short outage passes. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, firstDelayMs: 20_000 };

/** Past this many messages waiting for one notifier, the oldest are dropped: memory stays bounded while a webhook is down. */
const MAX_QUEUE = 1_000;

/**
 * The background sender: one queue per notifier, in order, one request at a
 * time each. Nothing here is awaited by the engine or by the dispatcher's
 * reading of the log; a webhook that hangs or is down only delays its own
 * queue. A retryable failure is tried again with exponential backoff up to
 * the policy's attempts; anything else is dropped at once and logged.
 */
export class Deliveries {
  private readonly queues = new Map<string, Delivery[]>();
  private readonly busy = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  private abort = new AbortController();
  private stopping = false;

  constructor(
    private readonly notifiers: ReadonlyMap<string, Notifier>,
    private readonly opts: { retry: RetryPolicy; logger: Logger; now: () => number },
  ) {}

  enqueue(notifier: string, message: AlertMessage): void {
    this.add({ notifier, message, attempts: 0, dueAt: this.opts.now() });
  }

  /** Takes back deliveries kept by a previous run; those of notifiers no longer configured are dropped. */
  restore(list: readonly Delivery[]): void {
    for (const d of list) {
      if (this.notifiers.has(d.notifier)) this.add({ ...d });
    }
  }

  /** What is still to be sent, in order. */
  pending(): Delivery[] {
    return [...this.queues.values()].flat();
  }

  /** Waits until every queue is empty or `waitMs` passed. */
  async settle(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (this.pending().length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, deadline - Date.now()))));
    }
  }

  /** Cancels requests in flight and timers; what was not delivered stays in `pending()`. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
    this.abort = new AbortController();
  }

  private add(d: Delivery): void {
    const queue = this.queues.get(d.notifier) ?? [];
    this.queues.set(d.notifier, queue);
    queue.push(d);
    if (queue.length > MAX_QUEUE) {
      const dropped = queue.splice(this.busy.has(d.notifier) ? 1 : 0, 1)[0];
      this.opts.logger.error(
        { notifier: d.notifier, event: dropped?.message.alert.eventId },
        'too many alerts waiting for this notifier; dropped the oldest',
      );
    }
    this.pump(d.notifier);
  }

  private pump(name: string): void {
    if (this.stopping || this.busy.has(name)) return;
    const head = this.queues.get(name)?.[0];
    if (head === undefined) return;
    const wait = head.dueAt - this.opts.now();
    if (wait > 0) {
      if (!this.timers.has(name)) {
        const timer = setTimeout(() => {
          this.timers.delete(name);
          this.pump(name);
        }, wait);
        this.timers.set(name, timer);
      }
      return;
    }
    this.busy.add(name);
    const p = this.attempt(name, head).finally(() => {
      this.busy.delete(name);
      this.inflight.delete(p);
      this.pump(name);
    });
    this.inflight.add(p);
  }

  private async attempt(name: string, d: Delivery): Promise<void> {
    const notifier = this.notifiers.get(name);
    const log = { notifier: name, alert: d.message.alert.kind, event: d.message.alert.eventId };
    try {
      if (notifier === undefined) throw new DeliveryError(name, false, 'no such notifier');
      await notifier.send(d.message, this.abort.signal);
      this.remove(name, d);
      this.opts.logger.debug({ ...log, attempts: d.attempts + 1 }, 'alert delivered');
    } catch (err) {
      // A stop interrupted it: it stays pending, to be kept in the store and sent after the restart.
      if (this.stopping) return;
      d.attempts++;
      const retryable = err instanceof DeliveryError && err.retryable;
      if (retryable && d.attempts < this.opts.retry.attempts) {
        const delay = this.opts.retry.firstDelayMs * 2 ** (d.attempts - 1);
        d.dueAt = this.opts.now() + delay;
        this.opts.logger.warn(
          { ...log, err, attempts: d.attempts, retryInMs: delay },
          'alert not delivered; will retry',
        );
      } else {
        this.remove(name, d);
        this.opts.logger.error(
          { ...log, err, attempts: d.attempts },
          retryable ? 'alert not delivered; out of attempts, dropped' : 'alert refused; dropped',
        );
      }
    }
  }

  private remove(name: string, d: Delivery): void {
    const queue = this.queues.get(name);
    const i = queue?.indexOf(d) ?? -1;
    if (queue !== undefined && i >= 0) queue.splice(i, 1);
  }
}
