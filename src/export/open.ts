import type { PassResult } from '../engine/engine.ts';
import { ENGINE_LEASE } from '../engine/engine.ts';
import type { Logger } from '../logger.ts';
import { PROMPT } from '../model/campaign.ts';
import type { Runtime } from '../runtime.ts';
import type { Lease } from '../store/contract.ts';
import type { Exporter } from './contract.ts';
import { FeedMirror, type MirrorOptions } from './mirror.ts';
import { exporterKinds } from './registry.ts';

/** How often the active-job gauge is sampled at most (it costs a store query). */
const GAUGE_EVERY_MS = 10_000;

/** The deployment's exporters, their code imported only for the kinds configured. */
export async function openExporters(
  exports: Record<string, Record<string, unknown>>,
  logger: Logger,
): Promise<Exporter[]> {
  const out: Exporter[] = [];
  for (const [kind, options] of Object.entries(exports)) {
    const known = exporterKinds[kind as keyof typeof exporterKinds];
    if (known === undefined) continue;
    const factory = await known.load();
    out.push(await factory(options, { logger: logger.child({ export: kind }) }));
  }
  return out;
}

/**
 * Runs the deployment's mirrors on the controller that leads the engine, and
 * only there, so that several controllers on one store do not write every
 * point several times: a mirror starts when this controller takes the lead
 * (its cursor writes fenced by the lease) and stops when it loses it. Pass
 * figures and the active-job gauge come from this controller's engine.
 */
export class ExportService {
  readonly #rt: Runtime;
  readonly #exporters: Exporter[];
  readonly #logger: Logger;
  readonly #tuning: Partial<MirrorOptions> & { gaugeEveryMs?: number };
  #mirrors: FeedMirror[] = [];
  #gaugeAt = 0;
  #closed = false;
  readonly #onLead = (lease: Lease | null) => void this.#lead(lease);
  readonly #onPass = (p: PassResult) => void this.#pass(p);

  constructor(
    rt: Runtime,
    exporters: Exporter[],
    logger: Logger,
    tuning: Partial<MirrorOptions> & { gaugeEveryMs?: number } = {},
  ) {
    this.#rt = rt;
    this.#exporters = exporters;
    this.#logger = logger;
    this.#tuning = tuning;
  }

  get mirrors(): readonly FeedMirror[] {
    return this.#mirrors;
  }

  /** Follows the engine's lead; starts at once when this controller already leads. */
  start(): void {
    this.#rt.engine.on('lead', this.#onLead);
    this.#rt.engine.on('pass', this.#onPass);
    const lease = this.#rt.engine.leading;
    if (lease !== null) void this.#lead(lease);
  }

  async stop(): Promise<void> {
    this.#closed = true;
    this.#rt.engine.off('lead', this.#onLead);
    this.#rt.engine.off('pass', this.#onPass);
    await this.#stopMirrors();
    for (const e of this.#exporters) await e.close();
  }

  async #lead(lease: Lease | null): Promise<void> {
    await this.#stopMirrors();
    if (lease === null || this.#closed) return;
    const { store, deployment } = this.#rt;
    this.#mirrors = this.#exporters.map(
      (exporter) =>
        new FeedMirror({
          ...this.#tuning,
          store,
          deployment,
          exporter,
          logger: this.#logger.child({ export: exporter.name }),
          controllerId: this.#rt.engine.ctx.controllerId,
          fence: { lease: ENGINE_LEASE, epoch: lease.epoch },
        }),
    );
    for (const m of this.#mirrors) m.start();
  }

  async #stopMirrors(): Promise<void> {
    const running = this.#mirrors;
    this.#mirrors = [];
    await Promise.all(running.map((m) => m.stop()));
  }

  async #pass(p: PassResult): Promise<void> {
    if (p.skipped || this.#mirrors.length === 0) return;
    const pass = {
      controller: this.#rt.engine.ctx.controllerId,
      startedAt: p.startedAt,
      durationMs: p.durationMs,
      full: p.full,
      created: p.created,
      started: p.started,
      settled: p.settled.length,
      submitted: p.submitted,
    };
    for (const m of this.#mirrors) m.add({ kind: 'pass', pass });
    const now = Date.now();
    if (now - this.#gaugeAt < (this.#tuning.gaugeEveryMs ?? GAUGE_EVERY_MS)) return;
    this.#gaugeAt = now;
    try {
      const counts = new Map<
        string,
        {
          executor: string;
          campaign: string;
          status: 'idle' | 'running' | 'done' | 'failed';
          count: number;
        }
      >();
      for (const c of await this.#rt.store.activeJobCounts()) {
        const key = `${c.executor}\0${c.campaign}\0${c.status}`;
        const seen = counts.get(key);
        if (seen === undefined)
          counts.set(key, {
            executor: c.executor,
            campaign: c.campaign,
            status: c.status,
            count: c.count,
          });
        else seen.count += c.count;
      }
      // Executors with nothing active still get a zero, so a panel drops to 0 instead of stopping.
      for (const executor of Object.keys(this.#rt.deployment.executors)) {
        for (const status of ['idle', 'running'] as const) {
          const key = `${executor}\0${PROMPT}\0${status}`;
          if (!counts.has(key)) counts.set(key, { executor, campaign: PROMPT, status, count: 0 });
        }
      }
      const jobs = { at: now, counts: [...counts.values()] };
      for (const m of this.#mirrors) m.add({ kind: 'jobs', jobs });
    } catch (err) {
      this.#logger.warn({ err }, 'could not count active jobs for export');
    }
  }
}

/** The mirrors of the deployment behind a service, or null when it configures none. */
export async function openExportService(
  rt: Runtime,
  logger: Logger,
  tuning: Partial<MirrorOptions> & { gaugeEveryMs?: number } = {},
): Promise<ExportService | null> {
  const exporters = await openExporters(rt.deployment.exports, logger);
  return exporters.length === 0
    ? null
    : new ExportService(rt, exporters, logger.child({ part: 'export' }), tuning);
}
