import type { Deployment } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import type { Fence, StateStore } from '../store/contract.ts';

/** The store cursor the leader writes after its passes: a sign of work, not of a held lease. */
export const HEARTBEAT_KEY = 'engine:heartbeat';

/** What the leader leaves in the store after a pass that did its work. */
export interface Heartbeat {
  controller: string;
  epoch: number;
  /** When the pass finished, by the store's clock: every host judges it by that clock. */
  at: number;
  durationMs: number;
}

/** Whether the leader is doing its passes, judged by the store's clock. */
export interface StallState {
  heartbeat: Heartbeat | null;
  /** The store's clock now. */
  now: number;
  /** Time since the last finished pass; null when none was ever recorded. */
  ageMs: number | null;
  stalledAfterMs: number;
  /** No pass finished for `stalledAfterMs`; false while nothing was ever recorded. */
  stalled: boolean;
}

/**
 * Writes the heartbeat after each pass that did its work, at most once per
 * `minGapMs` (a busy leader passes many times a second; the watchdog needs a
 * figure well within its threshold, not every pass). Fenced by the engine
 * lease: a deposed leader cannot write that all is well. Never throws.
 */
export class HeartbeatWriter {
  private lastAt = 0;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
    private readonly minGapMs: number,
  ) {}

  /** After a pass that was not skipped; `fence` is the engine lease it ran under. */
  beat(controller: string, fence: Fence | undefined, durationMs: number): void {
    if (fence === undefined || this.writing !== null) return;
    const local = Date.now();
    if (local - this.lastAt < this.minGapMs) return;
    this.lastAt = local;
    this.writing = (async () => {
      const at = await this.store.clock();
      const beat: Heartbeat = { controller, epoch: fence.epoch, at, durationMs };
      await this.store.setCursor(HEARTBEAT_KEY, JSON.stringify(beat), fence);
    })()
      .catch((err: unknown) => {
        this.lastAt = 0;
        this.logger.warn(
          { err },
          'could not write the engine heartbeat; retrying after the next pass',
        );
      })
      .finally(() => {
        this.writing = null;
      });
  }

  /** Waits for a write in progress (a clean stop). */
  async settle(): Promise<void> {
    await this.writing;
  }
}

/** The gap between heartbeat writes: a small part of the stall threshold, from 250 ms to 10 s. */
export function heartbeatGapMs(deployment: Deployment): number {
  return Math.min(10_000, Math.max(250, Math.floor(deployment.watchdog.stalledAfterMs / 6)));
}

export async function readHeartbeat(store: StateStore): Promise<Heartbeat | null> {
  const text = await store.getCursor(HEARTBEAT_KEY);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<Heartbeat>;
    if (typeof v.at !== 'number' || typeof v.controller !== 'string') return null;
    return {
      controller: v.controller,
      epoch: v.epoch ?? 0,
      at: v.at,
      durationMs: v.durationMs ?? 0,
    };
  } catch {
    return null;
  }
}

export async function stallState(store: StateStore, deployment: Deployment): Promise<StallState> {
  const [heartbeat, now] = await Promise.all([readHeartbeat(store), store.clock()]);
  const stalledAfterMs = deployment.watchdog.stalledAfterMs;
  const ageMs = heartbeat === null ? null : Math.max(0, now - heartbeat.at);
  return {
    heartbeat,
    now,
    ageMs,
    stalledAfterMs,
    stalled: ageMs !== null && ageMs > stalledAfterMs,
  };
}
