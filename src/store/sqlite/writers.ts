import type { Job } from '../../model/types.ts';
import type { NewJob } from '../contract.ts';
import type { Db, NewEvent } from './shared.ts';

/** The instance a new job belongs to, as recorded on the job and its event. */
export interface JobParent {
  instanceId: number;
  campaign: string;
  task: string;
  instanceAttempt: number;
  configHash: string | null;
}

/**
 * Creates an idle, unclaimed job and its creation event. Callers run it inside
 * the transaction that decides the job exists (instance start, retry).
 */
export function jobWriter(db: Db, writeEvent: (e: NewEvent) => number) {
  const insert = db.prepare<
    [number, string, string, number, number, number, string, number | null, string | null, number]
  >(
    `INSERT INTO jobs (instance_id, campaign, task, job_index, attempt, instance_attempt, executor, status, not_before, input, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'idle', ?, ?, ?)`,
  );
  return (
    parent: JobParent,
    job: NewJob,
    by: string,
    at: number,
    data: Record<string, unknown> = {},
  ): Job => {
    const id = Number(
      insert.run(
        parent.instanceId,
        parent.campaign,
        parent.task,
        job.index,
        job.attempt,
        parent.instanceAttempt,
        job.executor,
        job.notBefore,
        job.input,
        at,
      ).lastInsertRowid,
    );
    writeEvent({
      at,
      entity: 'job',
      entityId: String(id),
      campaign: parent.campaign,
      task: parent.task,
      instanceId: parent.instanceId,
      from: null,
      to: 'idle',
      reason: null,
      by,
      configHash: parent.configHash,
      data: { index: job.index, attempt: job.attempt, ...data },
    });
    return {
      id,
      instanceId: parent.instanceId,
      campaign: parent.campaign,
      task: parent.task,
      index: job.index,
      attempt: job.attempt,
      instanceAttempt: parent.instanceAttempt,
      status: 'idle',
      executor: job.executor,
      executorId: null,
      claimedBy: null,
      claimedAt: null,
      claimExpiresAt: null,
      notBefore: job.notBefore,
      input: job.input,
      logPath: null,
      exitCode: null,
      reason: null,
      fields: {},
      createdAt: at,
      submittedAt: null,
      startedAt: null,
      endedAt: null,
    };
  };
}
