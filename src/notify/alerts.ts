import type { Deployment } from '../config/types.ts';
import type { EventRecord, Job } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';
import { ALERT_KINDS, type Alert, type AlertKind } from './contract.ts';

/**
 * Which alert an event is, or null for the many that are none. Cheap (no
 * store access): every event of the log goes through it.
 *
 * - an instance turning `failed`: failed for good (its jobs ran out of attempts);
 * - a job created with `retryOf`: the next attempt of a failed job;
 * - any event whose `data.alert` names a kind (`lock_timeout` from the lock
 *   checks, `source_failing`/`source_recovered` from the source polls, the
 *   watchdog's kinds from `src/watchdog/`), with `data.subject` naming what
 *   it is about when that is no task.
 */
export function alertKindOf(e: EventRecord): AlertKind | null {
  const tag = e.data?.alert;
  if (typeof tag === 'string') return isAlertKind(tag) ? tag : null;
  if (e.entity === 'instance' && e.to === 'failed') return 'instance_failed';
  if (e.entity === 'job' && e.from === null && typeof e.data?.retryOf === 'number') {
    return 'job_retried';
  }
  return null;
}

function isAlertKind(s: string): s is AlertKind {
  return (ALERT_KINDS as readonly string[]).includes(s);
}

/**
 * The alert for an event, with what a person needs to act: runs, attempt,
 * reason, links to the instance page and the job log. Reads the store, which
 * may have moved on since the event (a reprocess): the event's own fields win
 * and the jobs are chosen as they were at the event's time.
 */
export async function buildAlert(
  e: EventRecord,
  kind: AlertKind,
  ctx: { store: StateStore; deployment: Deployment; publicUrl: string },
): Promise<Alert> {
  const base = ctx.publicUrl.replace(/\/+$/, '');
  const instance = e.instanceId === null ? null : await ctx.store.getInstance(e.instanceId);
  const job = await jobOf(e, kind, ctx.store);
  const task = e.task === null ? undefined : ctx.deployment.tasks.find((t) => t.name === e.task);
  const subject =
    e.entity === 'source' || e.entity === 'executor' || e.entity === 'export'
      ? e.entityId
      : typeof e.data?.lock === 'string'
        ? e.data.lock
        : typeof e.data?.subject === 'string'
          ? e.data.subject
          : null;
  return {
    kind,
    eventId: e.id,
    at: e.at,
    environment: ctx.deployment.environment,
    campaign: e.campaign,
    task: e.task,
    runs: numbers(e.data?.runs) ?? instance?.runs ?? runOfEvent(e),
    attempt: job?.instanceAttempt ?? numbers([e.data?.attempt])?.[0] ?? instance?.attempt ?? null,
    instanceId: e.instanceId,
    jobId: job?.id ?? null,
    jobAttempt: kind === 'job_retried' ? (job?.attempt ?? null) : null,
    jobAttempts: kind === 'job_retried' && task !== undefined ? task.retries + 1 : null,
    subject,
    reason: reasonOf(e, kind, job),
    url: e.instanceId === null ? `${base}/` : `${base}/instances/${e.instanceId}`,
    logUrl: job === null ? null : `${base}/api/jobs/${job.id}/log`,
    logPath: job?.logPath ?? null,
  };
}

/** The job whose log explains the alert: the failed one. */
async function jobOf(e: EventRecord, kind: AlertKind, store: StateStore): Promise<Job | null> {
  if (kind === 'job_retried') return store.getJob(e.data?.retryOf as number);
  if (kind !== 'instance_failed' || e.instanceId === null) return null;
  const failed = (await store.jobsForInstance(e.instanceId)).filter(
    (j) => j.status === 'failed' && (j.endedAt ?? 0) <= e.at,
  );
  // The last to fail before the instance did: a later reprocess has jobs of its own.
  return failed.reduce<Job | null>((a, j) => (a === null || j.id > a.id ? j : a), null);
}

function reasonOf(e: EventRecord, kind: AlertKind, job: Job | null): string {
  if (kind === 'job_retried') {
    return job?.reason ?? (job?.exitCode != null ? `exit code ${job.exitCode}` : 'job failed');
  }
  if (e.reason !== null) return e.reason;
  if (kind === 'source_recovered') return 'polls succeed again';
  return kind === 'export_recovered' ? 'writes succeed again' : kind;
}

/** The event's own copy of a value (as it was then), if it has a well-formed one. */
function numbers(value: unknown): number[] | null {
  if (!Array.isArray(value) || !value.every((v) => Number.isSafeInteger(v))) return null;
  return value as number[];
}

function runOfEvent(e: EventRecord): number[] {
  const n = Number(e.entityId);
  return e.entity === 'run' && Number.isSafeInteger(n) ? [n] : [];
}

/** Runs as people read them: `run 5`, `runs 5, 7`, `runs 5–9`, `runs 5–20 (9 runs)`. */
export function describeRuns(runs: readonly number[], omitted = 0): string {
  const first = runs[0];
  const last = runs[runs.length - 1];
  if (first === undefined || last === undefined) return 'no runs';
  if (omitted > 0) return `runs ${first}–${last} and ${omitted} more`;
  if (runs.length === 1) return `run ${first}`;
  if (runs.length > 2 && last - first === runs.length - 1) return `runs ${first}–${last}`;
  if (runs.length <= 3) return `runs ${runs.join(', ')}`;
  return `runs ${first}–${last} (${runs.length} runs)`;
}
