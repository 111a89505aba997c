import { setImmediate as yieldToOthers } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import type { StateStore } from '../store/contract.ts';
import { type LongTimer, setLongInterval } from '../timers.ts';

export interface SamplePrunerOptions {
  store: Pick<StateStore, 'pruneSamples' | 'clock'>;
  logger: Logger;
  /** Samples older than this go (`retention.samples`). */
  retentionMs: number;
  /** Whether this process leads now: only the leader deletes, so controllers do not contend. */
  leading: () => boolean;
  everyMs?: number;
  /** Samples per delete transaction: short enough that a pass's writes barely wait for it. */
  batch?: number;
  /** Time one round may take; a backlog (the first round after enabling retention) is worked off over several rounds. */
  roundBudgetMs?: number;
}

/**
 * Deletes job-field samples older than the retention, at an interval, in
 * small batches with the event loop (and the store's write lock) given back
 * between them, so a pass never waits behind a large delete.
 */
export class SamplePruner {
  private timer: LongTimer | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(private readonly opts: SamplePrunerOptions) {}

  start(): void {
    this.timer = setLongInterval(() => void this.round(), this.opts.everyMs ?? 600_000, {
      ref: false,
    });
  }

  /** One round; returns how many samples went. Never throws: a failure is logged and retried next round. */
  round(): Promise<number> {
    this.running ??= this.prune().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async prune(): Promise<number> {
    const { store, logger, retentionMs, leading } = this.opts;
    const batch = this.opts.batch ?? 5_000;
    const budget = this.opts.roundBudgetMs ?? 5_000;
    if (!leading()) return 0;
    let deleted = 0;
    try {
      const before = (await store.clock()) - retentionMs;
      const started = Date.now();
      for (;;) {
        const n = await store.pruneSamples(before, batch);
        deleted += n;
        if (n < batch || Date.now() - started >= budget || !leading() || this.stopped) break;
        await yieldToOthers();
      }
    } catch (err) {
      logger.warn({ err, deleted }, 'pruning old job-field samples failed; trying again later');
    }
    if (deleted > 0)
      logger.info({ deleted, retentionMs }, 'deleted job-field samples older than the retention');
    return deleted;
  }

  /** Stops the timer and waits for a round in progress (which ends after its current batch). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    this.timer = null;
    await this.running;
  }
}
