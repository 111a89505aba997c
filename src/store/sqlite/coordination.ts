import { CursorConflictError, FencedError } from '../../errors.ts';
import type { CursorWrite, Fence, Lease } from '../contract.ts';
import type { Db } from './shared.ts';

interface LeaseRow {
  name: string;
  owner: string;
  epoch: number;
  since: number;
  expires_at: number;
}

const toLease = (r: LeaseRow): Lease => ({
  name: r.name,
  owner: r.owner,
  epoch: r.epoch,
  since: r.since,
  expiresAt: r.expires_at,
});

/**
 * Leases, fences and cursors: how controllers sharing one file agree. The
 * store's clock is this host's: every process on one SQLite file shares it.
 */
export function coordinationOps(db: Db, clock: () => number) {
  const leaseRow = db.prepare<[string], LeaseRow>(
    'SELECT name, owner, epoch, since, expires_at FROM leases WHERE name = ?',
  );
  const putLease = db.prepare<[string, string, number, number, number]>(
    `INSERT INTO leases (name, owner, epoch, since, expires_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch,
       since = excluded.since, expires_at = excluded.expires_at`,
  );
  // Renewing and releasing both move the expiry of the holder's own term. Released, not
  // deleted: the epoch must keep growing, or an old fence would match again.
  const setExpiry = db.prepare<[number, string, string, number]>(
    'UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND epoch = ?',
  );
  const epochOf = db.prepare<[string], number>('SELECT epoch FROM leases WHERE name = ?').pluck();
  const getCursor = db.prepare<[string], string>('SELECT value FROM cursors WHERE key = ?').pluck();
  const setCursor = db.prepare<[string, string]>(
    'INSERT INTO cursors (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const insertCursor = db.prepare<[string, string]>(
    'INSERT INTO cursors (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
  );

  const acquire = db.transaction(
    (name: string, owner: string, ttlMs: number, takeFrom: string | undefined): Lease | null => {
      const now = clock();
      const row = leaseRow.get(name);
      const free = row === undefined || row.expires_at <= now || row.owner === takeFrom;
      if (!free && row.owner !== owner) return null;
      const sameHolder = row !== undefined && row.owner === owner;
      const lease: Lease = {
        name,
        owner,
        epoch: sameHolder ? row.epoch : (row?.epoch ?? 0) + 1,
        since: sameHolder ? row.since : now,
        expiresAt: now + ttlMs,
      };
      putLease.run(name, owner, lease.epoch, lease.since, lease.expiresAt);
      return lease;
    },
  );

  /** Throws `FencedError` unless `fence` names the lease's current epoch; run inside the write transaction. */
  function checkFence(fence: Fence | undefined): void {
    if (fence === undefined) return;
    const current = epochOf.get(fence.lease) ?? null;
    if (current !== fence.epoch) throw new FencedError(fence.lease, fence.epoch, current);
  }

  /** Writes a cursor inside the caller's transaction, compare-and-set when `expected` is given. */
  function writeCursor(c: CursorWrite | undefined): void {
    if (c === undefined) return;
    if (c.expected !== undefined && (getCursor.get(c.key) ?? null) !== c.expected)
      throw new CursorConflictError(c.key, c.expected);
    setCursor.run(c.key, c.value);
  }

  const cas = db.transaction((key: string, expected: string | null, value: string): boolean => {
    if ((getCursor.get(key) ?? null) !== expected) return false;
    setCursor.run(key, value);
    return true;
  });
  const ensure = db.transaction((key: string, value: string): string => {
    insertCursor.run(key, value);
    return getCursor.get(key) as string;
  });
  const fencedSet = db.transaction((key: string, value: string, fence: Fence | undefined) => {
    checkFence(fence);
    setCursor.run(key, value);
  });

  return {
    checkFence,
    writeCursor,
    acquireLease: (name: string, owner: string, ttlMs: number, opts?: { takeFrom?: string }) =>
      acquire.immediate(name, owner, ttlMs, opts?.takeFrom),
    renewLease: (lease: Lease, ttlMs: number): Lease | null => {
      const expiresAt = clock() + ttlMs;
      const changed = setExpiry.run(expiresAt, lease.name, lease.owner, lease.epoch).changes;
      return changed === 1 ? { ...lease, expiresAt } : null;
    },
    releaseLease: (lease: Lease): void => {
      setExpiry.run(clock() - 1, lease.name, lease.owner, lease.epoch);
    },
    getLease: (name: string): Lease | null => {
      const row = leaseRow.get(name);
      return row === undefined ? null : toLease(row);
    },
    getCursor: (key: string): string | null => getCursor.get(key) ?? null,
    setCursor: (key: string, value: string, fence?: Fence): void =>
      fencedSet.immediate(key, value, fence),
    compareAndSetCursor: (key: string, expected: string | null, value: string): boolean =>
      cas.immediate(key, expected, value),
    ensureCursor: (key: string, value: string): string => ensure.immediate(key, value),
  };
}

export type Coordination = ReturnType<typeof coordinationOps>;
