import { z } from 'zod';
import { applyJobReport, jobReportSchema } from '../../app/report.ts';
import { jobRef } from '../../engine/launch.ts';
import { NotFoundError } from '../../errors.ts';
import { readFileLog } from '../../executors/shared/file-log.ts';
import { countReport } from '../../export/metrics-hooks.ts';
import type { ServerContext } from '../context.ts';
import { followLog, type LogReader, logResponse } from '../logs.ts';
import { presentJob } from '../present.ts';
import { type Api, actor, idParam } from '../route.ts';
import { jobSchema, jobStatus } from '../schemas.ts';

const idPath = z.object({ id: idParam });

export function jobRoutes(api: Api, ctx: ServerContext): void {
  const { store, engine } = ctx.rt;
  // The executor reads its own logs (a local file, a batch system's); one no longer configured leaves a file.
  const readLog: LogReader = (job, opts) => {
    const executor = ctx.rt.executors.get(job.executor);
    // Followed before it starts, a log is waited for where it will be; read now, it must exist.
    const ref = jobRef(engine.ctx, job);
    const logPath = opts.follow === true ? ref.logPath : job.logPath;
    return executor === undefined
      ? readFileLog(job.id, logPath, opts)
      : executor.readLog({ ...ref, logPath }, opts);
  };
  const mustGet = async (id: number) => {
    const job = await store.getJob(id);
    if (job === null) throw new NotFoundError('job', id);
    return job;
  };
  api.route(
    {
      method: 'get',
      path: '/api/jobs/{id}',
      summary: 'One job',
      access: 'read',
      params: idPath,
      response: z.object({ job: jobSchema }),
    },
    async (c, { params }) => c.json({ job: presentJob(await mustGet(params.id)) }),
  );
  api.route(
    {
      method: 'get',
      path: '/api/jobs/{id}/log',
      summary:
        'The job’s log: whole or its last lines as text/plain, or followed live as Server-Sent Events',
      description:
        'With follow=1: text/event-stream; the log so far (or its last `tail` lines), then each appended chunk as `data: <JSON string>`, then `event: end` with `{"status", "exitCode"}` when the job ends, and the stream closes.',
      access: 'read',
      params: idPath,
      query: z.object({
        tail: z
          .string()
          .regex(/^\d{1,7}$/, 'must be a number of lines')
          .transform(Number)
          .optional()
          .describe('only the last N lines'),
        follow: z
          .enum(['0', '1', 'true', 'false'])
          .optional()
          .describe('1: stream as Server-Sent Events until the job ends'),
      }),
      produces: 'text/plain',
    },
    async (_c, { params, query }) => {
      const job = await mustGet(params.id);
      if (query.follow === '1' || query.follow === 'true') {
        return followLog(store, ctx.hub, readLog, job, query.tail);
      }
      return logResponse(readLog, job, query.tail);
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/jobs/{id}/report',
      summary: 'A job reports its status, fields and outputs (the job’s own token)',
      access: 'job',
      params: idPath,
      body: jobReportSchema,
      response: z.object({
        job: z.object({ id: z.number().int(), status: jobStatus, attempt: z.number().int() }),
      }),
    },
    async (c, { params, body, who }) => {
      const attempt = who.kind === 'job' ? who.attempt : null;
      const job = await applyJobReport(engine.ctx, params.id, body, actor(who), attempt);
      countReport();
      // A change of status may free a slot or let downstream start; a pass per progress
      // report (fields only) would starve the server under thousands of reports a second.
      if (body.status !== undefined) ctx.hooks.trigger();
      return c.json({ job: { id: job.id, status: job.status, attempt: job.attempt } });
    },
  );
}
