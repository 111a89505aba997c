import { z } from 'zod';
import { reprocessInstance, resubmitInstance } from '../../app/actions.ts';
import { releaseHeldJobs } from '../../app/release.ts';
import { NotFoundError } from '../../errors.ts';
import type { Instance } from '../../model/types.ts';
import { attemptDiff } from '../../views/attempt-diff.ts';
import type { ServerContext } from '../context.ts';
import {
  presentAttempt,
  presentEvent,
  presentInstance,
  presentJob,
  presentOutput,
  presentRun,
} from '../present.ts';
import { type Api, actor, idParam, limitParam, runParam } from '../route.ts';
import {
  eventSchema,
  instanceSchema,
  instanceStatus,
  jobSchema,
  outputSchema,
  runSchema,
} from '../schemas.ts';

const lockSchema = z.object({
  name: z.string(),
  kind: z.string(),
  open: z.boolean().nullable().describe('null: not asked for this attempt yet'),
  reason: z.string().nullable(),
});

/**
 * The locks of the instance's task as far as its status tells: all open once
 * it started; while it waits on one (`lock <name>: why`), those before it in
 * the task's order were open, that one is closed, the rest not asked yet.
 */
function lockStates(ctx: ServerContext, inst: Instance): z.infer<typeof lockSchema>[] {
  const task = ctx.rt.deployment.tasks.find((t) => t.name === inst.task);
  const locks = task?.locks ?? [];
  const started =
    inst.status === 'processing' || inst.status === 'done' || inst.status === 'failed';
  const closedName = /^lock (.+?): /.exec(inst.reason ?? '')?.[1];
  const closedAt = inst.status === 'waiting' ? locks.findIndex((l) => l.name === closedName) : -1;
  return locks.map((l, i) => ({
    name: l.name,
    kind: l.kind,
    open: started
      ? true
      : closedAt < 0
        ? null
        : i < closedAt
          ? true
          : i === closedAt
            ? false
            : null,
    reason: i === closedAt ? (inst.reason?.slice(`lock ${l.name}: `.length) ?? null) : null,
  }));
}

const attemptSchema = z.object({
  instanceId: z.number().int(),
  attempt: z.number().int(),
  configHash: z.string(),
  startedAt: z.string(),
});

const changeSchema = z.object({
  what: z
    .enum(['config', 'file', 'commit', 'image', 'autoctrl'])
    .describe(
      'a task setting, a code file, a repository commit, the container image, the autoctrl version',
    ),
  key: z.string().describe('the setting (env.GT), file (relative to the cwd) or repository'),
  from: z.string().nullable().describe('in attempt a; null: absent'),
  to: z.string().nullable().describe('in attempt b; null: absent'),
});

const attemptNumber = z
  .string()
  .regex(/^[1-9]\d{0,6}$/, 'must be an attempt number')
  .transform(Number);

const idPath = z.object({ id: idParam });

/** `run` and a range bound together: the tighter of the two. */
function bounds<K extends string>(
  key: K,
  pick: (...n: number[]) => number,
  given: readonly (number | undefined)[],
): Partial<Record<K, number>> {
  const set = given.filter((n): n is number => n !== undefined);
  return set.length === 0 ? {} : ({ [key]: pick(...set) } as Partial<Record<K, number>>);
}
const actionBody = z.object({ reason: z.string().min(1).max(2000).optional() }).strict();

