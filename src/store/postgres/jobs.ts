import {
  ClaimLostError,
  FencedError,
  InvalidInputError,
  NotFoundError,
  StaleStateError,
} from '../../errors.ts';
import { assertJobTransition } from '../../model/transitions.ts';
import type { Job, QueueState } from '../../model/types.ts';
import type { Claim, Fence, JobChange, JobHead, StateStore } from '../contract.ts';
import { attemptEnded, checkFields, jobAfter, jobChangedEvent } from '../records.ts';
import { jobColumns } from './columns.ts';
import { type Commit, type Db, named, type Sql } from './db.ts';
import { writeEvents, writeJobs } from './writers.ts';

const JOBS = `SELECT ${jobColumns('j')} FROM jobs j`;
// The literal condition is what lets the planner use the partial index.
const ACTIVE = "j.status IN ('idle', 'running')";

type JobData = Parameters<StateStore['recordJobData']>[1];
type JobCount = Awaited<ReturnType<StateStore['activeJobCounts']>>[number];
type Submitted = Parameters<StateStore['setJobSubmitted']>[1];

/** Jobs: claiming, state changes, reported fields and outputs. */
export function jobOps(db: Db) {
  return {
    getJob: async (id: number): Promise<Job | null> =>
      (await db.query<Job>('getJob', `${JOBS} WHERE j.id = $1`, [id]))[0] ?? null,
    jobsForInstance: (instanceId: number): Promise<Job[]> =>
      db.prepared<Job>('jobsForInstance', `${JOBS} WHERE j.instance_id = $1 ORDER BY j.id`, [
        instanceId,
      ]),
    jobsForInstances: (ids: readonly number[]): Promise<Job[]> =>
      db.prepared<Job>('jobsForInstances', `${JOBS} WHERE j.instance_id = ANY($1) ORDER BY j.id`, [
        ids,
      ]),
    activeJobs: (executor?: string): Promise<Job[]> =>
      db.prepared<Job>(
        'activeJobs',
        `${JOBS} WHERE ${ACTIVE} AND ($1::text IS NULL OR j.executor = $1) ORDER BY j.id`,
        [executor ?? null],
      ),
    getJobs: (ids: readonly number[]): Promise<Job[]> =>
      db.query<Job>('getJobs', `${JOBS} WHERE j.id = ANY($1) ORDER BY j.id`, [[...ids]]),
    jobsInFlight: (): Promise<Job[]> =>
      db.query<Job>(
        'jobsInFlight',
        `${JOBS} WHERE ${ACTIVE} AND j.claimed_by IS NOT NULL ORDER BY j.id`,
      ),
    readyJobs: (q: { executor: string; campaign: string; now: number; limit: number }) =>
      db.query<Job>(
        'readyJobs',
        `${JOBS} WHERE j.status = 'idle' AND j.executor = $1 AND j.campaign = $2 AND j.claimed_by IS NULL
           AND (j.not_before IS NULL OR j.not_before <= $3)
         ORDER BY j.id LIMIT $4`,
        [q.executor, q.campaign, q.now, Math.max(0, Math.floor(q.limit))],
      ),
    nextJobRetry: async (now: number): Promise<number | null> => {
      const [row] = await db.query<{ at: string | number | null }>(
        'nextJobRetry',
        `SELECT min(j.not_before) AS at FROM jobs j
         WHERE j.status = 'idle' AND j.claimed_by IS NULL AND j.not_before > $1`,
        [now],
      );
      return row?.at === null || row?.at === undefined ? null : Number(row.at);
    },
    activeJobCounts: (): Promise<JobCount[]> =>
      db.query<JobCount>(
        'activeJobCounts',
        `SELECT j.executor, j.campaign, j.status, j.claimed_by IS NOT NULL AS claimed, count(*) AS count
         FROM jobs j WHERE ${ACTIVE} GROUP BY 1, 2, 3, 4`,
      ),
    /**
     * Locked rows another claimer holds are skipped: it is claiming them. One
     * statement, fenced or not: the lease row is share-locked until it ends,
     * and a stale epoch claims nothing.
     */
    claimJobs: async (ids: readonly number[], c: Claim, fence?: Fence): Promise<number[]> => {
      const rows = await db.auto('claimJobs', async (sql) => {
        const res = await sql.query<{ epoch: number | null; id: number | null }>({
          name: 'autoctrl_claimJobs',
          text: `WITH f AS MATERIALIZED (SELECT epoch FROM leases WHERE name = $4 FOR SHARE),
           u AS (UPDATE jobs SET claimed_by = $2, claimed_at = now_ms(), claim_expires_at = now_ms() + $3
                 WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1) AND status = 'idle' AND claimed_by IS NULL
                              FOR UPDATE SKIP LOCKED)
                   AND (SELECT epoch FROM f) IS NOT DISTINCT FROM $5::bigint
                 RETURNING id)
           SELECT (SELECT epoch FROM f) AS epoch, u.id FROM (SELECT) AS one LEFT JOIN u ON true`,
          values: [[...new Set(ids)], c.owner, c.ttlMs, fence?.lease ?? null, fence?.epoch ?? null],
        });
        return res.rows;
      });
      if (fence !== undefined) {
        const current = rows[0]?.epoch ?? null;
        if (current !== fence.epoch) throw new FencedError(fence.lease, fence.epoch, current);
      }
      return rows
        .map((r) => r.id)
        .filter((id): id is number => id !== null)
        .sort((a, b) => a - b);
    },
    setJobSubmitted: (id: number, s: Submitted): Promise<void> => {
      const { running } = s;
      if (running === undefined) return db.auto('setJobSubmitted', (sql) => submitted(sql, id, s));
      return db.tx('setJobSubmitted', async (sql, commit) => {
        await submitted(sql, id, s);
        try {
          await transitionIn(
            sql,
            id,
            { from: 'idle', to: 'running', reason: null, ...running },
            commit,
          );
        } catch (err) {
          // It moved on already (a report of its end came first): nothing to mark.
          if (!(err instanceof StaleStateError)) throw err;
        }
      });
    },
    setJobQueueState: async (
      id: number,
      q: { owner: string; state: QueueState | null; reason: string | null },
    ): Promise<boolean> => {
      const res = await db.auto('setJobQueueState', (sql) =>
        sql.query(
          `UPDATE jobs SET queue_state = $3, reason = $4,
             queue_since = CASE WHEN queue_state IS NOT DISTINCT FROM $3 THEN queue_since
                                WHEN $3::text IS NULL THEN NULL ELSE now_ms() END
           WHERE id = $1 AND claimed_by = $2 AND status IN ('idle', 'running')
             AND (queue_state IS DISTINCT FROM $3 OR reason IS DISTINCT FROM $4)`,
          [id, q.owner, q.state, q.reason],
        ),
      );
      return res.rowCount === 1;
    },
    releaseClaims: (jobs: readonly { id: number; owner: string }[]): Promise<number[]> =>
      db.auto('releaseClaims', async (sql) => {
        const res = await sql.query<{ id: number }>(
          `UPDATE jobs j SET claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL
           FROM unnest($1::bigint[], $2::text[]) AS r(id, owner)
           WHERE j.id = r.id AND j.claimed_by = r.owner AND j.executor_id IS NULL AND j.status = 'idle'
           RETURNING j.id`,
          [jobs.map((j) => j.id), jobs.map((j) => j.owner)],
        );
        return res.rows.map((r) => r.id).sort((a, b) => a - b);
      }),
    transitionJob: async (id: number, c: JobChange): Promise<{ job: Job; retry: Job | null }> => {
      assertJobTransition(id, c.from, c.to);
      if (c.retry !== undefined && c.to !== 'failed') {
        throw new InvalidInputError(
          'retry',
          `job ${id}: a retry is created only when the job fails, not on ${c.to}`,
        );
      }
      return db.tx('transitionJob', (sql, commit) => transitionIn(sql, id, c, commit));
    },
    /**
     * One statement, so one round trip per report: fields merged in place (concurrent
     * reports of one job each add theirs), samples in the order the job gave its
     * fields (json, not jsonb), outputs.
     */
    recordJobData: async (id: number, data: JobData): Promise<JobHead> => {
      const fields = data.fields ?? {};
      checkFields(fields);
      const outputs = (data.outputs ?? []).map((o) => ({
        path: o.path,
        kind: o.kind ?? null,
        meta: o.meta ?? {},
      }));
      const [head] = await db.query<JobHead>(
        'recordJobData',
        // The attempt's check is in the UPDATE's WHERE: re-evaluated on the locked row, so a
        // concurrent end of the job either comes first (nothing written) or waits for this.
        `WITH j AS (UPDATE jobs SET fields = fields || $2::text::jsonb
                    WHERE id = $1 AND ($5::int IS NULL OR (attempt = $5 AND status IN ('idle', 'running')))
                    RETURNING id, status, attempt, instance_id),
         s AS (INSERT INTO job_samples (job_id, key, num, text, at)
               SELECT j.id, f.k, CASE WHEN json_typeof(f.v) = 'number' THEN (f.v #>> '{}')::double precision END,
                 CASE WHEN json_typeof(f.v) = 'string' THEN f.v #>> '{}' END, $3
               FROM j, json_each($2::text::json) AS f(k, v)),
         o AS (INSERT INTO outputs (job_id, instance_id, path, kind, meta, created_at)
               SELECT j.id, j.instance_id, x.path, x.kind, coalesce(x.meta, '{}'), $3
               FROM j, jsonb_to_recordset($4::jsonb) AS x(path text, kind text, meta jsonb))
         SELECT id, status, attempt FROM j`,
        [id, JSON.stringify(fields), data.at, JSON.stringify(outputs), data.attempt ?? null],
      );
      if (head !== undefined) return head;
      const [now] = await db.query<JobHead>(
        'recordJobData',
        'SELECT id, status, attempt FROM jobs WHERE id = $1',
        [id],
      );
      if (now === undefined || data.attempt === undefined) throw new NotFoundError('job', id);
      throw attemptEnded(id, data.attempt, now);
    },
  };
}

