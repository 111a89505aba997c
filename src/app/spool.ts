import { statSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineContext } from '../engine/context.ts';
import { jobWorkDir } from '../engine/launch.ts';
import { AttemptEndedError, AutoctrlError, InvalidInputError, NotFoundError } from '../errors.ts';
import type { Job } from '../model/types.ts';
import { applyJobReport, parseJobReport } from './report.ts';
import { verifyJobToken } from './tokens.ts';

/**
 * Where `bin/autoctrl-job` spools the reports it could not send: one JSON
 * line each, `{"job","attempt","token","report"}`, in the job's directory.
 * The launch gives its path to the job as `AUTOCTRL_SPOOL`.
 */
export const SPOOL_FILE = 'reports.jsonl';

export function spoolPath(workDir: string): string {
  return join(workDir, SPOOL_FILE);
}

/** What one collection did. */
export interface SpoolCollection {
  /** Reports applied. */
  applied: number;
  /** Lines not applied, with why (a torn or foreign line, a wrong token, an ended attempt, a bad report). */
  refused: { offset: number; why: string }[];
  /** The file ends in an unfinished line, left for a later collection (its writer may still be at it). */
  torn: boolean;
}

/** The store failed while a spooled report was being applied: that one report may or may not be recorded. */
export class SpoolCollectError extends AutoctrlError {
  constructor(
    readonly path: string,
    readonly offset: number,
    cause: unknown,
  ) {
    super(
      'spool_collect_failed',
      `collecting ${path}: the report at byte ${offset} could not be applied (${cause instanceof Error ? cause.message : String(cause)}); it is not retried, so check the job's fields and outputs; the reports after it are collected next time`,
      { cause },
    );
  }
}

type SpoolContext = Pick<EngineContext, 'store' | 'deployment' | 'now' | 'tokenSecret' | 'logger'> &
  Partial<Pick<EngineContext, 'campaigns'>>;

/** Refusals that concern one line only: the collection goes on past them. */
const LINE_ERRORS = [AttemptEndedError, InvalidInputError, NotFoundError];

/**
 * Applies the reports a job spooled, through the same path as the HTTP
 * report (`applyJobReport`, with the attempt its token names), each at most
 * once. Progress is kept in `<spool>.collected`: before a line is applied its
 * end offset is written there (with its start, marking it in flight), so a
 * collection repeated, or resumed after a crash, starts past it; a line in
 * flight when the collector died is reported, never applied twice. Only
 * complete lines are taken: an unfinished last one waits.
 *
 * Call it when the job is seen exited and before its exit status settles it
 * (a report of fields after the job's end is refused), and from `autoctrl
 * pass`. One collector per job at a time: the engine's leader.
 */
export async function collectSpool(
  ctx: SpoolContext,
  job: Pick<Job, 'id' | 'campaign' | 'task'>,
  opts: { path?: string } = {},
): Promise<SpoolCollection> {
  const path = opts.path ?? spoolPath(jobWorkDir(ctx, job));
  const result: SpoolCollection = { applied: 0, refused: [], torn: false };
  // Most jobs reach the server and spool nothing: one synchronous stat, not two failing reads.
  if (statSync(path, { throwIfNoEntry: false }) === undefined) return result;
  const progress = await readProgress(path);
  if (progress.inFlight !== null) {
    ctx.logger.warn(
      { job: job.id, spool: path, offset: progress.inFlight },
      'a spooled report was being applied when the collector stopped: it is not applied again; check the job’s fields and outputs',
    );
    await saveProgress(path, progress.done, null);
  }
  const rest = await readFrom(path, progress.done);
  if (rest === null) return result;
  if (rest.shrunk) {
    ctx.logger.warn(
      { job: job.id, spool: path, collected: progress.done },
      'the spool is shorter than what was collected from it: it was replaced, so nothing is collected; remove its .collected file to collect it anew',
    );
    return result;
  }
  const end = rest.data.lastIndexOf(0x0a) + 1;
  result.torn = end < rest.data.length;
  let start = 0;
  while (start < end) {
    const nl = rest.data.indexOf(0x0a, start);
    const offset = progress.done + start;
    const next = nl + 1;
    const line = rest.data.subarray(start, nl).toString('utf8');
    start = next;
    if (line.trim() === '') continue;
    await saveProgress(path, progress.done + next, offset);
    const why = await applyLine(ctx, job.id, line).catch((err: unknown) => {
      if (LINE_ERRORS.some((E) => err instanceof E)) return (err as Error).message;
      throw new SpoolCollectError(path, offset, err);
    });
    if (why === null) {
      result.applied++;
    } else {
      // Logged as it happens: a store failure further on must not swallow it.
      result.refused.push({ offset, why });
      ctx.logger.warn({ job: job.id, spool: path, offset }, `spooled report refused: ${why}`);
    }
  }
  if (end > 0) await saveProgress(path, progress.done + end, null);
  return result;
}

/** Applies one spooled line; returns why it was refused, or null when applied. */
async function applyLine(ctx: SpoolContext, jobId: number, line: string): Promise<string | null> {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return 'not a JSON line (torn by a writer that was killed?)';
  }
  if (typeof entry !== 'object' || entry === null) return 'not a report line';
  const { job, attempt, token, report } = entry as Record<string, unknown>;
  if (job !== jobId) return `a report of job ${String(job)}, not of this job`;
  const who = typeof token === 'string' ? verifyJobToken(ctx.tokenSecret, jobId, token) : null;
  if (who === null || who.attempt === null || who.attempt !== attempt) {
    return 'its token is not this job attempt’s';
  }
  await applyJobReport(ctx, jobId, parseJobReport(report), `job:${jobId}`, who.attempt);
  return null;
}

interface Progress {
  /** Bytes of the spool collected. */
  done: number;
  /** Start of the line being applied, if a collector stopped while applying it. */
  inFlight: number | null;
}

async function readProgress(path: string): Promise<Progress> {
  const text = await readFile(`${path}.collected`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '0';
    throw err;
  });
  const [done, inFlight] = text.trim().split(' ').map(Number);
  return { done: done ?? 0, inFlight: inFlight ?? null };
}

/** Replaces the progress file whole (rename), so a crash leaves the old one or the new one. */
async function saveProgress(path: string, done: number, inFlight: number | null): Promise<void> {
  const tmp = `${path}.collected.tmp`;
  await writeFile(tmp, inFlight === null ? `${done}\n` : `${done} ${inFlight}\n`);
  await rename(tmp, `${path}.collected`);
}

/** The spool from `offset` on; null when there is none. */
async function readFrom(
  path: string,
  offset: number,
): Promise<{ data: Buffer; shrunk: boolean } | null> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (fh === null) return null;
  try {
    const { size } = await fh.stat();
    if (size < offset) return { data: Buffer.alloc(0), shrunk: true };
    const data = Buffer.alloc(size - offset);
    let got = 0;
    while (got < data.length) {
      const { bytesRead } = await fh.read(data, got, data.length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: data.subarray(0, got), shrunk: false };
  } finally {
    await fh.close();
  }
}
