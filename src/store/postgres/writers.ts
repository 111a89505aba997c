import type { Job } from '../../model/types.ts';
import type { NewJob } from '../contract.ts';
import { type JobParent, jobCreatedEvent, type NewEvent } from '../records.ts';
import { jobColumns } from './columns.ts';
import { type Commit, named, type Sql } from './db.ts';

/**
 * Appends events to the history in one statement; callers run it inside the
 * transaction of the change they record. Returns their ids, in order.
 * `change`, a data-modifying statement whose parameters start at $2, runs
 * in the same statement: one round trip for a change and its record.
 */
export async function writeEvents(
  sql: Sql,
  events: readonly NewEvent[],
  change?: { name: string; sql: string; params: unknown[] },
): Promise<number[]> {
  if (events.length === 0) return [];
  const rows = events.map((e) => ({
    at: e.at,
    entity: e.entity,
    entity_id: e.entityId,
    campaign: e.campaign,
    task: e.task,
    instance_id: e.instanceId,
    from_state: e.from,
    to_state: e.to,
    reason: e.reason,
    actor: e.by,
    config_hash: e.configHash,
    data: e.data,
  }));
  const res = await sql.query<{ id: number }>(
    named(
      change === undefined ? 'events' : `events_${change.name}`,
      `${change === undefined ? '' : `WITH change AS (${change.sql}) `}INSERT INTO events (at, entity, entity_id, campaign, task, instance_id, from_state, to_state, reason, actor, config_hash, data)
     SELECT at, entity, entity_id, campaign, task, instance_id, from_state, to_state, reason, actor, config_hash, data
     FROM jsonb_to_recordset($1::jsonb) AS x(at bigint, entity text, entity_id text, campaign text,
       task text, instance_id bigint, from_state text, to_state text, reason text, actor text, config_hash text, data jsonb)
     RETURNING id`,
      [JSON.stringify(rows), ...(change?.params ?? [])],
    ),
  );
  return res.rows.map((r) => r.id).sort((a, b) => a - b);
}

/**
 * Creates idle, unclaimed jobs and their creation events, inside the
 * transaction that decides they exist (instance start, retry). With
 * `commit`, the events' statement is the transaction's last: COMMIT goes
 * with it.
 */
export async function writeJobs(
  sql: Sql,
  parent: JobParent,
  jobs: readonly NewJob[],
  by: string,
  at: number,
  opts: { data?: Record<string, unknown>; commit?: Commit } = {},
): Promise<Job[]> {
  if (jobs.length === 0) return [];
  const res = await sql.query<Job>(
    named(
      'jobs',
      `INSERT INTO jobs AS j (instance_id, campaign, task, job_index, attempt, instance_attempt, executor, status, not_before, input, created_at)
     SELECT $1, $2, $3, x.job_index, x.attempt, $4, x.executor, 'idle', x.not_before, x.input, $5
     FROM jsonb_to_recordset($6::jsonb) AS x(job_index integer, attempt integer, executor text,
       not_before bigint, input text)
     RETURNING ${jobColumns('j')}`,
      [
        parent.instanceId,
        parent.campaign,
        parent.task,
        parent.instanceAttempt,
        at,
        JSON.stringify(
          jobs.map((j) => ({
            job_index: j.index,
            attempt: j.attempt,
            executor: j.executor,
            not_before: j.notBefore,
            input: j.input,
          })),
        ),
      ],
    ),
  );
  const created = res.rows.sort((a, b) => a.id - b.id);
  const events = writeEvents(
    sql,
    created.map((job) => jobCreatedEvent(parent, job, by, at, opts.data ?? {})),
  );
  await (opts.commit === undefined ? events : opts.commit(events));
  return created;
}
