import type { Job, Run, RunStatus } from '../../model/types.ts';
import type {
  OverviewQuery,
  OverviewRun,
  RunExpectation,
  SettledCount,
  SettledQuery,
  TaskJob,
  TaskJobsQuery,
} from '../overview-contract.ts';
import { jobColumns, runColumns } from './columns.ts';
import type { Db } from './db.ts';

/** `%text%` for LIKE, with the pattern characters of `text` matched literally. */
const contains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The overview grid's queries and the page's plots. The planner picks the
 * driving index (run_status by status, memberships by task status, runs by
 * fill, the trigram index for text); a NULL parameter switches its condition off.
 */
export function overviewOps(db: Db) {
  return {
    overviewRuns: async (q: OverviewQuery): Promise<OverviewRun[]> => {
      // Run numbers have no leading zeros: "05" matches nothing, "0" only run 0, as for SQLite.
      if (q.runPrefix !== undefined && !/^\d+$/.test(q.runPrefix)) return [];
      let lo = q.from ?? Number.MIN_SAFE_INTEGER;
      let hi = q.to ?? Number.MAX_SAFE_INTEGER;
      if (q.after !== undefined) {
        if (q.order === 'asc') lo = Math.max(lo, q.after + 1);
        else hi = Math.min(hi, q.after - 1);
      }
      const rows = await db.query<Run & { runStatus: RunStatus }>(
        'overviewRuns',
        `SELECT ${runColumns('r')}, s.status AS "runStatus"
         FROM run_status s JOIN runs r ON r.run = s.run
         WHERE s.campaign = $1 AND s.run >= $2 AND s.run <= $3
           AND ($4::text IS NULL OR s.status = $4)
           AND ($5::bigint IS NULL OR r.fill = $5)
           AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM memberships t
             WHERE t.campaign = s.campaign AND t.task = $6 AND t.run = s.run AND t.status = $7))
           AND ($8::text IS NULL OR s.run::text LIKE $8)
           AND ($9::text IS NULL OR r.search ILIKE $9)
         ORDER BY s.run ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $10`,
        [
          q.campaign,
          lo,
          hi,
          q.status ?? null,
          q.fill ?? null,
          q.task?.name ?? null,
          q.task?.status ?? null,
          q.runPrefix === undefined ? null : `${q.runPrefix}%`,
          q.text === undefined ? null : contains(q.text),
          q.limit,
        ],
      );
      return rows.map(({ runStatus, ...run }) => ({ run, status: runStatus }));
    },
    runsWithoutExpectation: async (limit: number): Promise<Array<{ campaign: string; run: Run }>> =>
      (
        await db.prepared<Run & { campaignName: string }>(
          'runsWithoutExpectation',
          `SELECT s.campaign AS "campaignName", ${runColumns('r')}
           FROM run_status s JOIN runs r ON r.run = s.run
           WHERE s.expected IS NULL ORDER BY s.campaign, s.run LIMIT $1`,
          [limit],
        )
      ).map(({ campaignName, ...run }) => ({ campaign: campaignName, run })),
    setRunExpectations: async (list: readonly RunExpectation[]): Promise<void> => {
      if (list.length === 0) return;
      await db.query(
        'setRunExpectations',
        `UPDATE run_status s SET expected = x.expected
         FROM jsonb_to_recordset($1::jsonb) AS x(campaign text, run bigint, seq bigint, expected integer), runs r
         WHERE s.campaign = x.campaign AND s.run = x.run AND s.expected IS NULL AND r.run = x.run AND r.pos = x.seq`,
        [JSON.stringify(list)],
      );
    },
    resetRunExpectations: async (): Promise<void> => {
      await db.query(
        'resetRunExpectations',
        'UPDATE run_status SET expected = NULL WHERE expected IS NOT NULL',
      );
    },
    taskJobs: async (q: TaskJobsQuery): Promise<TaskJob[]> =>
      (
        await db.query<Job & { firstRun: number }>(
          'taskJobs',
          `SELECT i.first_run AS "firstRun", ${jobColumns('j')}
           FROM instances i JOIN jobs j ON j.instance_id = i.id AND j.instance_attempt = i.attempt
           WHERE i.id IN (SELECT m.instance_id FROM memberships m
             WHERE m.campaign = $1 AND m.task = $2 AND m.run >= $3 AND m.run <= $4 ORDER BY m.run DESC LIMIT $5)
           ORDER BY i.first_run DESC, j.job_index, j.attempt`,
          [
            q.campaign,
            q.task,
            q.from ?? Number.MIN_SAFE_INTEGER,
            q.to ?? Number.MAX_SAFE_INTEGER,
            q.limit,
          ],
        )
      ).map(({ firstRun, ...job }) => ({ run: firstRun, job })),
    settledCounts: (q: SettledQuery): Promise<SettledCount[]> =>
      db.query<SettledCount>(
        'settledCounts',
        `SELECT $1::bigint + (at - $1::bigint) / $2::bigint * $2::bigint AS bucket, task, to_state AS status,
           count(*) AS count
         FROM events
         WHERE entity = 'instance' AND to_state IN ('done', 'failed') AND campaign = $3 AND at >= $1 AND at < $4
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        [q.since, q.bucketMs, q.campaign, q.until],
      ),
  };
}
