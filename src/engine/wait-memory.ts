import { forEachLimited } from '../parallel.ts';
import type { PassScope } from './changes.ts';
import type { EngineContext } from './context.ts';
import type { AskedLock, ClosedLock, LockChecks } from './lock-checks.ts';

/** Lock questions asked at once by a light pass, as `LockChecks` does for instances. */
const CONCURRENCY = 8;

/**
 * The waiting instances whose wait does not end with a change in the store,
 * so the change feed cannot tell when to look at them again: those on a
 * closed lock, grouped by the question that keeps them waiting, and those
 * waiting for another outside reason (an image not pulled, a lock that could
 * not be asked). Instances waiting on upstream are not here: the feed says
 * when their upstream is done (`gateDownstream`).
 *
 * A light pass (`recheckWaits`) asks each group's question once and gates
 * only the instances whose answer changed or whose lock timeout fell due,
 * instead of reading every waiting instance. The memory is rebuilt by each
 * complete pass, which gates every waiting instance.
 */
export interface WaitMemory {
  /** By `campaign\0task\0lock\0key`. */
  groups: Map<string, LockWaitGroup>;
  /** Group of each instance in `groups`, and its runs. */
  groupOf: Map<number, { key: string; runs: readonly number[] }>;
  /** By `campaign\0task`: instances waiting for another outside reason. */
  others: Map<string, Set<number>>;
}

export interface LockWaitGroup {
  campaign: string;
  task: string;
  /** The lock's answer when the instances were left waiting. */
  reason: string;
  timeoutMs: number | null;
  asked: AskedLock;
  ids: Set<number>;
}

export function newWaitMemory(): WaitMemory {
  return { groups: new Map(), groupOf: new Map(), others: new Map() };
}

/** What `gate` decided for one instance it examined. */
export type WaitKind = { lock: ClosedLock } | 'outside' | 'none';

/** Records how `inst` waits after `gate` examined it (`none`: on upstream, or it started). */
export function noteWait(
  memory: WaitMemory,
  inst: { id: number; campaign: string; task: string; runs: readonly number[] },
  kind: WaitKind,
): void {
  leaveGroup(memory, inst.id);
  const task = `${inst.campaign}\0${inst.task}`;
  if (kind === 'outside' || (typeof kind === 'object' && kind.lock.asked === null)) {
    addOther(memory, task, inst.id);
    return;
  }
  memory.others.get(task)?.delete(inst.id);
  if (kind === 'none' || kind.lock.asked === null) return;
  const { asked, name, reason, timeoutMs } = kind.lock;
  const key = `${task}\0${name}\0${asked.key}`;
  let group = memory.groups.get(key);
  if (group !== undefined && group.reason !== reason) {
    // The others of the group still show the old answer: the next light pass gates them again.
    for (const id of group.ids) {
      memory.groupOf.delete(id);
      addOther(memory, task, id);
    }
    memory.groups.delete(key);
    group = undefined;
  }
  if (group === undefined) {
    group = { campaign: inst.campaign, task: inst.task, reason, timeoutMs, asked, ids: new Set() };
    memory.groups.set(key, group);
  }
  // The newest question: its target carries the runs as they are now.
  group.asked = asked;
  group.ids.add(inst.id);
  memory.groupOf.set(inst.id, { key, runs: inst.runs });
}

function addOther(memory: WaitMemory, task: string, id: number): void {
  let set = memory.others.get(task);
  if (set === undefined) {
    set = new Set();
    memory.others.set(task, set);
  }
  set.add(id);
}

/** `inst` is no longer waiting (gone, started, cancelled): forget it. */
export function forgetWait(
  memory: WaitMemory,
  inst: { id: number; campaign: string; task: string },
) {
  leaveGroup(memory, inst.id);
  memory.others.get(`${inst.campaign}\0${inst.task}`)?.delete(inst.id);
}

function leaveGroup(memory: WaitMemory, id: number): void {
  const member = memory.groupOf.get(id);
  if (member === undefined) return;
  memory.groupOf.delete(id);
  const group = memory.groups.get(member.key);
  group?.ids.delete(id);
  if (group?.ids.size === 0) memory.groups.delete(member.key);
}

/**
 * For a light pass: adds to `scope` the waiting instances that may move:
 * those of a lock question whose answer changed (asked once per group) or
 * whose runs were rewritten since, those whose lock timeout fell due (`since`
 * from `lockWaits`), and all those waiting for another outside reason.
 */
export async function recheckWaits(
  ctx: EngineContext,
  checks: LockChecks,
  scope: PassScope,
): Promise<void> {
  const { waits, lockWaits } = ctx.memory;
  const now = ctx.now();
  // A run rewritten (its fill, its metadata) may change the lock's question or its answer: its
  // instances are gated, asking with the run as it is now; their groups are not asked with the old.
  const rewritten = new Set<string>();
  if (scope.runs.size > 0) {
    for (const [id, member] of waits.groupOf) {
      const group = waits.groups.get(member.key);
      if (group === undefined || !member.runs.some((r) => scope.runs.has(r))) continue;
      scope.addGate(group.campaign, group.task, [id]);
      rewritten.add(member.key);
    }
  }
  const groups = [...waits.groups].filter(([key]) => !rewritten.has(key)).map(([, g]) => g);
  await forEachLimited(groups, CONCURRENCY, async (group) => {
    const answer = await checks.recheck(group.asked);
    if (answer.open || answer.reason !== group.reason) {
      scope.addGate(group.campaign, group.task, group.ids);
      return;
    }
    if (group.timeoutMs === null) return;
    const timeout = group.timeoutMs;
    const due = [...group.ids].filter((id) => {
      const wait = lockWaits.get(id);
      return wait === undefined || (!wait.alerted && now - wait.since >= timeout);
    });
    scope.addGate(group.campaign, group.task, due);
  });
  for (const [task, ids] of waits.others) {
    const [campaign = '', name = ''] = task.split('\0');
    scope.addGate(campaign, name, ids);
  }
}
