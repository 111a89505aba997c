import { humanDuration } from '../locks/options.ts';
import type { EventRecord, Instance } from '../model/types.ts';
import { type EngineContext, fenceOf } from './context.ts';
import type { ClosedLock } from './lock-checks.ts';

/** The `data.alert` of the event raised when a lock stays closed past its timeout. */
export const LOCK_TIMEOUT_ALERT = 'lock_timeout';

/**
 * Since when an instance waits on one lock, and whether the timeout alert went
 * out. The store is the truth: every waiting event written for a closed lock
 * carries `data: { lock, lockSince }` and the alert carries the same
 * `lockSince`, so a restarted controller finds both in the instance's
 * history. This memory only spares reading that history at every pass; it is
 * trusted while the instance is exactly as this controller left it.
 */
export interface LockWait {
  lock: string;
  since: number;
  alerted: boolean;
  /** The instance as last written, to notice changes made elsewhere. */
  reason: string | null;
  updatedAt: number;
  attempt: number;
}

/** The instance no longer waits on a lock (upstream not done, or it starts). */
export function forgetLockWait(ctx: EngineContext, instanceId: number): void {
  ctx.memory.lockWaits.delete(instanceId);
}

/**
 * Leaves `inst` waiting on a closed lock, with the lock's reason prefixed by
 * its name, and appends the `lock_timeout` alert once when it has been closed
 * for longer than its timeout. Throws `StaleStateError` like any transition.
 */
export async function waitOnLock(
  ctx: EngineContext,
  inst: Instance,
  closed: ClosedLock,
  configHash: string | null,
): Promise<void> {
  const waits = ctx.memory.lockWaits;
  const now = ctx.now();
  const reason = `lock ${closed.name}: ${closed.reason}`;
  const wait = await currentWait(ctx, waits.get(inst.id), inst, closed.name, now);
  let after = inst;
  if (inst.status !== 'waiting' || inst.reason !== reason) {
    after = await ctx.store.transitionInstance(inst.id, {
      ...fenceOf(ctx),
      from: inst.status,
      to: 'waiting',
      reason,
      by: 'engine',
      at: now,
      data: { lock: closed.name, lockSince: wait.since },
    });
  }
  const next: LockWait = {
    ...wait,
    reason: after.reason,
    updatedAt: after.updatedAt,
    attempt: after.attempt,
  };
  waits.set(inst.id, next);
  if (closed.timeoutMs === null || wait.alerted || now - wait.since < closed.timeoutMs) return;
  await ctx.store.appendEvent({
    at: now,
    entity: 'instance',
    entityId: String(inst.id),
    campaign: inst.campaign,
    task: inst.task,
    instanceId: inst.id,
    from: null,
    to: null,
    reason: `lock ${closed.name} closed for ${humanDuration(now - wait.since)}: ${closed.reason}`,
    by: 'engine',
    configHash,
    data: {
      alert: LOCK_TIMEOUT_ALERT,
      lock: closed.name,
      lockSince: wait.since,
      timeoutMs: closed.timeoutMs,
      runs: inst.runs,
      attempt: inst.attempt,
    },
  });
  next.alerted = true;
}

async function currentWait(
  ctx: EngineContext,
  known: LockWait | undefined,
  inst: Instance,
  lock: string,
  now: number,
): Promise<LockWait> {
  const fresh: LockWait = {
    lock,
    since: now,
    alerted: false,
    reason: null,
    updatedAt: 0,
    attempt: 0,
  };
  if (inst.status !== 'waiting' || !(inst.reason ?? '').startsWith(`lock ${lock}: `)) return fresh;
  if (
    known !== undefined &&
    known.lock === lock &&
    known.reason === inst.reason &&
    known.updatedAt === inst.updatedAt &&
    known.attempt === inst.attempt
  ) {
    return known;
  }
  const history = await ctx.store.listEvents({ instanceId: inst.id, entity: 'instance' });
  return { ...fresh, ...fromHistory(history, lock, inst.updatedAt) };
}

/** Since when the history says the instance waits on `lock`, and whether that wait was alerted. */
function fromHistory(
  history: readonly EventRecord[],
  lock: string,
  fallback: number,
): { since: number; alerted: boolean } {
  const last = history.findLast((e) => e.to !== null);
  const recorded = last?.data?.lock === lock ? last.data.lockSince : undefined;
  // Waits recorded before lock times were kept: the last transition is the best guess.
  const since = typeof recorded === 'number' ? recorded : (last?.at ?? fallback);
  const alerted = history.some(
    (e) =>
      e.to === null &&
      e.data?.alert === LOCK_TIMEOUT_ALERT &&
      e.data.lock === lock &&
      e.data.lockSince === since,
  );
  return { since, alerted };
}
