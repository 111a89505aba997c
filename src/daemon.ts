import type { Deployment } from './config/types.ts';
import { Controller } from './engine/controller.ts';
import type { Logger } from './logger.ts';
import { openRuntime, type Runtime } from './runtime.ts';
import { startServer } from './server/serve.ts';
import { openSources } from './sources/open.ts';

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
  const sources = await openSources(deployment, opts.logger);
  const controller = new Controller(runtime, sources);
  const startedAt = Date.now();
  const server = await startServer(
    runtime,
    {
      trigger: () => controller.trigger(),
      health: () => ({
        controller: runtime.engine.ctx.controllerId,
        upSince: new Date(startedAt).toISOString(),
        lastPass: controller.lastPass
          ? {
              at: new Date(controller.lastPass.startedAt).toISOString(),
              durationMs: controller.lastPass.durationMs,
            }
          : null,
      }),
    },
    opts.listen ?? deployment.server,
  );
  const listenedOnDefault =
    opts.listen === undefined || opts.listen.port === deployment.server.port;
  // Jobs must reach the server even when the port was picked at random.
  runtime.engine.ctx.serverUrl = listenedOnDefault ? deployment.server.publicUrl : server.url;
  controller.start();
  return {
    runtime,
    controller,
    url: server.url,
    async stop() {
      await controller.stop();
      await server.close();
      await runtime.close();
    },
  };
}
