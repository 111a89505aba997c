import type { EngineContext } from './context.ts';

/** Failed polls in a row after which a source raises an alert: one blip is not worth a message. */
export const SOURCE_ALERT_AFTER = 3;

/**
 * Counts each source's failed polls in a row and records a `source_failing`
 * event once the count reaches the threshold (once, until a poll succeeds),
 * then a `source_recovered` one. The count is kept in the store so that a
 * site driving autoctrl by cron (`autoctrl pass`, one poll per process) is
 * told too. Never throws: health bookkeeping must not fail a poll.
 */
export class SourceHealth {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly ctx: Pick<EngineContext, 'store' | 'now' | 'controllerId' | 'logger'>,
    private readonly threshold = SOURCE_ALERT_AFTER,
  ) {}

  async failed(name: string, err: unknown): Promise<void> {
    try {
      const n = (await this.count(name)) + 1;
      await this.setCount(name, n);
      if (n !== this.threshold) return;
      const message = err instanceof Error ? err.message : String(err);
      await this.record(name, `${n} polls in a row failed, the last with: ${message}`, {
        alert: 'source_failing',
        failures: n,
      });
    } catch (e) {
      this.ctx.logger.warn({ err: e, source: name }, 'could not record the source failure');
    }
  }

  async succeeded(name: string): Promise<void> {
    try {
      const n = await this.count(name);
      if (n === 0) return;
      await this.setCount(name, 0);
      if (n < this.threshold) return;
      await this.record(name, `polls succeed again after ${n} failures`, {
        alert: 'source_recovered',
        failures: n,
      });
    } catch (e) {
      this.ctx.logger.warn({ err: e, source: name }, 'could not record the source recovery');
    }
  }

  private async count(name: string): Promise<number> {
    const known = this.failures.get(name);
    if (known !== undefined) return known;
    const n = Number((await this.ctx.store.getCursor(key(name))) ?? 0);
    const count = Number.isSafeInteger(n) && n > 0 ? n : 0;
    this.failures.set(name, count);
    return count;
  }

  private async setCount(name: string, n: number): Promise<void> {
    await this.ctx.store.setCursor(key(name), String(n));
    this.failures.set(name, n);
  }

  private async record(name: string, reason: string, data: Record<string, unknown>) {
    await this.ctx.store.appendEvent({
      at: this.ctx.now(),
      entity: 'source',
      entityId: name,
      campaign: null,
      task: null,
      instanceId: null,
      from: null,
      to: null,
      reason,
      by: `controller:${this.ctx.controllerId}`,
      configHash: null,
      data,
    });
  }
}

function key(name: string): string {
  return `source-health:${name}`;
}
