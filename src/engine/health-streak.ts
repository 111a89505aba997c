import type { EventRecord } from '../model/types.ts';
import { healthEvent } from '../store/records.ts';
import type { EngineContext } from './context.ts';

/** Failures in a row after which an alert goes out: one blip is not worth a message. */
export const ALERT_AFTER = 3;

/** What is watched: sources (their polls) or executors (their batch system). */
export interface StreakKind {
  entity: Extract<EventRecord['entity'], 'source' | 'executor'>;
  failing: 'source_failing' | 'executor_unavailable';
  recovered: 'source_recovered' | 'executor_recovered';
  /** What one try is called in reasons: `polls`, `calls`. */
  tries: string;
}

export const SOURCE_STREAK: StreakKind = {
  entity: 'source',
  failing: 'source_failing',
  recovered: 'source_recovered',
  tries: 'polls',
};

export const EXECUTOR_STREAK: StreakKind = {
  entity: 'executor',
  failing: 'executor_unavailable',
  recovered: 'executor_recovered',
  tries: 'calls',
};

/**
 * Counts failures in a row of each source (or executor) and records a
 * failing event once the count reaches the threshold (once, until a try
 * succeeds), then a recovered one. The count is kept in the store so that a
 * site driving autoctrl by cron (`autoctrl pass`, one try per process) is
 * told too. Never throws: health bookkeeping must not fail a pass.
 */
export class HealthStreak {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly ctx: Pick<EngineContext, 'store' | 'now' | 'controllerId' | 'logger'>,
    private readonly kind: StreakKind = SOURCE_STREAK,
    private readonly threshold = ALERT_AFTER,
  ) {}

  /** Failures in a row so far (as this process knows them). */
  current(name: string): number {
    return this.failures.get(name) ?? 0;
  }

  async failed(name: string, err: unknown): Promise<void> {
    try {
      const n = (await this.count(name)) + 1;
      await this.setCount(name, n);
      if (n !== this.threshold) return;
      const message = err instanceof Error ? err.message : String(err);
      await this.record(
        name,
        `${n} ${this.kind.tries} in a row failed, the last with: ${message}`,
        {
          alert: this.kind.failing,
          failures: n,
        },
      );
    } catch (e) {
      this.ctx.logger.warn({ err: e, [this.kind.entity]: name }, 'could not record the failure');
    }
  }

  async succeeded(name: string): Promise<void> {
    try {
      const n = await this.count(name);
      if (n === 0) return;
      await this.setCount(name, 0);
      if (n < this.threshold) return;
      await this.record(name, `${this.kind.tries} succeed again after ${n} failures`, {
        alert: this.kind.recovered,
        failures: n,
      });
    } catch (e) {
      this.ctx.logger.warn({ err: e, [this.kind.entity]: name }, 'could not record the recovery');
    }
  }

  private async count(name: string): Promise<number> {
    const known = this.failures.get(name);
    if (known !== undefined) return known;
    const n = Number((await this.ctx.store.getCursor(this.key(name))) ?? 0);
    const count = Number.isSafeInteger(n) && n > 0 ? n : 0;
    this.failures.set(name, count);
    return count;
  }

  private async setCount(name: string, n: number): Promise<void> {
    await this.ctx.store.setCursor(this.key(name), String(n));
    this.failures.set(name, n);
  }

  private key(name: string): string {
    return `${this.kind.entity}-health:${name}`;
  }

  private async record(name: string, reason: string, data: Record<string, unknown>) {
    await this.ctx.store.appendEvent(
      healthEvent(
        this.kind.entity,
        name,
        reason,
        `controller:${this.ctx.controllerId}`,
        this.ctx.now(),
        data,
      ),
    );
  }
}
