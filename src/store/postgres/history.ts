import type { EventRecord, Output } from '../../model/types.ts';
import type { EventQuery, OutputQuery } from '../contract.ts';
import type { NewEvent } from '../records.ts';
import { eventColumns, limitOf, OUTPUT_SELECT } from './columns.ts';
import type { Db } from './db.ts';
import { writeEvents } from './writers.ts';

/** Outputs and the event log: the read side for people. A NULL parameter switches its condition off. */
export function historyOps(db: Db) {
  return {
    listOutputs: (q: OutputQuery): Promise<Output[]> => {
      const ranged = q.runFrom !== undefined || q.runTo !== undefined;
      return db.query<Output>(
        'listOutputs',
        `${OUTPUT_SELECT} WHERE ($1::text IS NULL OR i.campaign = $1) AND ($2::text IS NULL OR i.task = $2)
           AND (NOT $3 OR o.instance_id IN (SELECT m.instance_id FROM memberships m WHERE m.run >= $4 AND m.run <= $5
             AND ($1::text IS NULL OR m.campaign = $1) AND ($2::text IS NULL OR m.task = $2)))
         ORDER BY o.id LIMIT $6`,
        [
          q.campaign ?? null,
          q.task ?? null,
          ranged,
          q.runFrom ?? Number.MIN_SAFE_INTEGER,
          q.runTo ?? Number.MAX_SAFE_INTEGER,
          limitOf(q.limit),
        ],
      );
    },
    outputsForInstances: (ids: readonly number[]): Promise<Output[]> =>
      db.prepared<Output>(
        'outputsForInstances',
        // The instance's current attempt and, within it, each job's latest attempt: one statement, so
        // an instance reprocessed meanwhile is seen either before (its old outputs) or after (none yet).
        `${OUTPUT_SELECT} JOIN jobs j ON j.id = o.job_id
         WHERE o.instance_id = ANY($1) AND j.instance_attempt = i.attempt
           AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.instance_id = j.instance_id
             AND k.instance_attempt = j.instance_attempt AND k.job_index = j.job_index AND k.attempt > j.attempt)
         ORDER BY o.id`,
        [ids],
      ),
    listEvents: (q: EventQuery): Promise<EventRecord[]> =>
      db.query<EventRecord>(
        'listEvents',
        `SELECT ${eventColumns('e')} FROM events e
         WHERE ($1::bigint IS NULL OR e.instance_id = $1) AND ($2::text IS NULL OR e.entity = $2)
           AND ($3::text IS NULL OR e.entity_id = $3) AND ($4::bigint IS NULL OR e.id > $4)
         ORDER BY e.id LIMIT $5`,
        [
          q.instanceId ?? null,
          q.entity ?? null,
          q.entityId ?? null,
          q.afterId ?? null,
          limitOf(q.limit),
        ],
      ),
    appendEvent: async (e: NewEvent): Promise<number> => {
      const [id] = await db.auto('appendEvent', (sql) => writeEvents(sql, [e]));
      if (id === undefined) throw new Error('appendEvent: the insert returned no id');
      return id;
    },
  };
}
