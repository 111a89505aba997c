import { CursorConflictError, FencedError } from '../../errors.ts';
import type { CursorWrite, Fence, Lease } from '../contract.ts';
import { type Db, named, type Sql } from './db.ts';

const LEASE_COLUMNS = 'name, owner, epoch, since, expires_at AS "expiresAt"';

/**
 * Throws `FencedError` unless `fence` names the lease's current epoch. Run
 * inside the fenced write's transaction: the share lock keeps the lease from
 * changing hands until that transaction ends.
 */
export async function checkFence(sql: Sql, fence: Fence | undefined): Promise<void> {
  if (fence === undefined) return;
  const res = await sql.query<{ epoch: number }>(
    named('checkFence', 'SELECT epoch FROM leases WHERE name = $1 FOR SHARE', [fence.lease]),
  );
  const current = res.rows[0]?.epoch ?? null;
  if (current !== fence.epoch) throw new FencedError(fence.lease, fence.epoch, current);
}

/** Writes a cursor inside the caller's transaction, compare-and-set when `expected` is given. */
export async function writeCursor(sql: Sql, c: CursorWrite | undefined): Promise<void> {
  if (c === undefined) return;
  if (c.expected === undefined) {
    await sql.query(
      'INSERT INTO cursors (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [c.key, c.value],
    );
    return;
  }
  if (!(await casCursor(sql, c.key, c.expected, c.value)))
    throw new CursorConflictError(c.key, c.expected);
}

/**
 * Compare-and-set in one statement each way: an insert that conflicts, or an
 * update whose row moved on, changes nothing (a concurrent writer is waited
 * for, then re-checked).
 */
async function casCursor(
  sql: Sql,
  key: string,
  expected: string | null,
  value: string,
): Promise<boolean> {
  const res =
    expected === null
      ? await sql.query(
          'INSERT INTO cursors (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
          [key, value],
        )
      : await sql.query('UPDATE cursors SET value = $3 WHERE key = $1 AND value = $2', [
          key,
          expected,
          value,
        ]);
  return res.rowCount === 1;
}

/** Leases and cursors: how controllers sharing one database agree, by the server's clock. */
export function coordinationOps(db: Db) {
  return {
    getCursor: async (key: string): Promise<string | null> =>
      (
        await db.prepared<{ value: string }>(
          'getCursor',
          'SELECT value FROM cursors WHERE key = $1',
          [key],
        )
      )[0]?.value ?? null,
    setCursor: (key: string, value: string, fence?: Fence): Promise<void> =>
      db.tx('setCursor', async (sql) => {
        await checkFence(sql, fence);
        await writeCursor(sql, { key, value });
      }),
    compareAndSetCursor: (key: string, expected: string | null, value: string): Promise<boolean> =>
      db.auto('compareAndSetCursor', (sql) => casCursor(sql, key, expected, value)),
    ensureCursor: (key: string, value: string): Promise<string> =>
      db.tx('ensureCursor', async (sql) => {
        const res = await sql.query<{ value: string }>(
          'INSERT INTO cursors (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value',
          [key, value],
        );
        const inserted = res.rows[0]?.value;
        if (inserted !== undefined) return inserted;
        // A second statement: in READ COMMITTED it sees the row a concurrent first writer committed.
        const stored = await sql.query<{ value: string }>(
          'SELECT value FROM cursors WHERE key = $1',
          [key],
        );
        return stored.rows[0]?.value ?? value;
      }),

    /**
     * Free, expired, already ours or held by `takeFrom` (known dead): taken.
     * The epoch grows when the holder changes; the same holder keeps its
     * epoch and `since`.
     */
    acquireLease: async (
      name: string,
      owner: string,
      ttlMs: number,
      opts: { takeFrom?: string } = {},
    ): Promise<Lease | null> =>
      (
        await db.query<Lease>(
          'acquireLease',
          // A lease held by another stops at the unlocked read: standbys asking at every
          // wake-up never queue on the row the leader's fenced writes share-lock.
          `INSERT INTO leases AS l (name, owner, epoch, since, expires_at)
           SELECT $1, $2, 1, now_ms(), now_ms() + $3
           WHERE NOT EXISTS (SELECT 1 FROM leases h WHERE h.name = $1 AND h.owner <> $2
             AND h.expires_at > now_ms() AND h.owner IS DISTINCT FROM $4)
           ON CONFLICT (name) DO UPDATE SET
             owner = excluded.owner,
             epoch = CASE WHEN l.owner = excluded.owner THEN l.epoch ELSE l.epoch + 1 END,
             since = CASE WHEN l.owner = excluded.owner THEN l.since ELSE excluded.since END,
             expires_at = excluded.expires_at
           WHERE l.owner = excluded.owner OR l.expires_at <= now_ms() OR l.owner = $4
           RETURNING ${LEASE_COLUMNS}`,
          [name, owner, ttlMs, opts.takeFrom ?? null],
        )
      )[0] ?? null,
    renewLease: async (lease: Lease, ttlMs: number): Promise<Lease | null> =>
      (
        await db.query<Lease>(
          'renewLease',
          `UPDATE leases SET expires_at = now_ms() + $4
           WHERE name = $1 AND owner = $2 AND epoch = $3 RETURNING ${LEASE_COLUMNS}`,
          [lease.name, lease.owner, lease.epoch, ttlMs],
        )
      )[0] ?? null,
    // Released, not deleted: the epoch must keep growing, or an old fence would match again.
    releaseLease: async (lease: Lease): Promise<void> => {
      await db.query(
        'releaseLease',
        'UPDATE leases SET expires_at = now_ms() - 1 WHERE name = $1 AND owner = $2 AND epoch = $3',
        [lease.name, lease.owner, lease.epoch],
      );
    },
    getLease: async (name: string): Promise<Lease | null> =>
      (
        await db.query<Lease>('getLease', `SELECT ${LEASE_COLUMNS} FROM leases WHERE name = $1`, [
          name,
        ])
      )[0] ?? null,
    clock: async (): Promise<number> => {
      const [row] = await db.query<{ now: number }>('clock', 'SELECT now_ms() AS now');
      if (row === undefined) throw new Error('clock: SELECT now_ms() returned no row');
      return row.now;
    },
  };
}
