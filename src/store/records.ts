import { AttemptEndedError, CampaignStateError, InvalidInputError } from '../errors.ts';
import type { Campaign } from '../model/campaign.ts';
import type { EventRecord, Instance, InstanceStatus, Job, JobStatus } from '../model/types.ts';
import type { InstanceChange, InstanceStart, JobChange } from './contract.ts';

/**
 * What every backend records for each change, so that the history reads the
 * same whichever store wrote it. Backends only decide how to store them.
 */

export type NewEvent = Omit<EventRecord, 'id'>;

/**
 * The instance after `c`, or null when nothing changes (`waiting → waiting`
 * with the same reason). A reprocess (`→ new`) starts a new attempt, whose
 * configuration is not known yet.
 */
export function instanceAfter(before: Instance, c: InstanceChange): Instance | null {
  if (c.from === 'waiting' && c.to === 'waiting' && before.reason === c.reason) return null;
  const reprocess = c.to === 'new';
  return {
    ...before,
    status: c.to,
    reason: c.reason,
    attempt: reprocess ? before.attempt + 1 : before.attempt,
    configHash: reprocess ? null : before.configHash,
    updatedAt: c.at,
  };
}

/** The instance once started with the configuration `s` names. */
export function instanceStarted(before: Instance, s: InstanceStart): Instance {
  return {
    ...before,
    status: 'processing',
    reason: s.reason,
    configHash: s.configHash,
    updatedAt: s.at,
  };
}

/** The job after `c`: it started when it turned running, ended when it turned done or failed. */
export function jobAfter(before: Job, c: JobChange): Job {
  const ended = c.to === 'done' || c.to === 'failed';
  return {
    ...before,
    status: c.to,
    reason: c.reason,
    exitCode: c.exitCode === undefined ? before.exitCode : c.exitCode,
    startedAt: c.to === 'running' ? c.at : before.startedAt,
    endedAt: ended ? c.at : before.endedAt,
    queueState: null,
    queueSince: null,
  };
}

/** The instance a new job belongs to, as recorded on the job and its event. */
export interface JobParent {
  instanceId: number;
  campaign: string;
  task: string;
  instanceAttempt: number;
  configHash: string | null;
}

/** A run added (`changes` null) or changed (its fields as `[old, new]`). */
export function runEvent(
  run: number,
  changes: Record<string, [unknown, unknown]> | null,
  by: string,
  at: number,
): NewEvent {
  return {
    at,
    entity: 'run',
    entityId: String(run),
    campaign: null,
    task: null,
    instanceId: null,
    from: null,
    to: changes === null ? 'added' : 'changed',
    reason: null,
    by,
    configHash: null,
    data: changes,
  };
}

/** An instance as it is after a change from `from` (null: created). */
export function instanceEvent(
  i: Instance,
  from: InstanceStatus | null,
  by: string,
  data: NewEvent['data'],
): NewEvent {
  return {
    at: i.updatedAt,
    entity: 'instance',
    entityId: String(i.id),
    campaign: i.campaign,
    task: i.task,
    instanceId: i.id,
    from,
    to: i.status,
    reason: i.reason,
    by,
    configHash: i.configHash,
    data,
  };
}

/** A job created idle (`data` says why: a retry names the attempt it follows). */
export function jobCreatedEvent(
  parent: JobParent,
  job: Pick<Job, 'id' | 'index' | 'attempt'>,
  by: string,
  at: number,
  data: Record<string, unknown>,
): NewEvent {
  return {
    at,
    entity: 'job',
    entityId: String(job.id),
    campaign: parent.campaign,
    task: parent.task,
    instanceId: parent.instanceId,
    from: null,
    to: 'idle',
    reason: null,
    by,
    configHash: parent.configHash,
    data: { index: job.index, attempt: job.attempt, ...data },
  };
}

/** A job's state change, `job` as it is after it. */
export function jobChangedEvent(job: Job, c: JobChange, configHash: string | null): NewEvent {
  return {
    at: c.at,
    entity: 'job',
    entityId: String(job.id),
    campaign: job.campaign,
    task: job.task,
    instanceId: job.instanceId,
    from: c.from,
    to: c.to,
    reason: c.reason,
    by: c.by,
    configHash,
    data: { index: job.index, attempt: job.attempt, exitCode: job.exitCode },
  };
}

