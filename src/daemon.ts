import type { Deployment } from './config/types.ts';
import { Controller } from './engine/controller.ts';
import { sourcePolled } from './export/metrics-hooks.ts';
import { openExportService } from './export/open.ts';
import type { Logger } from './logger.ts';
import { openNotify } from './notify/open.ts';
import { SamplePruner } from './retention/samples.ts';
import { openRuntime, type Runtime } from './runtime.ts';
import { startServer } from './server/serve.ts';
import type { Source } from './sources/contract.ts';
import { openSources } from './sources/open.ts';
import { HeartbeatWriter, heartbeatGapMs } from './watchdog/heartbeat.ts';
import { Watchdog } from './watchdog/watchdog.ts';

export interface Daemon {
  runtime: Runtime;
  controller: Controller;
  /** Where the API and page are served. */
  url: string;
  stop(): Promise<void>;
}

/**
 * `autoctrl serve`: the engine on a timer and on triggers, the sources, and
 * the HTTP server (job reports, API, page). `listen` overrides the
 * deployment's server section (port 0 picks a free port).
 */
export async function startDaemon(
  deployment: Deployment,
  opts: { logger: Logger; listen?: { host: string; port: number } },
): Promise<Daemon> {
  const runtime = await openRuntime(deployment, { logger: opts.logger });
  const sources = timedSources(await openSources(deployment, opts.logger));
  const controller = new Controller(runtime, sources);
  const startedAt = Date.now();
  const server = await startServer(
    runtime,
    {
      trigger: (opts) => controller.trigger(opts),
      health: () => {
        const last = controller.lastPass;
        const at = last === null ? null : new Date(last.startedAt).toISOString();
        return {
          controller: runtime.engine.ctx.controllerId,
          upSince: new Date(startedAt).toISOString(),
          heartbeatAt: at,
          lastPass:
            last === null || at === null
              ? null
              : {
                  at,
                  durationMs: last.durationMs,
                  skipped: last.skipped,
                  full: last.full,
                  light: last.light,
                },
          intervalMs: deployment.engine.intervalMs,
          leading: runtime.engine.leading !== null,
          leaseTtlMs: runtime.engine.ctx.leaseTtlMs,
        };
      },
    },
    opts.listen ?? deployment.server,
  ).catch(async (err: unknown) => {
    // A port in use: nothing of this start may stay open.
    for (const source of sources.values()) await source.close?.();
    await runtime.close();
    throw err;
  });
  const port = (opts.listen ?? deployment.server).port;
  // Jobs must reach the server even when the port was picked at random (0) or overridden.
  const listenedOnDefault = port !== 0 && port === deployment.server.port;
  runtime.engine.ctx.serverUrl = listenedOnDefault ? deployment.server.publicUrl : server.url;
  const notify = await openNotify(deployment, runtime.store, {
    logger: opts.logger,
    owner: runtime.engine.ctx.controllerId,
    publicUrl: runtime.engine.ctx.serverUrl,
  }).catch(async (err: unknown) => {
    await server.close();
    await runtime.close();
    throw err;
  });
  // Started before the engine, so that a first start's cursor comes before the first pass's events.
  await notify?.start();
  const exports = await openExportService(runtime, opts.logger).catch(async (err: unknown) => {
    await notify?.stop();
    await server.close();
    await runtime.close();
    throw err;
  });
  // Before the engine: the first pass's `lead` starts the mirrors on the leader.
  exports?.start();
  const { ctx } = runtime.engine;
  const heartbeat = new HeartbeatWriter(runtime.store, opts.logger, heartbeatGapMs(deployment));
  runtime.engine.on('pass', (r) => {
    notify?.poke();
    if (!r.skipped) heartbeat.beat(ctx.controllerId, ctx.fence, r.durationMs);
  });
  // Every controller watches: a standby notices a leader that stopped passing.
  const watchdog = new Watchdog({
    store: runtime.store,
    deployment,
    logger: opts.logger.child({ part: 'watchdog' }),
    owner: ctx.controllerId,
  });
  watchdog.start();
  const samplesMs = deployment.retention?.samplesMs ?? null;
  const pruner =
    samplesMs === null
      ? null
      : new SamplePruner({
          store: runtime.store,
          logger: opts.logger.child({ part: 'retention' }),
          retentionMs: samplesMs,
          leading: () => runtime.engine.leading !== null,
        });
  pruner?.start();
  controller.start();
  return {
    runtime,
    controller,
    url: server.url,
    async stop() {
      await controller.stop();
      await exports?.stop();
      await watchdog.stop();
      await pruner?.stop();
      await heartbeat.settle();
      await notify?.stop();
      await server.close();
      await runtime.close();
    },
  };
}

/** Each successful poll is noted for `/metrics` (`autoctrl_source_lag_seconds`). */
function timedSources(sources: Map<string, Source>): Map<string, Source> {
  const out = new Map<string, Source>();
  for (const [name, source] of sources) {
    out.set(name, {
      name: source.name,
      async poll(cursor, now) {
        const got = await source.poll(cursor, now);
        sourcePolled(name, Date.now());
        return got;
      },
      ...(source.close ? { close: () => source.close?.() ?? Promise.resolve() } : {}),
    });
  }
  return out;
}
