import { z } from 'zod';
import type { EngineContext } from '../engine/context.ts';
import { markRunning, settleJob } from '../engine/outcome.ts';
import { InvalidInputError, NotFoundError, StaleStateError } from '../errors.ts';
import type { JobHead } from '../store/contract.ts';

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
): Promise<JobHead> {
  const data = report.fields !== undefined || report.outputs !== undefined;
  const record = () =>
    ctx.store.recordJobData(jobId, {
      ...(report.fields ? { fields: report.fields } : {}),
      ...(report.outputs ? { outputs: report.outputs } : {}),
      at: ctx.now(),
    });
  // A progress report (fields, outputs) is the hot path, thousands a second: one transaction, no other read.
  if (report.status === undefined) {
    if (data) return record();
    const job = await ctx.store.getJob(jobId);
    if (job === null) throw new NotFoundError('job', jobId);
    return job;
  }
  const job = await ctx.store.getJob(jobId);
  if (job === null) throw new NotFoundError('job', jobId);
  const finished = job.status === 'done' || job.status === 'failed';
  if (finished && report.status !== job.status) {
    throw new StaleStateError('job', jobId, report.status, job.status);
  }
  if (data) await record();
  if (report.status === 'running') await markRunning(ctx, job, by);
  else if (!finished) {
    await settleJob(ctx, job, { status: report.status, reason: report.reason ?? null, by });
  }
  return report.status === job.status ? job : ((await ctx.store.getJob(jobId)) ?? job);
}
