import { ClaimLostError, InvalidInputError, NotFoundError, StaleStateError } from '../../errors.ts';
import { assertJobTransition } from '../../model/transitions.ts';
import type { Job, JobStatus, QueueState } from '../../model/types.ts';
import type { Claim, Fence, JobChange, JobHead, StateStore } from '../contract.ts';
import { attemptEnded, attemptOpen, checkFields, jobAfter, jobChangedEvent } from '../records.ts';
import type { Coordination } from './coordination.ts';
import { JOB_COLUMNS, type JobRow, toJob } from './rows.ts';
import { type Db, jsonList, type NewEvent } from './shared.ts';
import type { jobWriter } from './writers.ts';

const ACTIVE = "status IN ('idle', 'running')";

type Submitted = Parameters<StateStore['setJobSubmitted']>[1];

/** What a job reports besides its status. */
export type JobData = Parameters<StateStore['recordJobData']>[1];

export interface JobCount {
  executor: string;
  campaign: string;
  status: JobStatus;
  claimed: boolean;
  count: number;
}

/** Jobs: claiming, state changes, reported fields and outputs. */
export function jobOps(
  db: Db,
  writeEvent: (e: NewEvent) => number,
  writeJob: ReturnType<typeof jobWriter>,
  nextPos: () => number,
  coord: Coordination,
  clock: () => number,
) {
  const byId = db.prepare<[number], JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`);
  const ofInstance = db.prepare<[number], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE instance_id = ? ORDER BY id`,
  );
  const ofInstances = db.prepare<[string], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE instance_id IN (SELECT value FROM json_each(?)) ORDER BY id`,
  );
  // The literal ACTIVE condition is what lets SQLite use the partial index.
  const active = db.prepare<[], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${ACTIVE} ORDER BY id`,
  );
  const activeOn = db.prepare<[string], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${ACTIVE} AND executor = ? ORDER BY id`,
  );
  const byIds = db.prepare<[string], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
  );
  // Here and for retries: the planner, without statistics, prefers jobs_active, which reads every idle job.
  const inFlight = db.prepare<[], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_in_flight
     WHERE ${ACTIVE} AND claimed_by IS NOT NULL ORDER BY id`,
  );
  const ready = db.prepare<[string, string, number, number], JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs
     WHERE ${ACTIVE} AND status = 'idle' AND executor = ? AND campaign = ? AND claimed_by IS NULL
       AND (not_before IS NULL OR not_before <= ?)
     ORDER BY id LIMIT ?`,
  );
  const retryAt = db
    .prepare<[number], number | null>(
      `SELECT MIN(not_before) FROM jobs INDEXED BY jobs_retry
       WHERE ${ACTIVE} AND status = 'idle' AND claimed_by IS NULL AND not_before > ?`,
    )
    .pluck();
  const counts = db.prepare<[], Omit<JobCount, 'claimed'> & { claimed: 0 | 1 }>(
    `SELECT executor, campaign, status, claimed_by IS NOT NULL AS claimed, COUNT(*) AS count
     FROM jobs WHERE ${ACTIVE} GROUP BY executor, campaign, status, claimed`,
  );
  const claim = db.prepare<[string, number, number, number]>(
    `UPDATE jobs SET claimed_by = ?, claimed_at = ?, claim_expires_at = ?
     WHERE id = ? AND status = 'idle' AND claimed_by IS NULL`,
  );
  const submitted = db.prepare<[string | null, string | null, number, number, string]>(
    'UPDATE jobs SET executor_id = ?, log_path = ?, submitted_at = ? WHERE id = ? AND claimed_by = ?',
  );
  const claimedBy = db
    .prepare<[number], string | null>('SELECT claimed_by FROM jobs WHERE id = ?')
    .pluck();
  const unclaim = db.prepare<[number, string]>(
    `UPDATE jobs SET claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL
     WHERE id = ? AND claimed_by = ? AND executor_id IS NULL AND status = 'idle'`,
  );
  const update = db.prepare<
    [JobStatus, string | null, number | null, number | null, number | null, number, JobStatus]
  >(
    `UPDATE jobs SET status = ?, reason = ?, exit_code = ?, started_at = ?, ended_at = ?,
       queue_state = NULL, queue_since = NULL
     WHERE id = ? AND status = ?`,
  );
  const queue = db.prepare<{
    id: number;
    owner: string;
    state: QueueState | null;
    reason: string | null;
    at: number;
  }>(
    `UPDATE jobs SET queue_state = :state, reason = :reason,
       queue_since = CASE WHEN queue_state IS :state THEN queue_since WHEN :state IS NULL THEN NULL ELSE :at END
     WHERE id = :id AND claimed_by = :owner AND status IN ('idle', 'running')
       AND (queue_state IS NOT :state OR reason IS NOT :reason)`,
  );
  const configHash = db
    .prepare<[number], string | null>('SELECT config_hash FROM instances WHERE id = ?')
    .pluck();
  const setFields = db.prepare<[string, number]>('UPDATE jobs SET fields = ? WHERE id = ?');
  const sample = db.prepare<[number, number, string, number | null, string | null, number]>(
    'INSERT INTO job_samples (pos, job_id, key, num, text, at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const addOutput = db.prepare<[number, number, string, string | null, string, number]>(
    'INSERT INTO outputs (job_id, instance_id, path, kind, meta, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );

  const claimMany = db.transaction((ids: readonly number[], c: Claim, fence?: Fence) => {
    coord.checkFence(fence);
    const at = clock();
    return [...new Set(ids)].filter((id) => claim.run(c.owner, at, at + c.ttlMs, id).changes === 1);
  });
  const release = db.transaction((jobs: readonly { id: number; owner: string }[]) =>
    jobs.filter((j) => unclaim.run(j.id, j.owner).changes === 1).map((j) => j.id),
  );

  const transition = db.transaction((id: number, c: JobChange) => {
    const row = byId.get(id);
    if (row === undefined) throw new NotFoundError('job', id);
    if (row.status !== c.from) throw new StaleStateError('job', id, c.from, row.status);
    const job = jobAfter(toJob(row), c);
    update.run(job.status, job.reason, job.exitCode, job.startedAt, job.endedAt, id, c.from);
    const parent = {
      instanceId: job.instanceId,
      campaign: job.campaign,
      task: job.task,
      instanceAttempt: job.instanceAttempt,
      configHash: configHash.get(job.instanceId) ?? null,
    };
    writeEvent(jobChangedEvent(job, c, parent.configHash));
    // The next attempt runs where the failed one did, whatever executor the caller names.
    const retry =
      c.retry === undefined
        ? null
        : writeJob(parent, { ...c.retry, executor: job.executor }, c.by, c.at, { retryOf: id });
    return { job, retry };
  });

  const submit = db.transaction((id: number, s: Submitted) => {
    if (submitted.run(s.executorId, s.logPath, clock(), id, s.owner).changes !== 1) {
      const holder = claimedBy.get(id);
      if (holder === undefined) throw new NotFoundError('job', id);
      throw new ClaimLostError(id, s.owner, holder);
    }
    if (s.running === undefined || byId.get(id)?.status !== 'idle') return;
    transition(id, {
      from: 'idle',
      to: 'running',
      reason: null,
      by: s.running.by,
      at: s.running.at,
    });
  });

  // The few columns a report needs: building a whole Job per progress report is the hot path's biggest cost.
  const headOf = db.prepare<
    [number],
    { id: number; status: JobStatus; attempt: number; instance_id: number; fields: string }
  >('SELECT id, status, attempt, instance_id, fields FROM jobs WHERE id = ?');
  const record = db.transaction((id: number, data: JobData): JobHead => {
    const row = headOf.get(id);
    if (row === undefined) throw new NotFoundError('job', id);
    if (data.attempt !== undefined && !attemptOpen(data.attempt, row))
      throw attemptEnded(id, data.attempt, row);
    const fields = data.fields ?? {};
    if (Object.keys(fields).length > 0) {
      setFields.run(JSON.stringify({ ...(JSON.parse(row.fields) as object), ...fields }), id);
      for (const [key, value] of Object.entries(fields)) {
        if (typeof value === 'number') sample.run(nextPos(), id, key, value, null, data.at);
        else sample.run(nextPos(), id, key, null, value, data.at);
      }
    }
    for (const o of data.outputs ?? []) {
      addOutput.run(
        id,
        row.instance_id,
        o.path,
        o.kind ?? null,
        JSON.stringify(o.meta ?? {}),
        data.at,
      );
    }
    return { id: row.id, status: row.status, attempt: row.attempt };
  });

  return {
    getJob: (id: number): Job | null => {
      const row = byId.get(id);
      return row === undefined ? null : toJob(row);
    },
    jobsForInstance: (instanceId: number): Job[] => ofInstance.all(instanceId).map(toJob),
    jobsForInstances: (ids: readonly number[]): Job[] => ofInstances.all(jsonList(ids)).map(toJob),
    activeJobs: (executor?: string): Job[] =>
      (executor === undefined ? active.all() : activeOn.all(executor)).map(toJob),
    getJobs: (ids: readonly number[]): Job[] => byIds.all(jsonList(ids)).map(toJob),
    jobsInFlight: (): Job[] => inFlight.all().map(toJob),
    readyJobs: (q: { executor: string; campaign: string; now: number; limit: number }): Job[] =>
      ready.all(q.executor, q.campaign, q.now, Math.max(0, Math.floor(q.limit))).map(toJob),
    nextJobRetry: (now: number): number | null => retryAt.get(now) ?? null,
    activeJobCounts: (): JobCount[] =>
      counts.all().map((r) => ({ ...r, claimed: r.claimed === 1 })),
    claimJobs: (ids: readonly number[], c: Claim, fence?: Fence): number[] =>
      claimMany.immediate(ids, c, fence),
    releaseClaims: (jobs: readonly { id: number; owner: string }[]): number[] =>
      release.immediate(jobs),
    setJobSubmitted: (id: number, s: Submitted): void => submit.immediate(id, s),
    setJobQueueState: (
      id: number,
      q: { owner: string; state: QueueState | null; reason: string | null },
    ): boolean =>
      queue.run({ id, owner: q.owner, state: q.state, reason: q.reason, at: clock() }).changes ===
      1,
    transitionJob: (id: number, c: JobChange) => {
      assertJobTransition(id, c.from, c.to);
      if (c.retry !== undefined && c.to !== 'failed') {
        throw new InvalidInputError(
          'retry',
          `job ${id}: a retry is created only when the job fails, not on ${c.to}`,
        );
      }
      return transition.immediate(id, c);
    },
    recordJobData: (id: number, data: JobData): JobHead => {
      checkFields(data.fields ?? {});
      return record.immediate(id, data);
    },
  };
}
