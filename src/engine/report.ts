import { z } from 'zod';
import { InvalidInputError, NotFoundError, StaleStateError } from '../errors.ts';
import type { Job } from '../model/types.ts';
import type { EngineContext } from './context.ts';
import { markRunning, settleJob } from './outcome.ts';

/** What a job may say about itself (HTTP body or `autoctrl job report`). */
export const jobReportSchema = z
  .object({
    status: z.enum(['running', 'done', 'failed']).optional(),
    fields: z
      .record(z.string().min(1).max(200), z.union([z.number(), z.string().max(10_000)]))
      .optional(),
    outputs: z
      .array(
        z
          .object({
            path: z.string().min(1).max(4096),
            kind: z.string().max(200).nullable().optional(),
            meta: z.record(z.string(), z.unknown()).optional(),
          })
          .strict(),
      )
      .max(10_000)
      .optional(),
    reason: z.string().max(10_000).optional(),
  })
  .strict();

export type JobReport = z.infer<typeof jobReportSchema>;

/** Parses a report, naming the offending field on error. */
export function parseJobReport(body: unknown): JobReport {
  const parsed = jobReportSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : 'body';
  throw new InvalidInputError(field, issue?.message ?? 'invalid report');
}

/**
 * Applies a job's report: fields and outputs are stored, then the status.
 * `done`/`failed` settle the job (a failure with attempts left schedules the
 * retry). A report that contradicts a job already ended is refused with
 * `StaleStateError`; repeating the same final status is accepted.
 */
export async function applyJobReport(
  ctx: Pick<EngineContext, 'store' | 'deployment' | 'now'> &
    Partial<Pick<EngineContext, 'campaigns'>>,
  jobId: number,
  report: JobReport,
  by: string,
): Promise<Job> {
  const job = await ctx.store.getJob(jobId);
  if (job === null) throw new NotFoundError('job', jobId);
  const finished = job.status === 'done' || job.status === 'failed';
  if (finished && report.status !== undefined && report.status !== job.status) {
    throw new StaleStateError('job', jobId, report.status, job.status);
  }
  if (report.fields !== undefined || report.outputs !== undefined) {
    await ctx.store.recordJobData(jobId, {
      ...(report.fields ? { fields: report.fields } : {}),
      ...(report.outputs ? { outputs: report.outputs } : {}),
      at: ctx.now(),
    });
  }
  if (report.status === 'running') await markRunning(ctx, job, by);
  else if (report.status !== undefined && !finished) {
    await settleJob(ctx, job, { status: report.status, reason: report.reason ?? null, by });
  }
  return (await ctx.store.getJob(jobId)) ?? job;
}
