import type { StateStore } from '../store/contract.ts';

/**
 * How a mirror fares, kept in the store (a cursor value) so that every
 * controller's `/api/health` shows it, not only the leader's that runs it.
 */
export interface MirrorStatus {
  /** Where it writes, without credentials. */
  target: string;
  state: 'ok' | 'failing';
  /** The last failure's message (how to fix it), while failing. */
  error: string | null;
  /** Failed writes in a row. */
  failures: number;
  failingSince: number | null;
  lastWriteAt: number | null;
  /** Whether the last page read was full: it is catching up on a backlog. */
  catchingUp: boolean;
  /** The controller running it. */
  controller: string;
  updatedAt: number;
}

export const statusKey = (name: string) => `export:${name}:status`;
export const cursorKey = (name: string) => `export:${name}:cursor`;

export async function loadStatus(store: StateStore, name: string): Promise<MirrorStatus | null> {
  const raw = await store.getCursor(statusKey(name));
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as MirrorStatus;
  } catch {
    return null;
  }
}

/** The `exports` part of `/api/health`: each configured mirror's last known status. */
export async function exportHealth(
  store: StateStore,
  kinds: readonly string[],
): Promise<Record<string, (MirrorStatus & { updated: string }) | { state: 'not started' }>> {
  const out: Record<string, (MirrorStatus & { updated: string }) | { state: 'not started' }> = {};
  for (const kind of kinds) {
    const s = await loadStatus(store, kind);
    out[kind] =
      s === null
        ? { state: 'not started' }
        : { ...s, updated: new Date(s.updatedAt).toISOString() };
  }
  return out;
}
