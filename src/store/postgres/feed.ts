import { InvalidInputError } from '../../errors.ts';
import type { FeedCursor, FeedItem, FeedKind } from '../contract.ts';
import { eventColumns, runColumns } from './columns.ts';
import type { Db } from './db.ts';

/** A feed position: the writing transaction's id (xid8, as text) and the row's `pos`. */
interface Position {
  tx: bigint;
  pos: bigint;
}

const format = (p: Position): FeedCursor => `${p.tx}:${p.pos}`;

function parse(c: FeedCursor | null): Position {
  if (c === null || c === '') return { tx: 0n, pos: 0n };
  const m = /^(\d+):(\d+)$/.exec(c);
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new InvalidInputError(
      'cursor',
      `"${c}" is not a PostgreSQL feed cursor (TX:POS); start from null or feedHead()`,
    );
  }
  return { tx: BigInt(m[1]), pos: BigInt(m[2]) };
}

const later = (a: Position, b: Position): Position =>
  a.tx > b.tx || (a.tx === b.tx && a.pos > b.pos) ? a : b;

// Each branch reads its table's (tx, pos) index from the cursor on, below the
// oldest transaction still running: what is listed can no longer be overtaken.
const branch = (kind: FeedKind, flag: string, from: string, item: string) => `
  (SELECT t.tx, t.pos, '${kind}' AS kind, (SELECT to_jsonb(x) FROM (SELECT ${item}) x) AS item
   FROM ${from} CROSS JOIN h
   WHERE ${flag} AND t.tx < h.xmin AND (t.tx, t.pos) > ($1::xid8, $2::bigint)
   ORDER BY t.tx, t.pos LIMIT $3)`;

const READ = `
WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
f AS (${branch('run', '$4', 'runs t', runColumns('t'))}
  UNION ALL ${branch('event', '$5', 'events t', eventColumns('t'))}
  UNION ALL ${branch(
    'sample',
    '$6',
    'job_samples t JOIN jobs j ON j.id = t.job_id',
    `t.job_id AS "jobId", j.instance_id AS "instanceId", j.campaign, j.task, t.key,
     coalesce(to_jsonb(t.num), to_jsonb(t.text)) AS value, t.at`,
  )})
SELECT h.xmin::text AS xmin, f.tx::text AS tx, f.pos::text AS pos, f.kind, f.item
FROM h LEFT JOIN f ON true ORDER BY f.tx, f.pos LIMIT $3`;

interface FeedRow {
  xmin: string;
  tx: string | null;
  pos: string | null;
  kind: FeedKind | null;
  item: Record<string, unknown> | null;
}

type Unplaced<T> = T extends unknown ? Omit<T, 'cursor'> : never;

function toItem(kind: FeedKind, item: Record<string, unknown>): Unplaced<FeedItem> {
  switch (kind) {
    case 'run':
      return { kind, run: item as unknown as Extract<FeedItem, { kind: 'run' }>['run'] };
    case 'event':
      return { kind, event: item as unknown as Extract<FeedItem, { kind: 'event' }>['event'] };
    case 'sample':
      return { kind, sample: item as unknown as Extract<FeedItem, { kind: 'sample' }>['sample'] };
  }
}

/** The change feed over runs, events and job-field samples (see `schema.ts`). */
export function feedOps(db: Db) {
  return {
    readFeed: async (
      after: FeedCursor | null,
      q: { limit: number; kinds?: readonly FeedKind[] },
    ): Promise<{ items: FeedItem[]; cursor: FeedCursor }> => {
      const from = parse(after);
      const limit = Math.max(1, Math.floor(q.limit));
      const kinds = new Set(q.kinds ?? ['run', 'event', 'sample']);
      const rows = await db.prepared<FeedRow>('readFeed', READ, [
        String(from.tx),
        String(from.pos),
        limit,
        kinds.has('run'),
        kinds.has('event'),
        kinds.has('sample'),
      ]);
      const items: FeedItem[] = [];
      let last: Position | undefined;
      for (const r of rows) {
        if (r.tx === null || r.pos === null || r.kind === null || r.item === null) continue;
        last = { tx: BigInt(r.tx), pos: BigInt(r.pos) };
        items.push({ ...toItem(r.kind, r.item), cursor: format(last) } as FeedItem);
      }
      // A short page passes over everything known committed, whatever kinds were asked for.
      const head: Position = { tx: BigInt(rows[0]?.xmin ?? '0'), pos: 0n };
      const cursor = items.length === limit && last !== undefined ? last : later(head, from);
      return { items, cursor: format(cursor) };
    },
    feedHead: async (): Promise<FeedCursor> => {
      const [row] = await db.prepared<{ xmin: string }>(
        'feedHead',
        'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
      );
      return format({ tx: BigInt(row?.xmin ?? '0'), pos: 0n });
    },
  };
}
