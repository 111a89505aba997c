import type { Runtime } from '../runtime.ts';
import type { Source } from '../sources/contract.ts';
import type { PassResult } from './engine.ts';
import { SourceHealth } from './source-health.ts';

/**
 * The daemon's clock: passes on a timer, at once on every trigger (a new
 * run, a job's exit or report), and when a delayed retry falls due; sources
 * polled each at its own interval. Errors in a pass or a poll are logged and
 * retried at the next tick, never fatal.
 */
export class Controller {
  private timers: NodeJS.Timeout[] = [];
  private wake: NodeJS.Timeout | null = null;
  private stopped = false;
  private passing: Promise<unknown> = Promise.resolve();
  private readonly health: SourceHealth;
  lastPass: PassResult | null = null;

  constructor(
    private readonly rt: Runtime,
    private readonly sources: ReadonlyMap<string, Source>,
  ) {
    this.health = new SourceHealth(rt.engine.ctx);
  }

  start(): void {
    const { engine, deployment, executors } = this.rt;
    for (const executor of executors.values()) executor.onExit?.(() => this.trigger());
    engine.on('pass', (r) => {
      this.lastPass = r;
      this.scheduleWake(r.wakeAt);
    });
    this.timers.push(setInterval(() => this.trigger(), deployment.engine.intervalMs));
    for (const [name, source] of this.sources) {
      const cfg = deployment.sources[name];
      const poll = () => void this.pollSource(name, source);
      this.timers.push(setInterval(poll, cfg?.intervalMs ?? 60_000));
      poll();
    }
    this.trigger();
  }

  /** Asks for a pass now; triggers during a pass coalesce into one more pass. */
  trigger(): void {
    if (this.stopped) return;
    this.passing = this.rt.engine.pass().catch((err: unknown) => {
      this.rt.engine.ctx.logger.error({ err }, 'pass failed; retrying at the next trigger');
    });
  }

  async pollSource(name: string, source: Source): Promise<number> {
    const { store, engine } = this.rt;
    const key = `source:${name}`;
    try {
      const { runs, cursor } = await source.poll(await store.getCursor(key), engine.ctx.now());
      const { added, changed } = await store.upsertRuns(runs, `source:${name}`);
      if (cursor !== null) await store.setCursor(key, cursor);
      await this.health.succeeded(name);
      if (added.length + changed.length > 0) this.trigger();
      return added.length + changed.length;
    } catch (err) {
      engine.ctx.logger.warn(
        { err, source: name },
        'source poll failed; retrying at its next interval',
      );
      // After a few failures in a row this becomes an alert (see SourceHealth).
      await this.health.failed(name, err);
      return 0;
    }
  }

  private scheduleWake(at: number | null): void {
    if (this.wake !== null) clearTimeout(this.wake);
    this.wake = null;
    if (at === null || this.stopped) return;
    this.wake = setTimeout(() => this.trigger(), Math.max(0, at - this.rt.engine.ctx.now()) + 5);
  }

  /** Stops the clock and waits for the pass in progress. Jobs keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.wake !== null) clearTimeout(this.wake);
    await this.passing;
    for (const s of this.sources.values()) await s.close?.();
  }
}