/** Records the executor's answer for a job `owner` claims (see `setJobSubmitted`). */
async function submitted(sql: Sql, id: number, s: Submitted): Promise<void> {
  const res = await sql.query<{ updated: boolean; holder: string | null }>(
    `WITH u AS (UPDATE jobs SET executor_id = $2, log_path = $3, submitted_at = now_ms()
                WHERE id = $1 AND claimed_by = $4 RETURNING id)
     SELECT EXISTS (SELECT 1 FROM u) AS updated, j.claimed_by AS holder FROM jobs j WHERE j.id = $1`,
    [id, s.executorId, s.logPath, s.owner],
  );
  const row = res.rows[0];
  if (row === undefined) throw new NotFoundError('job', id);
  if (!row.updated) throw new ClaimLostError(id, s.owner, row.holder);
}

/**
 * A job's move from `c.from`, in the caller's transaction (see
 * `transitionJob`), which it ends with `commit` once nothing can call it
 * off any more.
 */
async function transitionIn(
  sql: Sql,
  id: number,
  c: JobChange,
  commit: Commit,
): Promise<{ job: Job; retry: Job | null }> {
  const row = (
    await sql.query<Job & { configHash: string | null }>(
      named(
        'currentJob',
        `SELECT ${jobColumns('j')}, i.config_hash AS "configHash"
         FROM jobs j JOIN instances i ON i.id = j.instance_id WHERE j.id = $1 FOR UPDATE OF j`,
        [id],
      ),
    )
  ).rows[0];
  if (row === undefined) throw new NotFoundError('job', id);
  if (row.status !== c.from) throw new StaleStateError('job', id, c.from, row.status);
  const { configHash, ...before } = row;
  const job = jobAfter(before, c);
  const changed = writeEvents(sql, [jobChangedEvent(job, c, configHash)], {
    name: 'updateJob',
    sql: `UPDATE jobs SET status = $3, reason = $4, exit_code = $5, started_at = $6, ended_at = $7,
            queue_state = NULL, queue_since = NULL WHERE id = $2`,
    params: [id, job.status, job.reason, job.exitCode, job.startedAt, job.endedAt],
  });
  if (c.retry === undefined) {
    await commit(changed);
    return { job, retry: null };
  }
  const parent = {
    instanceId: job.instanceId,
    campaign: job.campaign,
    task: job.task,
    instanceAttempt: job.instanceAttempt,
    configHash,
  };
  // The next attempt runs where the failed one did, whatever executor the caller names.
  const [, [retry]] = await Promise.all([
    changed,
    writeJobs(sql, parent, [{ ...c.retry, executor: job.executor }], c.by, c.at, {
      data: { retryOf: id },
      commit,
    }),
  ]);
  return { job, retry: retry ?? null };
}
