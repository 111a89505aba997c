import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';
import { PROMPT } from '../../model/campaign.ts';
import type { TaskJob } from '../../store/overview-contract.ts';
import type { ServerContext } from '../context.ts';
import { iso, presentOutput, startOf } from '../present.ts';
import { type Api, limitParam, runParam } from '../route.ts';
import { outputSchema } from '../schemas.ts';

const campaign = z.string().min(1).max(200).optional().describe('default prompt');
const task = z.string().min(1).max(200);

/** The last attempt of each job (a retry supersedes the attempt it retried). */
function latestAttempts(list: readonly TaskJob[]): TaskJob[] {
  const byKey = new Map<string, TaskJob>();
  for (const tj of list) {
    const key = `${tj.job.instanceId}/${tj.job.index}`;
    const seen = byKey.get(key);
    if (seen === undefined || seen.job.attempt < tj.job.attempt) byKey.set(key, tj);
  }
  return [...byKey.values()];
}

const BUCKETS: Record<string, number> = {
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '1d': 86_400_000,
};

export function statsRoutes(api: Api, ctx: ServerContext): void {
  const { store, deployment } = ctx.rt;
  const knownTask = (name: string) => {
    if (!deployment.tasks.some((t) => t.name === name))
      throw new InvalidInputError(
        'query.task',
        `no task ${name} in this deployment; GET /api/tasks lists them`,
      );
  };
  api.route(
    {
      method: 'get',
      path: '/api/outputs',
      summary: 'Outputs registered by jobs, by campaign, task and run range',
      access: 'read',
      query: z.object({
        campaign: z.string().min(1).max(200).optional(),
        task: task.optional(),
        from: runParam.optional(),
        to: runParam.optional(),
        limit: limitParam(10_000, 1000),
      }),
      response: z.object({ outputs: z.array(outputSchema) }),
    },
    async (c, { query }) => {
      const outputs = await store.listOutputs({
        ...(query.campaign !== undefined ? { campaign: query.campaign } : {}),
        ...(query.task !== undefined ? { task: query.task } : {}),
        ...(query.from !== undefined ? { runFrom: query.from } : {}),
        ...(query.to !== undefined ? { runTo: query.to } : {}),
        limit: query.limit,
      });
      return c.json({ outputs: outputs.map(presentOutput) });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/fields',
      summary: 'A numeric job field of one task as a series over runs (time: the run’s end)',
      access: 'read',
      query: z.object({
        task,
        field: z.string().min(1).max(200),
        campaign,
        from: runParam.optional(),
        to: runParam.optional(),
        limit: limitParam(100_000, 10_000).describe(
          'at most this many runs, the newest in the range',
        ),
      }),
      response: z.object({
        task: z.string(),
        field: z.string(),
        points: z.array(
          z.object({
            run: z.number().int(),
            fill: z.number().int().nullable(),
            time: z.string().nullable(),
            value: z.number(),
            jobId: z.number().int(),
            instanceId: z.number().int(),
          }),
        ),
      }),
    },
    async (c, { query }) => {
      knownTask(query.task);
      const jobs = latestAttempts(
        await store.taskJobs({
          campaign: query.campaign ?? PROMPT,
          task: query.task,
          limit: query.limit,
          ...(query.from !== undefined ? { from: query.from } : {}),
          ...(query.to !== undefined ? { to: query.to } : {}),
        }),
      ).filter((tj) => typeof tj.job.fields[query.field] === 'number');
      const runs = new Map(
        (await store.getRuns([...new Set(jobs.map((j) => j.run))])).map((r) => [r.run, r]),
      );
      const points = jobs
        .map(({ run, job }) => ({
          run,
          fill: runs.get(run)?.fill ?? null,
          time: iso(runs.get(run)?.end ?? null),
          value: job.fields[query.field] as number,
          jobId: job.id,
          instanceId: job.instanceId,
        }))
        .sort((a, b) => a.run - b.run || a.jobId - b.jobId);
      return c.json({ task: query.task, field: query.field, points });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/fields/names',
      summary: 'Numeric fields the latest jobs of a task reported',
      access: 'read',
      query: z.object({ task, campaign }),
      response: z.object({ fields: z.array(z.string()) }),
    },
    async (c, { query }) => {
      knownTask(query.task);
      const jobs = await store.taskJobs({
        campaign: query.campaign ?? PROMPT,
        task: query.task,
        limit: 200,
      });
      const names = new Set<string>();
      for (const { job } of jobs) {
        for (const [k, v] of Object.entries(job.fields)) if (typeof v === 'number') names.add(k);
      }
      return c.json({ fields: [...names].sort() });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/stats/durations',
      summary: 'Per settled instance of a task: time its jobs queued and ran',
      description:
        'queuedMs: first job start minus first submission (waiting in the batch queue); runMs: last job end minus first start.',
      access: 'read',
      query: z.object({ task, campaign, limit: limitParam(20_000, 1000).describe('newest runs') }),
      response: z.object({
        points: z.array(
          z.object({
            instanceId: z.number().int(),
            run: z.number().int(),
            queuedMs: z.number().nullable(),
            runMs: z.number(),
            endedAt: z.string(),
          }),
        ),
      }),
    },
    async (c, { query }) => {
      knownTask(query.task);
      const jobs = await store.taskJobs({
        campaign: query.campaign ?? PROMPT,
        task: query.task,
        limit: query.limit,
      });
      const byInstance = new Map<number, TaskJob[]>();
      for (const tj of jobs)
        byInstance.set(tj.job.instanceId, [...(byInstance.get(tj.job.instanceId) ?? []), tj]);
      const points = [];
      for (const [instanceId, list] of byInstance) {
        const js = list.map((t) => t.job);
        const starts = js.map(startOf);
        if (js.some((j) => j.endedAt === null) || starts.some((s) => s === null)) continue;
        const started = Math.min(...(starts as number[]));
        const ended = Math.max(...js.map((j) => j.endedAt as number));
        const submitted = js.flatMap((j) => (j.submittedAt === null ? [] : [j.submittedAt]));
        points.push({
          instanceId,
          run: list[0]?.run ?? 0,
          queuedMs:
            submitted.length > 0 && js.every((j) => j.startedAt !== null)
              ? Math.max(0, started - Math.min(...submitted))
              : null,
          runMs: ended - started,
          endedAt: new Date(ended).toISOString(),
        });
      }
      points.sort((a, b) => a.run - b.run);
      return c.json({ points });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/stats/throughput',
      summary: 'Instances settling (done, failed) per task and time bucket',
      access: 'read',
      query: z.object({
        campaign,
        bucket: z.enum(['5m', '15m', '1h', '6h', '1d']).optional().describe('default 1h'),
        since: z.iso.datetime({ offset: true }).optional().describe('default: 168 buckets ago'),
        until: z.iso.datetime({ offset: true }).optional().describe('default: now'),
      }),
      response: z.object({
        bucketMs: z.number().int(),
        buckets: z.array(
          z.object({
            start: z.string(),
            done: z.record(z.string(), z.number().int()),
            failed: z.record(z.string(), z.number().int()),
          }),
        ),
      }),
    },
    async (c, { query }) => {
      const bucketMs = BUCKETS[query.bucket ?? '1h'] ?? 3_600_000;
      const until = query.until === undefined ? Date.now() : Date.parse(query.until);
      const since0 = query.since === undefined ? until - 168 * bucketMs : Date.parse(query.since);
      const since = Math.floor(since0 / bucketMs) * bucketMs;
      if ((until - since) / bucketMs > 5000) {
        throw new InvalidInputError(
          'query.since',
          'more than 5000 buckets: take a larger bucket or a shorter span',
        );
      }
      const counts = await store.settledCounts({
        campaign: query.campaign ?? PROMPT,
        since,
        until,
        bucketMs,
      });
      const buckets = new Map<
        number,
        { start: string; done: Record<string, number>; failed: Record<string, number> }
      >();
      for (let b = since; b < until; b += bucketMs) {
        buckets.set(b, { start: new Date(b).toISOString(), done: {}, failed: {} });
      }
      for (const n of counts) {
        const b = buckets.get(n.bucket);
        if (b !== undefined) b[n.status][n.task] = n.count;
      }
      return c.json({ bucketMs, buckets: [...buckets.values()] });
    },
  );
}
