import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';
import { PROMPT } from '../../model/campaign.ts';
import type { ServerContext } from '../context.ts';
import { type Api, limitParam, runParam } from '../route.ts';

const time = z.iso.datetime({ offset: true });

/** Job-field samples as time series: every value a job reported for a field, with its time. */
export function sampleRoutes(api: Api, ctx: ServerContext): void {
  const { store, deployment } = ctx.rt;
  api.route(
    {
      method: 'get',
      path: '/api/samples',
      summary: 'Every value the jobs of one task reported for one field, in time order, paged',
      description:
        'Each job report keeps its fields as time-stamped samples (progress reports too), so a field can be followed while jobs run and across retries. Samples older than `retention.samples` are deleted.',
      access: 'read',
      query: z.object({
        task: z.string().min(1).max(200),
        key: z.string().min(1).max(200).describe('the field name'),
        campaign: z.string().min(1).max(200).optional().describe('default prompt'),
        since: time.optional().describe('samples taken at or after this time'),
        until: time.optional().describe('samples taken before this time'),
        from: runParam.optional().describe('only jobs of instances holding a run ≥ this'),
        to: runParam.optional().describe('only jobs of instances holding a run ≤ this'),
        cursor: z
          .string()
          .regex(/^-?\d{1,16}:\d{1,16}$/, 'must be the `next` of a previous page')
          .optional(),
        limit: limitParam(100_000, 10_000),
      }),
      response: z.object({
        task: z.string(),
        key: z.string(),
        samples: z.array(
          z.object({
            at: z.string(),
            value: z.union([z.number(), z.string()]),
            jobId: z.number().int(),
            attempt: z.number().int(),
            instanceId: z.number().int(),
            runs: z.array(z.number().int()),
          }),
        ),
        next: z.string().nullable().describe('cursor of the next page; null on the last'),
      }),
    },
    async (c, { query }) => {
      if (!deployment.tasks.some((t) => t.name === query.task))
        throw new InvalidInputError(
          'query.task',
          `no task ${query.task} in this deployment; GET /api/tasks lists them`,
        );
      const page = await store.listSamples({
        campaign: query.campaign ?? PROMPT,
        task: query.task,
        key: query.key,
        ...(query.since !== undefined ? { since: Date.parse(query.since) } : {}),
        ...(query.until !== undefined ? { until: Date.parse(query.until) } : {}),
        ...(query.from !== undefined ? { runFrom: query.from } : {}),
        ...(query.to !== undefined ? { runTo: query.to } : {}),
        after: query.cursor ?? null,
        limit: query.limit,
      });
      return c.json({
        task: query.task,
        key: query.key,
        samples: page.samples.map((s) => ({ ...s, at: new Date(s.at).toISOString() })),
        next: page.next,
      });
    },
  );
}
