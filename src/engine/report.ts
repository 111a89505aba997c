import { z } from 'zod';
import { InvalidInputError, NotFoundError, StaleStateError } from '../errors.ts';
import {
  MAX_FIELD_NAME,
  MAX_FIELD_VALUE,
  MAX_JSON_DEPTH,
  MAX_META_JSON,
  MAX_OUTPUTS_PER_REPORT,
  MAX_PATH,
  tooDeepAt,
} from '../limits.ts';
import type { JobHead } from '../store/contract.ts';
import type { EngineContext } from './context.ts';
import { markRunning, settleJob } from './outcome.ts';

/** An output's `meta`: any JSON map, nested at most 32 levels and 64 KiB as JSON. */
const outputPath = z.string().min(1).max(MAX_PATH);

const outputMeta = z.record(z.string(), z.unknown()).superRefine((meta, ctx) => {
  if (tooDeepAt(meta) !== null) {
    ctx.addIssue({
      code: 'custom',
      message: `nested more than ${MAX_JSON_DEPTH} levels deep: flatten it`,
    });
  } else if (JSON.stringify(meta).length > MAX_META_JSON) {
    ctx.addIssue({
      code: 'custom',
      message: `longer than ${MAX_META_JSON} characters as JSON: keep large data in the output file`,
    });
  }
});

/** What a job may say about itself (HTTP body or `autoctrl job report`). */
export const jobReportSchema = z
  .object({
    status: z.enum(['running', 'done', 'failed']).optional(),
    fields: z
      .record(
        z.string().min(1).max(MAX_FIELD_NAME),
        z.union([z.number(), z.string().max(MAX_FIELD_VALUE)]),
      )
      .optional(),
    outputs: z
      .array(
        z
          .object({
            path: outputPath,
            kind: z.string().max(MAX_FIELD_NAME).nullable().optional(),
            meta: outputMeta.optional(),
          })
          .strict(),
      )
      .max(
        MAX_OUTPUTS_PER_REPORT,
        `at most ${MAX_OUTPUTS_PER_REPORT} outputs in one report: send the rest in further reports`,
      )
      .optional(),
    reason: z.string().max(MAX_FIELD_VALUE).optional(),
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
