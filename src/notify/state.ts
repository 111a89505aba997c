import type { FeedCursor, Fence, StateStore } from '../store/contract.ts';
import type { Delivery } from './delivery.ts';
import type { FoldWindow } from './fold.ts';

/** The change-feed position up to which the dispatcher has turned events into alerts. */
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
): Promise<{ cursor: FeedCursor; pending: PendingState; fresh: boolean }> {
  const cursor = await store.getCursor(CURSOR_KEY);
  const pending = parsePending(await store.getCursor(PENDING_KEY));
  if (cursor !== null) return { cursor, pending, fresh: false };
  return { cursor: await store.feedHead(), pending, fresh: true };
}

/**
 * Keeps the state, pending alerts first: a crash between the two writes sends
 * an alert twice rather than never. Returns what it wrote, so that an
 * unchanged state is not written again.
 */
export async function saveState(
  store: StateStore,
  cursor: FeedCursor,
  pending: PendingState,
  last: { cursor: FeedCursor; pending: string },
  fence: Fence,
): Promise<{ cursor: FeedCursor; pending: string }> {
  const json = JSON.stringify({ v: 1, ...pending });
  if (json !== last.pending) await store.setCursor(PENDING_KEY, json, fence);
  if (cursor !== last.cursor) await store.setCursor(CURSOR_KEY, cursor, fence);
  return { cursor, pending: json };
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
