import type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  JobStatus,
  Meta,
  Output,
  QueueState,
  Run,
} from '../../model/types.ts';

/** Rows as SQLite returns them, and their mapping to model objects. */

export const RUN_COLUMNS = 'run, fill, start_at, end_at, lumi, type, meta, seq';

export interface RunRow {
  run: number;
  fill: number | null;
  start_at: number | null;
  end_at: number | null;
  lumi: number | null;
  type: string | null;
  meta: string;
  seq: number;
}

export function toRun(r: RunRow): Run {
  return {
    run: r.run,
    fill: r.fill,
    start: r.start_at,
    end: r.end_at,
    lumi: r.lumi,
    type: r.type,
    meta: JSON.parse(r.meta) as Meta,
    seq: r.seq,
  };
}

export const INSTANCE_COLUMNS =
  'i.id, i.campaign, i.task, i.group_key, i.runs, i.status, i.reason, i.attempt, i.config_hash, i.created_at, i.updated_at';

export interface InstanceRow {
  id: number;
  campaign: string;
  task: string;
  group_key: string;
  runs: string;
  status: InstanceStatus;
  reason: string | null;
  attempt: number;
  config_hash: string | null;
  created_at: number;
  updated_at: number;
}

export function toInstance(r: InstanceRow): Instance {
  return {
    id: r.id,
    campaign: r.campaign,
    task: r.task,
    groupKey: r.group_key,
    runs: JSON.parse(r.runs) as number[],
    status: r.status,
    reason: r.reason,
    attempt: r.attempt,
    configHash: r.config_hash,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export const JOB_COLUMNS =
  'id, instance_id, campaign, task, job_index, attempt, instance_attempt, status, executor, executor_id, claimed_by, claimed_at, claim_expires_at, not_before, queue_state, queue_since, input, log_path, exit_code, reason, fields, created_at, submitted_at, started_at, ended_at';

export interface JobRow {
  id: number;
  instance_id: number;
  campaign: string;
  task: string;
  job_index: number;
  attempt: number;
  instance_attempt: number;
  status: JobStatus;
  executor: string;
  executor_id: string | null;
  claimed_by: string | null;
  claimed_at: number | null;
  claim_expires_at: number | null;
  not_before: number | null;
  queue_state: QueueState | null;
  queue_since: number | null;
  input: string | null;
  log_path: string | null;
  exit_code: number | null;
  reason: string | null;
  fields: string;
  created_at: number;
  submitted_at: number | null;
  started_at: number | null;
  ended_at: number | null;
}

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    instanceId: r.instance_id,
    campaign: r.campaign,
    task: r.task,
    index: r.job_index,
    attempt: r.attempt,
    instanceAttempt: r.instance_attempt,
    status: r.status,
    executor: r.executor,
    executorId: r.executor_id,
    claimedBy: r.claimed_by,
    claimedAt: r.claimed_at,
    claimExpiresAt: r.claim_expires_at,
    notBefore: r.not_before,
    queueState: r.queue_state,
    queueSince: r.queue_since,
    input: r.input,
    logPath: r.log_path,
    exitCode: r.exit_code,
    reason: r.reason,
    fields: JSON.parse(r.fields) as Record<string, number | string>,
    createdAt: r.created_at,
    submittedAt: r.submitted_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  };
}

/** Outputs take campaign, task and runs from their instance. */
export const OUTPUT_SELECT = `SELECT o.id, o.job_id, o.instance_id, i.campaign, i.task, i.runs, o.path, o.kind, o.meta, o.created_at
  FROM outputs o JOIN instances i ON i.id = o.instance_id`;

export interface OutputRow {
  id: number;
  job_id: number;
  instance_id: number;
  campaign: string;
  task: string;
  runs: string;
  path: string;
  kind: string | null;
  meta: string;
  created_at: number;
}

export function toOutput(r: OutputRow): Output {
  return {
    id: r.id,
    jobId: r.job_id,
    instanceId: r.instance_id,
    campaign: r.campaign,
    task: r.task,
    runs: JSON.parse(r.runs) as number[],
    path: r.path,
    kind: r.kind,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

export const EVENT_COLUMNS =
  'id, at, entity, entity_id, campaign, task, instance_id, from_state, to_state, reason, actor, config_hash, data';

export interface EventRow {
  id: number;
  at: number;
  entity: EventRecord['entity'];
  entity_id: string;
  campaign: string | null;
  task: string | null;
  instance_id: number | null;
  from_state: string | null;
  to_state: string | null;
  reason: string | null;
  actor: string;
  config_hash: string | null;
  data: string | null;
}

export function toEvent(r: EventRow): EventRecord {
  return {
    id: r.id,
    at: r.at,
    entity: r.entity,
    entityId: r.entity_id,
    campaign: r.campaign,
    task: r.task,
    instanceId: r.instance_id,
    from: r.from_state,
    to: r.to_state,
    reason: r.reason,
    by: r.actor,
    configHash: r.config_hash,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
  };
}
