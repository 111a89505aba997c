import type { SamplePoint, SampleQuery } from '../samples-contract.ts';
import { parseSampleCursor, samplePage } from '../samples-contract.ts';
import type { Db } from './db.ts';

interface Row {
  id: number;
  at: number;
  num: number | null;
  text: string | null;
  job_id: number;
  attempt: number;
  instance_id: number;
  runs: number[];
}

const MIN = Number.MIN_SAFE_INTEGER;
const MAX = Number.MAX_SAFE_INTEGER;

/** Samples as time series, paged in `(at, id)` order (see `samples-contract.ts`). */
export function sampleOps(db: Db) {
  return {
    async listSamples(q: SampleQuery): Promise<{ samples: SamplePoint[]; next: string | null }> {
      const after = q.after == null ? { at: MIN, id: 0 } : parseSampleCursor(q.after);
      const limit = Math.max(1, Math.floor(q.limit));
      const byRuns = q.runFrom !== undefined || q.runTo !== undefined;
      const rows = await db.query<Row>(
        'listSamples',
        `SELECT s.id, s.at, s.num, s.text, s.job_id, j.attempt, j.instance_id, i.runs
         FROM job_samples s JOIN jobs j ON j.id = s.job_id JOIN instances i ON i.id = j.instance_id
         WHERE s.key = $1 AND j.campaign = $2 AND j.task = $3 AND s.at >= $4 AND s.at < $5
           AND (s.at, s.id) > ($6::bigint, $7::bigint)
           AND (NOT $8 OR j.instance_id IN (SELECT instance_id FROM memberships
                WHERE campaign = $2 AND task = $3 AND run BETWEEN $9 AND $10))
         ORDER BY s.at, s.id LIMIT $11`,
        [
          q.key,
          q.campaign,
          q.task,
          q.since ?? MIN,
          q.until ?? MAX,
          after.at,
          after.id,
          byRuns,
          q.runFrom ?? MIN,
          q.runTo ?? MAX,
          limit + 1,
        ],
      );
      return samplePage(
        rows.map((r) => ({ ...r, jobId: r.job_id, instanceId: r.instance_id })),
        limit,
      );
    },
    async pruneSamples(before: number, limit: number): Promise<number> {
      const rows = await db.query<{ n: number }>(
        'pruneSamples',
        `WITH gone AS (DELETE FROM job_samples WHERE id IN
           (SELECT id FROM job_samples WHERE at < $1 LIMIT $2) RETURNING 1)
         SELECT count(*) AS n FROM gone`,
        [before, Math.max(1, Math.floor(limit))],
      );
      return rows[0]?.n ?? 0;
    },
  };
}
