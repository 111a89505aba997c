import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Runtime } from '../runtime.ts';
import { AUTOCTRL_VERSION } from '../version.ts';
import type { AppHooks, ServerContext } from './context.ts';
import { DiskMonitor } from './disk.ts';
import { errorHandler, tooLarge } from './errors.ts';
import { EventHub } from './hub.ts';
import { openApiDocument } from './openapi.ts';
import { Api } from './route.ts';
import { campaignRoutes } from './routes/campaigns.ts';
import { chatRoutes } from './routes/chat.ts';
import { eventRoutes } from './routes/events.ts';
import { instanceRoutes } from './routes/instances.ts';
import { jobRoutes } from './routes/jobs.ts';
import { metaRoutes } from './routes/meta.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { overviewRoutes } from './routes/overview.ts';
import { probeRoutes } from './routes/probes.ts';
import { sampleRoutes } from './routes/samples.ts';
import { statsRoutes } from './routes/stats.ts';
import { mountStatic, webDir } from './static.ts';

export type { AppHooks, ControllerHealth } from './context.ts';

export interface ServerApp {
  app: Hono;
  hub: EventHub;
  /** Ends live streams and stops the event loop: nothing of the app keeps the process alive. */
  close(): void;
}

export interface AppOptions {
  /** Where the page's files are (default the package's `web/`). */
  webDir?: string;
  /** How often live streams read the event log (default 25 ms). */
  pollMs?: number;
}

/** The HTTP face of a runtime: the REST API (docs/api.md), its OpenAPI description, the live streams and the page. */
export function createServerApp(rt: Runtime, hooks: AppHooks, opts: AppOptions = {}): ServerApp {
  const app = new Hono();
  const logger = rt.engine.ctx.logger;
  const hub = new EventHub(
    rt.store,
    logger,
    opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {},
  );
  const ctx: ServerContext = {
    rt,
    hooks,
    hub,
    disk: new DiskMonitor(rt.deployment.server.disk ?? []),
  };
  const api = new Api(app, rt.deployment.auth, rt.engine.ctx.tokenSecret);
  app.onError(errorHandler(logger));
  // Before any route, so that a huge body is refused unread whoever sends it, with or without a token.
  const maxSize = rt.deployment.limits.maxRequestBytes;
  app.use('/api/*', bodyLimit({ maxSize, onError: tooLarge(maxSize) }));
  // Built on first request, when every route is registered; it never changes after.
  let doc: ReturnType<typeof openApiDocument> | null = null;
  overviewRoutes(api, ctx);
  instanceRoutes(api, ctx);
  jobRoutes(api, ctx);
  statsRoutes(api, ctx);
  sampleRoutes(api, ctx);
  eventRoutes(api, ctx);
  metaRoutes(api, ctx);
  chatRoutes(api, ctx);
  probeRoutes(api, ctx);
  campaignRoutes(api, ctx);
  const closeMetrics = metricsRoutes(api, ctx);
  api.route(
    {
      method: 'get',
      path: '/api/openapi.json',
      summary: 'This description (OpenAPI 3.1)',
      access: 'open',
    },
    (c) => {
      doc ??= openApiDocument(api, AUTOCTRL_VERSION);
      return c.json(doc);
    },
  );
  app.all('/api/*', (c) =>
    c.json(
      {
        error: 'not_found',
        message: `no route ${c.req.method} ${c.req.path}: GET /api/openapi.json lists them`,
      },
      404,
    ),
  );
  mountStatic(app, opts.webDir ?? webDir);
  return {
    app,
    hub,
    close: () => {
      closeMetrics();
      hub.close();
    },
  };
}

/** The app alone, for in-process requests (`app.request`); live streams stop when their clients go. */
export function createApp(rt: Runtime, hooks: AppHooks, opts: AppOptions = {}): Hono {
  return createServerApp(rt, hooks, opts).app;
}
