/**
 * Job-field samples read back as time series: the part of the `StateStore`
 * contract behind `GET /api/samples`, the plots page and the retention of
 * samples.
 */

/** Which samples of one field of one task; times in ms since the epoch. */
export interface SampleQuery {
  campaign: string;
  task: string;
  key: string;
  /** Samples taken at or after this time. */
  since?: number;
  /** Samples taken before this time. */
  until?: number;
  /** Only samples of jobs whose instance holds a run in this range (inclusive). */
  runFrom?: number;
  runTo?: number;
  /** Resume after this page cursor (`next` of the previous page). */
  after?: string | null;
  limit: number;
}

/** One stored sample with the job and runs it belongs to. */
export interface SamplePoint {
  at: number;
  value: number | string;
  jobId: number;
  attempt: number;
  instanceId: number;
  runs: number[];
}

export interface SampleStore {
  /**
   * Samples in `(at, insertion)` order, one page of at most `limit`; `next`
   * is the cursor of the following page, null when this one was the last.
   * Cursors are opaque strings, stable across restarts.
   */
  listSamples(q: SampleQuery): Promise<{ samples: SamplePoint[]; next: string | null }>;
  /**
   * Deletes at most `limit` samples taken before `before`, in one short
   * transaction (a caller deletes a backlog in several, so that writers are
   * never held up for long). Returns how many went.
   */
  pruneSamples(before: number, limit: number): Promise<number>;
}

/** Parses a sample page cursor `at:id`; malformed cursors are bad input. */
export function parseSampleCursor(c: string): { at: number; id: number } {
  const m = /^(-?\d+):(\d+)$/.exec(c);
  const at = Number(m?.[1]);
  const id = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(at) || !Number.isSafeInteger(id))
    throw new RangeError(`not a sample page cursor: ${c}; pass the "next" of a previous page`);
  return { at, id };
}

/** A sample row as both stores read it: `id` is what orders samples of one instant. */
export interface SampleRow {
  id: number;
  at: number;
  num: number | null;
  text: string | null;
  jobId: number;
  attempt: number;
  instanceId: number;
  runs: number[];
}

/** The first `limit` of `rows` (asked as `limit + 1`) and the cursor of the next page, if any. */
export function samplePage(
  rows: readonly SampleRow[],
  limit: number,
): { samples: SamplePoint[]; next: string | null } {
  const samples = rows.slice(0, limit).map((r) => ({
    at: r.at,
    value: r.num ?? r.text ?? '',
    jobId: r.jobId,
    attempt: r.attempt,
    instanceId: r.instanceId,
    runs: r.runs,
  }));
  const last = rows[limit - 1];
  return {
    samples,
    next: rows.length > limit && last !== undefined ? `${last.at}:${last.id}` : null,
  };
}
