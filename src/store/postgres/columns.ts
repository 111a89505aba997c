/**
 * Select lists that name every column as the model does, so rows arrive as
 * model objects (bigint and numeric parse to numbers, jsonb to objects, see
 * `db.ts`). `t` is the table's alias in the query.
 */

export const runColumns = (t: string) =>
  `${t}.run, ${t}.fill, ${t}.start_at AS start, ${t}.end_at AS "end", ${t}.lumi, ${t}.type, ${t}.meta, ${t}.pos AS seq`;

export const instanceColumns = (t: string) =>
  `${t}.id, ${t}.campaign, ${t}.task, ${t}.group_key AS "groupKey", ${t}.runs, ${t}.status, ${t}.reason,
   ${t}.attempt, ${t}.config_hash AS "configHash", ${t}.created_at AS "createdAt", ${t}.updated_at AS "updatedAt"`;

export const jobColumns = (t: string) =>
  `${t}.id, ${t}.instance_id AS "instanceId", ${t}.campaign, ${t}.task, ${t}.job_index AS index, ${t}.attempt,
   ${t}.instance_attempt AS "instanceAttempt", ${t}.status, ${t}.executor, ${t}.executor_id AS "executorId",
   ${t}.claimed_by AS "claimedBy", ${t}.claimed_at AS "claimedAt", ${t}.claim_expires_at AS "claimExpiresAt",
   ${t}.not_before AS "notBefore", ${t}.queue_state AS "queueState", ${t}.queue_since AS "queueSince", ${t}.input, ${t}.log_path AS "logPath", ${t}.exit_code AS "exitCode",
   ${t}.reason, ${t}.fields, ${t}.created_at AS "createdAt", ${t}.submitted_at AS "submittedAt",
   ${t}.started_at AS "startedAt", ${t}.ended_at AS "endedAt"`;

export const eventColumns = (t: string) =>
  `${t}.id, ${t}.at, ${t}.entity, ${t}.entity_id AS "entityId", ${t}.campaign, ${t}.task,
   ${t}.instance_id AS "instanceId", ${t}.from_state AS "from", ${t}.to_state AS "to", ${t}.reason,
   ${t}.actor AS "by", ${t}.config_hash AS "configHash", ${t}.data`;

/** Outputs take campaign, task and runs from their instance. */
export const OUTPUT_SELECT = `SELECT o.id, o.job_id AS "jobId", o.instance_id AS "instanceId", i.campaign, i.task,
  i.runs, o.path, o.kind, o.meta, o.created_at AS "createdAt"
  FROM outputs o JOIN instances i ON i.id = o.instance_id`;

/** A LIMIT value: absent or infinite means none (NULL to PostgreSQL). */
export function limitOf(limit: number | undefined): number | null {
  return limit === undefined || !Number.isFinite(limit) ? null : Math.max(0, Math.floor(limit));
}
