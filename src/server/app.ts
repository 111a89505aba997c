import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { overview } from '../engine/overview.ts';
import { applyJobReport, parseJobReport } from '../engine/report.ts';
import { verifyJobToken } from '../engine/tokens.ts';
import { AutoctrlError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { dashboardHtml } from './dashboard.ts';

const STATUS_OF_CODE: Record<string, ContentfulStatusCode> = {
  invalid_input: 400,
  unauthorized: 401,
  not_found: 404,
  stale_state: 409,
  illegal_transition: 409,
};

class UnauthorizedError extends AutoctrlError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}

export interface AppHooks {
  /** Called after anything that may unblock work (a job report), to run a pass at once. */
  trigger(): void;
  /** Health figures for the page. */
  health(): Record<string, unknown>;
}

/** The HTTP face of a runtime: the job reporting endpoint, the grid and the page. */
export function createApp(rt: Runtime, hooks: AppHooks): Hono {
  const app = new Hono();
  const { engine, store, deployment } = rt;

  app.onError((err, c) => {
    if (err instanceof AutoctrlError) {
      return c.json({ error: err.code, message: err.message }, STATUS_OF_CODE[err.code] ?? 500);
    }
    engine.ctx.logger.error({ err }, 'request failed');
    return c.json({ error: 'internal', message: 'internal error; see the controller log' }, 500);
  });

  app.post('/api/jobs/:id/report', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new AutoctrlError('invalid_input', 'id: not a job id');
    const token = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (token === undefined || !verifyJobToken(engine.ctx.tokenSecret, id, token)) {
      throw new UnauthorizedError(
        `job ${id}: missing or wrong token; send "Authorization: Bearer $AUTOCTRL_TOKEN"`,
      );
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (cause) {
      throw new AutoctrlError('invalid_input', 'body: not valid JSON', { cause });
    }
    const job = await applyJobReport(engine.ctx, id, parseJobReport(body), `job:${id}`);
    hooks.trigger();
    return c.json({ job: { id: job.id, status: job.status, attempt: job.attempt } });
  });

  app.get('/api/status', async (c) => {
    const limit = Math.min(Number(c.req.query('limit') ?? 100) || 100, 1000);
    const before = c.req.query('before');
    return c.json(
      await overview(store, deployment, {
        campaign: c.req.query('campaign') ?? 'prompt',
        limit,
        ...(before !== undefined ? { before: Number(before) } : {}),
      }),
    );
  });

  app.get('/api/tasks', (c) =>
    c.json({
      tasks: deployment.tasks.map((t) => ({ name: t.name, workflow: t.workflow, after: t.after })),
    }),
  );
  // Lets a CLI in another process ask for a pass after changing the store; a pass is idempotent.
  app.post('/api/trigger', (c) => {
    hooks.trigger();
    return c.json({ ok: true });
  });
  app.get('/api/health', (c) => c.json(hooks.health()));
  app.get('/', (c) => c.html(dashboardHtml));
  return app;
}
