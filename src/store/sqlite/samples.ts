import type { SamplePoint, SampleQuery } from '../samples-contract.ts';
import { parseSampleCursor, samplePage } from '../samples-contract.ts';
import type { Db } from './shared.ts';

interface Row {
  pos: number;
  at: number;
  num: number | null;
  text: string | null;
  job_id: number;
  attempt: number;
  instance_id: number;
  runs: string;
}

/**
 * Samples as time series. The page order is `(at, pos)`: `pos` is unique
 * (the sample's feed position), so a page boundary never splits or repeats
 * samples of one instant.
 */
export function sampleOps(db: Db) {
  const MIN = Number.MIN_SAFE_INTEGER;
  const MAX = Number.MAX_SAFE_INTEGER;
  const select = (byRuns: boolean) =>
    db.prepare<unknown[], Row>(
      `SELECT s.pos, s.at, s.num, s.text, s.job_id, j.attempt, j.instance_id, i.runs
       FROM job_samples s JOIN jobs j ON j.id = s.job_id JOIN instances i ON i.id = j.instance_id
       WHERE s.key = ? AND j.campaign = ? AND j.task = ? AND s.at >= ? AND s.at < ?
         AND (s.at > ? OR (s.at = ? AND s.pos > ?))
         ${byRuns ? 'AND j.instance_id IN (SELECT instance_id FROM memberships WHERE campaign = ? AND task = ? AND run BETWEEN ? AND ?)' : ''}
       ORDER BY s.at, s.pos LIMIT ?`,
    );
  const plain = select(false);
  const byRuns = select(true);
  const prune = db.prepare<[number, number]>(
    'DELETE FROM job_samples WHERE rowid IN (SELECT rowid FROM job_samples WHERE at < ? LIMIT ?)',
  );

  return {
    listSamples(q: SampleQuery): { samples: SamplePoint[]; next: string | null } {
      const after = q.after == null ? { at: MIN, id: 0 } : parseSampleCursor(q.after);
      const limit = Math.max(1, Math.floor(q.limit));
      const head = [q.key, q.campaign, q.task, q.since ?? MIN, q.until ?? MAX];
      const page = [after.at, after.at, after.id];
      const runs = q.runFrom !== undefined || q.runTo !== undefined;
      const rows = runs
        ? byRuns.all(
            ...head,
            ...page,
            q.campaign,
            q.task,
            q.runFrom ?? MIN,
            q.runTo ?? MAX,
            limit + 1,
          )
        : plain.all(...head, ...page, limit + 1);
      return samplePage(
        rows.map((r) => ({
          id: r.pos,
          at: r.at,
          num: r.num,
          text: r.text,
          jobId: r.job_id,
          attempt: r.attempt,
          instanceId: r.instance_id,
          runs: JSON.parse(r.runs) as number[],
        })),
        limit,
      );
    },
    pruneSamples: (before: number, limit: number): number =>
      prune.run(before, Math.max(1, Math.floor(limit))).changes,
  };
}
