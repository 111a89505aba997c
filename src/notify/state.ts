import type { StateStore } from '../store/contract.ts';
import type { Delivery } from './delivery.ts';
import type { FoldWindow } from './fold.ts';

/** The last event the dispatcher has turned into alerts. */
export const CURSOR_KEY = 'notify:cursor';
/** Alerts not yet delivered: deliveries waiting or retrying, and open fold windows. */
export const PENDING_KEY = 'notify:pending';

export interface PendingState {
  deliveries: Delivery[];
  folds: Record<string, FoldWindow[]>;
}

/**
 * Where the dispatcher left off: the cursor and what it had not delivered. A
 * store without a cursor (notifications just configured) starts at the end of
 * the log: people are told about what happens from now on, not about last
 * year's failures.
 */
export async function loadState(
  store: StateStore,
): Promise<{ afterId: number; pending: PendingState; fresh: boolean }> {
  const cursor = await store.getCursor(CURSOR_KEY);
  const pending = parsePending(await store.getCursor(PENDING_KEY));
  if (cursor !== null && /^\d+$/.test(cursor)) {
    return { afterId: Number(cursor), pending, fresh: false };
  }
  return { afterId: await lastEventId(store), pending, fresh: true };
}

/**
 * Keeps the state, pending alerts first: a crash between the two writes sends
 * an alert twice rather than never. Returns what it wrote, so that an
 * unchanged state is not written again.
 */
export async function saveState(
  store: StateStore,
  afterId: number,
  pending: PendingState,
  last: { afterId: number; pending: string },
): Promise<{ afterId: number; pending: string }> {
  const json = JSON.stringify({ v: 1, ...pending });
  if (json !== last.pending) await store.setCursor(PENDING_KEY, json);
  if (afterId !== last.afterId) await store.setCursor(CURSOR_KEY, String(afterId));
  return { afterId, pending: json };
}

function parsePending(text: string | null): PendingState {
  const empty = { deliveries: [], folds: {} };
  if (text === null) return empty;
  try {
    const v = JSON.parse(text) as { v?: number } & Partial<PendingState>;
    if (v.v !== 1 || !Array.isArray(v.deliveries)) return empty;
    return { deliveries: v.deliveries, folds: v.folds ?? {} };
  } catch {
    return empty;
  }
}

/**
 * The id of the newest event, 0 for none. The store lists events ascending
 * only, so this brackets it with `afterId` probes: about 2·log2(id) queries of
 * one row, instead of reading the whole history.
 */
export async function lastEventId(store: StateStore): Promise<number> {
  const exists = async (afterId: number) =>
    (await store.listEvents({ afterId, limit: 1 })).length > 0;
  if (!(await exists(0))) return 0;
  // Invariant: some event is newer than lo, none is newer than hi.
  let lo = 0;
  let hi = 1024;
  while (await exists(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await exists(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}
