import type Database from 'better-sqlite3';
import type { NewEvent } from '../records.ts';

export type Db = Database.Database;

/**
 * Prepared statements for SQL built from optional filters. The set of
 * distinct texts is small (one per filter combination), so each is prepared
 * once and kept.
 */
export class StatementCache {
  readonly #db: Db;
  readonly #statements = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(db: Db) {
    this.#db = db;
  }

  get<R>(sql: string): Database.Statement<unknown[], R> {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s as Database.Statement<unknown[], R>;
  }
}

/** `?, ?, ?` for an IN list of short, bounded length (statuses). */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/**
 * Long value lists (run numbers, ids) travel as one JSON parameter read with
 * `json_each`, so the statement text, and its cached plan, does not depend on
 * the list length.
 */
export function jsonList(values: readonly (number | string)[]): string {
  return JSON.stringify(values);
}

/** A LIMIT value: absent or infinite means none (-1 to SQLite). */
export function limitOf(limit: number | undefined): number {
  return limit === undefined || !Number.isFinite(limit) ? -1 : Math.max(0, Math.floor(limit));
}

/**
 * WHERE terms selecting instances (through `idColumn`) by campaign, task and
 * run range, for people's searches. With a run range the selection is driven
 * by memberships, whose indexes bound the range scan by campaign and task; an
 * instance of several runs matches on any of them.
 */
export function instanceScope(
  q: { campaign?: string; task?: string; runFrom?: number; runTo?: number },
  idColumn: string,
): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const filter = (conds: string[], cond: string, value: unknown): void => {
    if (value === undefined) return;
    conds.push(cond);
    params.push(value);
  };
  if (q.runFrom === undefined && q.runTo === undefined) {
    filter(where, 'i.campaign = ?', q.campaign);
    filter(where, 'i.task = ?', q.task);
    return { where, params };
  }
  const sub: string[] = [];
  filter(sub, 'm.run >= ?', q.runFrom ?? Number.MIN_SAFE_INTEGER);
  filter(sub, 'm.run <= ?', q.runTo ?? Number.MAX_SAFE_INTEGER);
  filter(sub, 'm.campaign = ?', q.campaign);
  filter(sub, 'm.task = ?', q.task);
  where.push(`${idColumn} IN (SELECT m.instance_id FROM memberships m WHERE ${sub.join(' AND ')})`);
  return { where, params };
}

/** ` WHERE a AND b`, or nothing. */
export function whereClause(where: readonly string[]): string {
  return where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
}

export type { NewEvent };

/**
 * The next change-feed position. Callers run it inside their write
 * transaction: SQLite has one writer at a time, so positions follow commit order.
 */
export function feedPositions(db: Db): () => number {
  const next = db
    .prepare<[], number>('UPDATE feed_counter SET pos = pos + 1 WHERE id = 1 RETURNING pos')
    .pluck();
  return () => next.get() as number;
}

/** Appends to the history; callers run it inside the transaction of the change it records. */
export function eventWriter(db: Db, nextPos: () => number): (e: NewEvent) => number {
  const insert = db.prepare<
    [
      number,
      number,
      string,
      string,
      string | null,
      string | null,
      number | null,
      string | null,
      string | null,
      string | null,
      string,
      string | null,
      string | null,
    ]
  >(
    `INSERT INTO events (pos, at, entity, entity_id, campaign, task, instance_id, from_state, to_state, reason, actor, config_hash, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return (e) =>
    Number(
      insert.run(
        nextPos(),
        e.at,
        e.entity,
        e.entityId,
        e.campaign,
        e.task,
        e.instanceId,
        e.from,
        e.to,
        e.reason,
        e.by,
        e.configHash,
        e.data === null ? null : JSON.stringify(e.data),
      ).lastInsertRowid,
    );
}
