import type { EventRecord } from '../../model/types.ts';
import type { FeedCursor, FeedItem, FeedKind } from '../contract.ts';
import { EVENT_COLUMNS, type EventRow, RUN_COLUMNS, type RunRow, toRun } from './rows.ts';
import type { Db } from './shared.ts';

interface SampleRow {
  pos: number;
  job_id: number;
  instance_id: number;
  campaign: string;
  task: string;
  key: string;
  num: number | null;
  text: string | null;
  at: number;
}

/** `pos` then `EVENT_COLUMNS`, in their order. */
type EventValues = [
  number,
  number,
  number,
  EventRow['entity'],
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
];

/** `toEvent` of a row read as values. */
function eventOf(v: EventValues): EventRecord {
  return {
    id: v[1],
    at: v[2],
    entity: v[3],
    entityId: v[4],
    campaign: v[5],
    task: v[6],
    instanceId: v[7],
    from: v[8],
    to: v[9],
    reason: v[10],
    by: v[11],
    configHash: v[12],
    data: v[13] === null ? null : (JSON.parse(v[13]) as Record<string, unknown>),
  };
}

/** How often the watcher asks whether another connection committed: the wake-up latency bound. */
const WATCH_EVERY_MS = 20;

function parseCursor(c: FeedCursor | null): number {
  if (c === null || c === '') return 0;
  const n = Number(c);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a SQLite feed cursor: ${c}`);
  return n;
}

/**
 * The change feed over the three tables that carry feed positions. Reads run
 * in one read transaction, so the head returned with a short page is exactly
 * what that page saw.
 */
export function feedOps(db: Db, file: string) {
  const runs = db.prepare<[number, number], RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE seq > ? ORDER BY seq LIMIT ?`,
  );
  // Rows as arrays: better-sqlite3's row objects cost three times as much to make, and a
  // catch-up reads a hundred thousand events a second.
  const events = db
    .prepare<[number, number], EventValues>(
      `SELECT pos, ${EVENT_COLUMNS} FROM events WHERE pos > ? ORDER BY pos LIMIT ?`,
    )
    .raw();
  const samples = db.prepare<[number, number], SampleRow>(
    `SELECT s.pos, s.job_id, j.instance_id, j.campaign, j.task, s.key, s.num, s.text, s.at
     FROM job_samples s JOIN jobs j ON j.id = s.job_id WHERE s.pos > ? ORDER BY s.pos LIMIT ?`,
  );
  const head = db.prepare<[], number>('SELECT pos FROM feed_counter WHERE id = 1').pluck();

  const read = db.transaction((after: number, limit: number, kinds: ReadonlySet<FeedKind>) => {
    // Each item is made once, with its cursor: a catch-up reads a hundred thousand a second.
    const found: Array<{ pos: number; item: FeedItem }> = [];
    if (kinds.has('run'))
      for (const r of runs.all(after, limit))
        found.push({ pos: r.seq, item: { kind: 'run', run: toRun(r), cursor: String(r.seq) } });
    if (kinds.has('event'))
      for (const v of events.all(after, limit)) {
        const pos = v[0];
        found.push({ pos, item: { kind: 'event', event: eventOf(v), cursor: String(pos) } });
      }
    if (kinds.has('sample'))
      for (const s of samples.all(after, limit))
        found.push({
          pos: s.pos,
          item: {
            kind: 'sample',
            sample: {
              jobId: s.job_id,
              instanceId: s.instance_id,
              campaign: s.campaign,
              task: s.task,
              key: s.key,
              value: s.num ?? s.text ?? '',
              at: s.at,
            },
            cursor: String(s.pos),
          },
        });
    found.sort((a, b) => a.pos - b.pos);
    if (found.length > limit) found.length = limit;
    const last = found.at(-1);
    const cursor = found.length === limit && last !== undefined ? last.pos : (head.get() ?? 0);
    return { items: found.map((p) => p.item), cursor: String(cursor) };
  });

  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | null = null;

  /**
   * `PRAGMA data_version` changes whenever another connection, of this
   * process or another, commits; and not for this connection's own commits,
   * which is why it is asked on the store's own connection: the engine's own
   * writes must not wake it for a pass over what it just did. Safe between
   * statements: every transaction of this store is synchronous, so the timer
   * never runs inside one.
   */
  function startWatching(): void {
    const version = db.prepare<[], number>('PRAGMA data_version').pluck();
    let seen = version.get();
    timer = setInterval(() => {
      const now = version.get();
      if (now === seen) return;
      seen = now;
      for (const l of listeners) l();
    }, WATCH_EVERY_MS);
    timer.unref();
  }

  function stopWatching(): void {
    if (timer === null) return;
    clearInterval(timer);
    timer = null;
  }

  return {
    readFeed: (after: FeedCursor | null, q: { limit: number; kinds?: readonly FeedKind[] }) =>
      read(
        parseCursor(after),
        Math.max(1, Math.floor(q.limit)),
        new Set(q.kinds ?? ['run', 'event', 'sample']),
      ),
    feedHead: (): FeedCursor => String(head.get() ?? 0),
    watch(listener: () => void): () => void {
      // An in-memory database has no other connections to hear from.
      if (file === ':memory:') return () => {};
      listeners.add(listener);
      if (timer === null) startWatching();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) stopWatching();
      };
    },
    close: stopWatching,
  };
}
