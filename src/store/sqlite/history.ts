import type { EventRecord, Output } from '../../model/types.ts';
import type { EventQuery, OutputQuery } from '../contract.ts';
import {
  EVENT_COLUMNS,
  type EventRow,
  OUTPUT_SELECT,
  type OutputRow,
  toEvent,
  toOutput,
} from './rows.ts';
import {
  type Db,
  instanceScope,
  jsonList,
  limitOf,
  StatementCache,
  whereClause,
} from './shared.ts';

/** Outputs and the event log: the read side for people. */
export function historyOps(db: Db) {
  const cache = new StatementCache(db);
  // The instance's current attempt and, within it, each job's latest attempt: one statement, so
  // an instance reprocessed meanwhile is seen either before (its old outputs) or after (none yet).
  const ofInstances = db.prepare<[string], OutputRow>(
    `${OUTPUT_SELECT} JOIN jobs j ON j.id = o.job_id
     WHERE o.instance_id IN (SELECT value FROM json_each(?)) AND j.instance_attempt = i.attempt
       AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.instance_id = j.instance_id
         AND k.instance_attempt = j.instance_attempt AND k.job_index = j.job_index AND k.attempt > j.attempt)
     ORDER BY o.id`,
  );

  function listOutputs(q: OutputQuery): Output[] {
    const { where, params } = instanceScope(q, 'o.instance_id');
    const sql = `${OUTPUT_SELECT}${whereClause(where)} ORDER BY o.id LIMIT ?`;
    return cache
      .get<OutputRow>(sql)
      .all(...params, limitOf(q.limit))
      .map(toOutput);
  }

  function listEvents(q: EventQuery): EventRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    const filters: [string, unknown][] = [
      ['instance_id = ?', q.instanceId],
      ['entity = ?', q.entity],
      ['entity_id = ?', q.entityId],
      ['id > ?', q.afterId],
    ];
    for (const [cond, value] of filters) {
      if (value === undefined) continue;
      where.push(cond);
      params.push(value);
    }
    const sql = `SELECT ${EVENT_COLUMNS} FROM events${whereClause(where)} ORDER BY id LIMIT ?`;
    return cache
      .get<EventRow>(sql)
      .all(...params, limitOf(q.limit))
      .map(toEvent);
  }

  return {
    listOutputs,
    outputsForInstances: (ids: readonly number[]): Output[] =>
      ofInstances.all(jsonList(ids)).map(toOutput),
    listEvents,
  };
}