export function campaignEvent(c: Campaign): NewEvent {
  return {
    at: c.createdAt,
    entity: 'campaign',
    entityId: c.name,
    campaign: c.name,
    task: null,
    instanceId: null,
    from: null,
    to: 'created',
    reason: null,
    by: c.createdBy,
    configHash: null,
    data: {
      runs: c.runs.length,
      selection: c.selection,
      tasks: c.tasks,
      overrides: c.overrides,
      share: c.share,
    },
  };
}

/** Reported field values: finite numbers or strings, the two kinds a sample stores. */
export function checkFields(fields: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(fields)) {
    const ok = typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) throw new InvalidInputError(`fields.${key}`, 'must be a finite number or a string');
  }
}

/** Why a report for `attempt` of job `id` may no longer write (`recordJobData`'s `attempt`), given the job as it is. */
export function attemptEnded(
  id: number,
  attempt: number,
  job: { status: JobStatus; attempt: number },
): AttemptEndedError {
  return new AttemptEndedError(
    id,
    attempt,
    job.attempt === attempt ? job.status : 'superseded',
    job.attempt,
  );
}

/** Whether a report for `attempt` may still write to the job: the same attempt, queued or running. */
export function attemptOpen(attempt: number, job: { status: JobStatus; attempt: number }): boolean {
  return job.attempt === attempt && (job.status === 'idle' || job.status === 'running');
}

/** An alert (or its end) about a whole source, executor or export: no campaign, task or instance. */
export function healthEvent(
  entity: 'source' | 'executor' | 'export',
  name: string,
  reason: string,
  by: string,
  at: number,
  data: Record<string, unknown>,
): NewEvent {
  return {
    at,
    entity,
    entityId: name,
    campaign: null,
    task: null,
    instanceId: null,
    from: null,
    to: null,
    reason,
    by,
    configHash: null,
    data,
  };
}

/** A campaign cancelled, extended or deleted after its creation. */
export function campaignChangedEvent(
  name: string,
  to: 'cancelled' | 'extended' | 'deleted',
  change: { by: string; at: number; reason?: string | null },
  data: Record<string, unknown> | null,
): NewEvent {
  return {
    at: change.at,
    entity: 'campaign',
    entityId: name,
    campaign: name,
    task: null,
    instanceId: null,
    from: null,
    to,
    reason: change.reason ?? null,
    by: change.by,
    configHash: null,
    data,
  };
}

/** Why a campaign cannot be deleted yet, or null when it has settled (see `StateStore.deleteCampaign`). */
export function unsettledProblem(
  state: string,
  counts: { instances: Record<string, number>; jobs: Record<string, number> },
  name: string,
): string | null {
  const active = (counts.jobs.idle ?? 0) + (counts.jobs.running ?? 0);
  const processing = counts.instances.processing ?? 0;
  const open = (counts.instances.new ?? 0) + (counts.instances.waiting ?? 0);
  const cancel = `\`autoctrl campaign cancel ${name}\``;
  if (active > 0 || processing > 0)
    return `${active} job(s) queued or running and ${processing} instance(s) processing: ${state === 'cancelled' ? 'wait until its jobs have stopped' : `cancel it first (${cancel}) and wait until its jobs have stopped`}, then delete it`;
  if (state !== 'cancelled' && open > 0)
    return `${open} instance(s) not started yet: cancel it first (${cancel}), then delete it`;
  return null;
}

/** The runs `extendCampaign` adds to `c` (new ones, ascending); refuses a campaign no longer active. */
export function runsToAdd(c: Campaign, runs: readonly number[]): number[] {
  if (c.state !== 'active')
    throw new CampaignStateError(
      c.name,
      c.state ?? 'active',
      'create a new campaign for more runs',
    );
  const have = new Set(c.runs);
  return [...new Set(runs)].filter((r) => !have.has(r)).sort((a, b) => a - b);
}