export function instanceRoutes(api: Api, ctx: ServerContext): void {
  const { store } = ctx.rt;
  const mustGet = async (id: number) => {
    const inst = await store.getInstance(id);
    if (inst === null) throw new NotFoundError('instance', id);
    return inst;
  };
  api.route(
    {
      method: 'get',
      path: '/api/instances',
      summary: 'Instances by campaign, task, run and status, ascending by first run then task',
      access: 'read',
      query: z.object({
        campaign: z.string().min(1).max(200).optional(),
        task: z.string().min(1).max(200).optional(),
        run: runParam.optional().describe('instances covering this run'),
        from: runParam.optional().describe('instances covering a run ≥ this (with or without to)'),
        to: runParam.optional().describe('instances covering a run ≤ this'),
        status: instanceStatus.optional(),
        limit: limitParam(5000, 500),
      }),
      response: z.object({ instances: z.array(instanceSchema) }),
    },
    async (c, { query }) => {
      const found = await store.findInstances({
        ...(query.campaign !== undefined ? { campaign: query.campaign } : {}),
        ...(query.task !== undefined ? { task: query.task } : {}),
        ...bounds('runFrom', Math.max, [query.run, query.from]),
        ...bounds('runTo', Math.min, [query.run, query.to]),
        ...(query.status !== undefined ? { statuses: [query.status] } : {}),
        limit: query.limit,
      });
      return c.json({ instances: found.map(presentInstance) });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/instances/{id}',
      summary: 'One instance: runs, jobs, history, configuration, outputs and locks',
      access: 'read',
      params: idPath,
      response: z.object({
        instance: instanceSchema,
        runs: z.array(runSchema),
        jobs: z.array(jobSchema),
        history: z.array(eventSchema),
        config: z
          .unknown()
          .describe('the task configuration the current attempt ran with (by configHash)'),
        outputs: z.array(outputSchema),
        locks: z.array(lockSchema),
        attempts: z
          .array(attemptSchema)
          .describe('every started attempt and its configuration (compare two with /diff)'),
      }),
    },
    async (c, { params }) => {
      const inst = await mustGet(params.id);
      const [runs, jobs, history, outputs, config, attempts] = await Promise.all([
        store.getRuns(inst.runs),
        store.jobsForInstance(inst.id),
        store.listEvents({ instanceId: inst.id, limit: 5000 }),
        store.outputsForInstances([inst.id]),
        inst.configHash === null ? null : store.getConfig(inst.configHash),
        store.attemptsForInstances([inst.id]),
      ]);
      const now = Date.now();
      return c.json({
        instance: presentInstance(inst),
        runs: runs.map(presentRun),
        jobs: jobs.map((j) => presentJob(j, now)),
        history: history.map(presentEvent),
        config,
        outputs: outputs.map(presentOutput),
        locks: lockStates(ctx, inst),
        attempts: attempts.map(presentAttempt),
      });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/instances/{id}/diff',
      summary:
        'What changed between two attempts: task settings, code files, commits, container image, autoctrl version',
      access: 'read',
      params: idPath,
      query: z.object({ a: attemptNumber, b: attemptNumber }),
      response: z.object({
        instanceId: z.number().int(),
        a: attemptSchema,
        b: attemptSchema,
        changes: z.array(changeSchema),
      }),
    },
    async (c, { params, query }) => {
      const d = await attemptDiff(store, await mustGet(params.id), query.a, query.b);
      return c.json({ ...d, a: presentAttempt(d.a), b: presentAttempt(d.b) });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/instances/{id}/reprocess',
      summary:
        'Sends a settled instance back to new, as a new attempt; with downstream, the instances depending on it too (operator)',
      access: 'operator',
      params: idPath,
      body: actionBody.extend({
        downstream: z
          .boolean()
          .optional()
          .describe(
            'also the instances depending on it in its campaign, transitively, in one transaction',
          ),
      }),
      response: z.object({
        instance: instanceSchema,
        downstream: z
          .object({
            reprocessed: z.array(z.number().int()),
            skipped: z.array(z.object({ id: z.number().int(), status: instanceStatus.nullable() })),
          })
          .optional()
          .describe(
            'with downstream: every instance sent back, and those left as they were (processing, new)',
          ),
      }),
    },
    async (c, { params, body, who }) => {
      const { cascade, ...inst } = await reprocessInstance(
        store,
        params.id,
        { by: actor(who), reason: body.reason },
        body.downstream === true ? { deployment: ctx.rt.deployment } : undefined,
      );
      ctx.hooks.trigger();
      return c.json({
        instance: presentInstance(inst),
        ...(cascade !== undefined ? { downstream: cascade } : {}),
      });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/instances/{id}/resubmit',
      summary: "Runs a failed instance's jobs again, as a new attempt (operator)",
      access: 'operator',
      params: idPath,
      body: actionBody,
      response: z.object({ instance: instanceSchema }),
    },
    async (c, { params, body, who }) => {
      const inst = await resubmitInstance(store, params.id, {
        by: actor(who),
        reason: body.reason,
      });
      ctx.hooks.trigger();
      return c.json({ instance: presentInstance(inst) });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/instances/{id}/release',
      summary:
        "Releases the held jobs of an instance in their batch system (operator; HTCondor's condor_release)",
      access: 'operator',
      params: idPath,
      body: actionBody,
      response: z.object({
        released: z.array(z.number().int()).describe('ids of the jobs released'),
      }),
    },
    async (c, { params, body, who }) => {
      const out = await releaseHeldJobs(ctx.rt.engine.ctx, params.id, {
        by: actor(who),
        reason: body.reason,
      });
      ctx.hooks.trigger();
      return c.json(out);
    },
  );
}
