import type { Job } from '../../model/types.ts';
import type { NewJob } from '../contract.ts';
import { type JobParent, jobCreatedEvent } from '../records.ts';
import type { Db, NewEvent } from './shared.ts';

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
    writeEvent(
      jobCreatedEvent(parent, { id, index: job.index, attempt: job.attempt }, by, at, data),
    );
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
      queueState: null,
      queueSince: null,
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
