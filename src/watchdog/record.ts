import type { Deployment } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import type { EventRecord } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';

/** What every check works with. */
export interface WatchdogContext {
  store: StateStore;
  deployment: Deployment;
  logger: Logger;
  /** Who records the alerts (`watchdog:<controller id>`). */
  by: string;
}

export type AlertEvent = Pick<
  EventRecord,
  'entity' | 'entityId' | 'campaign' | 'task' | 'instanceId' | 'reason'
> & { data: Record<string, unknown> & { alert: string } };

/**
 * Records an alert as an event of the log: the notify dispatcher turns it
 * into messages (folded, in the seed's style) like any other alert, whichever
 * process dispatches, and it shows in the history of what it is about.
 */
export async function recordAlert(ctx: WatchdogContext, e: AlertEvent, at: number): Promise<void> {
  await ctx.store.appendEvent({ ...e, at, from: null, to: null, by: ctx.by, configHash: null });
  ctx.logger.info({ alert: e.data.alert, about: e.entityId }, e.reason ?? e.data.alert);
}

/**
 * A check's memory of what it already alerted on, in a store cursor, changed
 * compare-and-set: of several watchdogs (a standby controller, a cron
 * `autoctrl watchdog`) judging the same thing at once, one records the
 * alert. Returns the value read and a function that stores the next one,
 * false when another watchdog changed it meanwhile.
 */
export async function memory<T>(
  store: StateStore,
  key: string,
  empty: T,
): Promise<{ value: T; save(next: T): Promise<boolean> }> {
  const text = await store.getCursor(key);
  let value = empty;
  if (text !== null && text !== '') {
    try {
      value = JSON.parse(text) as T;
    } catch {
      value = empty;
    }
  }
  return {
    value,
    save: async (next) => {
      const json = JSON.stringify(next);
      return json === text || store.compareAndSetCursor(key, text, json);
    },
  };
}
