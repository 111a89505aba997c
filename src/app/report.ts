import { isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';
import type { EngineContext } from '../engine/context.ts';
import { jobWorkDir } from '../engine/launch.ts';
import { markRunning, settleJob } from '../engine/outcome.ts';
import { AttemptEndedError, InvalidInputError, NotFoundError } from '../errors.ts';
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

/** An output's `meta`: any JSON map, nested at most 32 levels and 64 KiB as JSON. */
const URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * An output's path: a URI as given; a path normalized (`a/./b/../c` is
 * `a/c`), refused when it is relative and climbs out of the job's output
 * directory, where relative paths are placed.
 */
const outputPath = z
  .string()
  .min(1)
  .max(MAX_PATH)
  .refine((p) => !p.includes('\0'), 'must not contain a NUL character')
  .transform((p, zctx) => {
    if (URI.test(p)) return p;
    const norm = normalize(p);
    if (!isAbsolute(norm) && (norm === '..' || norm.startsWith('../'))) {
      zctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(p)} climbs out of the job's output directory ($AUTOCTRL_OUTPUT_DIR): give a path inside it, or an absolute path`,
      });
      return z.NEVER;
    }
    return norm;
  });

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
 * retry). Only a queued or running attempt may report: after its end (or
 * once `tokenAttempt` is no longer the job's attempt) a report that would
 * change anything is refused with `AttemptEndedError`; repeating the final
 * status is accepted and changes nothing. Relative output paths are placed
 * in the job's output directory.
 */
export async function applyJobReport(
  ctx: Pick<EngineContext, 'store' | 'deployment' | 'now'> &
    Partial<Pick<EngineContext, 'campaigns'>>,
  jobId: number,
  report: JobReport,
  by: string,
  tokenAttempt: number | null = null,
): Promise<JobHead> {
  const job = await ctx.store.getJob(jobId);
  if (job === null) throw new NotFoundError('job', jobId);
  const finished = job.status === 'done' || job.status === 'failed';
  const data = report.fields !== undefined || report.outputs !== undefined;
  if (tokenAttempt !== null && tokenAttempt !== job.attempt) {
    throw new AttemptEndedError(jobId, tokenAttempt, 'superseded', job.attempt);
  }
  if (finished && (data || (report.status !== undefined && report.status !== job.status))) {
    throw new AttemptEndedError(jobId, job.attempt, job.status, job.attempt);
  }
  if (data) {
    const base = join(jobWorkDir(ctx, job), 'out');
    const outputs = report.outputs?.map((o) => ({ ...o, path: placeOutput(base, o.path) }));
    // Checked again where it is written: the attempt may end between the read above and now.
    const head = await ctx.store.recordJobData(jobId, {
      ...(report.fields ? { fields: report.fields } : {}),
      ...(outputs ? { outputs } : {}),
      at: ctx.now(),
      attempt: job.attempt,
    });
    if (report.status === undefined) return head;
  }
  if (report.status === undefined || finished) return job;
  if (report.status === 'running') await markRunning(ctx, job, by);
  else await settleJob(ctx, job, { status: report.status, reason: report.reason ?? null, by });
  return (await ctx.store.getJob(jobId)) ?? job;
}

/** Where an output is: a URI or an absolute path as given (normalized), a relative one under `base`. */
function placeOutput(base: string, given: string): string {
  return URI.test(given) || isAbsolute(given) ? given : join(base, given);
}
