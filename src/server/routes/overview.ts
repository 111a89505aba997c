import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';
import { PROMPT } from '../../model/campaign.ts';
import type { OverviewQuery } from '../../store/overview-contract.ts';
import { overviewPage } from '../../views/overview.ts';
import type { ServerContext } from '../context.ts';
import { presentRun } from '../present.ts';
import { type Api, limitParam, runParam } from '../route.ts';
import { cursor, instanceStatus, overviewRowSchema, runSchema, runStatus } from '../schemas.ts';

const campaignParam = z.string().min(1).max(200).optional().describe('default prompt');

const pageQuery = z.object({
  campaign: campaignParam,
  from: runParam.optional().describe('first run of the range (inclusive)'),
  to: runParam.optional().describe('last run of the range (inclusive)'),
  fill: runParam.optional().describe('LHC fill number'),
  status: runStatus.optional().describe("the run's global status"),
  task: z.string().min(1).max(200).optional().describe('with task_status: rows where this task…'),
  task_status: instanceStatus.optional().describe('…is in this status'),
  q: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'digits: run-number prefix; otherwise text (≥ 3 characters) in run type or metadata values',
    ),
  sort: z.enum(['run_desc', 'run_asc']).optional().describe('default run_desc'),
  limit: limitParam(500, 100).describe('rows per page, ≤ 500, default 100'),
  cursor: z.string().max(200).optional().describe('`next` of the previous page'),
});

type PageQuery = z.output<typeof pageQuery>;

function encodeCursor(run: number, order: 'asc' | 'desc'): string {
  return Buffer.from(JSON.stringify({ r: run, o: order })).toString('base64url');
}

function decodeCursor(text: string, order: 'asc' | 'desc'): number {
  let c: { r?: unknown; o?: unknown };
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof c;
  } catch {
    c = {};
  }
  if (typeof c.r !== 'number' || !Number.isSafeInteger(c.r) || (c.o !== 'asc' && c.o !== 'desc')) {
    throw new InvalidInputError(
      'query.cursor',
      'not a cursor this server gave (`next`); drop it to start from the first page',
    );
  }
  if (c.o !== order) {
    throw new InvalidInputError(
      'query.cursor',
      'it belongs to the other sort order; drop it to start from the first page',
    );
  }
  return c.r;
}

/** The store query of a validated page request; refuses combinations that cannot mean anything. */
function storeQuery(ctx: ServerContext, q: PageQuery): OverviewQuery {
  const order = q.sort === 'run_asc' ? 'asc' : 'desc';
  if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
    throw new InvalidInputError('query.to', `${q.to} is before from=${q.from}; give from ≤ to`);
  }
  if ((q.task === undefined) !== (q.task_status === undefined)) {
    throw new InvalidInputError(
      q.task === undefined ? 'query.task' : 'query.task_status',
      'task and task_status go together: the rows where that task is in that status',
    );
  }
  if (q.task !== undefined && !ctx.rt.deployment.tasks.some((t) => t.name === q.task)) {
    throw new InvalidInputError(
      'query.task',
      `no task ${q.task} in this deployment; GET /api/tasks lists them`,
    );
  }
  let text: { runPrefix: string } | { text: string } | object = {};
  if (q.q !== undefined) {
    if (/^\d+$/.test(q.q)) text = { runPrefix: q.q };
    else if (q.q.length < 3) {
      throw new InvalidInputError(
        'query.q',
        'text search needs at least 3 characters (digits alone search run numbers)',
      );
    } else text = { text: q.q };
  }
  return {
    campaign: q.campaign ?? PROMPT,
    order,
    limit: q.limit,
    ...(q.from !== undefined ? { from: q.from } : {}),
    ...(q.to !== undefined ? { to: q.to } : {}),
    ...(q.fill !== undefined ? { fill: q.fill } : {}),
    ...(q.status !== undefined ? { status: q.status } : {}),
    ...(q.task !== undefined && q.task_status !== undefined
      ? { task: { name: q.task, status: q.task_status } }
      : {}),
    ...text,
    ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor, order) } : {}),
  };
}

export function overviewRoutes(api: Api, ctx: ServerContext): void {
  const { store, deployment } = ctx.rt;
  api.route(
    {
      method: 'get',
      path: '/api/overview',
      summary: 'The overview grid: runs as rows, one cell per task, filtered, sorted, paged',
      access: 'read',
      query: pageQuery,
      response: z.object({ rows: z.array(overviewRowSchema), next: cursor }),
    },
    async (c, { query }) => {
      const q = storeQuery(ctx, query);
      const { rows, next } = await overviewPage(store, deployment, q);
      return c.json({ rows, next: next === null ? null : encodeCursor(next, q.order) });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/runs',
      summary: 'Runs, with the same filters and paging as the overview',
      access: 'read',
      query: pageQuery,
      response: z.object({ runs: z.array(runSchema), next: cursor }),
    },
    async (c, { query }) => {
      const q = storeQuery(ctx, query);
      const found = await store.overviewRuns({ ...q, limit: q.limit + 1 });
      const page = found.slice(0, q.limit);
      const last = page.at(-1);
      return c.json({
        runs: page.map((r) => presentRun(r.run)),
        next:
          found.length > q.limit && last !== undefined ? encodeCursor(last.run.run, q.order) : null,
      });
    },
  );
}
