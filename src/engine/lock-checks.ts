import type { LockConfig, TaskConfig } from '../config/types.ts';
import { AutoctrlError } from '../errors.ts';
import type { Lock, LockResult, LockTarget, PassMemo } from '../locks/contract.ts';
import { errorText, humanDuration } from '../locks/options.ts';
import { lockKinds } from '../locks/registry.ts';
import type { Instance } from '../model/types.ts';
import { forEachLimited } from '../parallel.ts';
import { type LongTimer, setLongTimeout } from '../timers.ts';
import type { EngineContext } from './context.ts';

/** For a lock that does not say how long its check may take. */
export const DEFAULT_CHECK_TIMEOUT_MS = 30_000;
/** Checks in flight at once: enough that one slow service does not serialise a pass. */
const CONCURRENCY = 8;

/** What keeps an instance waiting: its first closed lock, in the task's order. */
export interface ClosedLock {
  name: string;
  reason: string;
  /** How long it may stay closed before the alert; null for never. */
  timeoutMs: number | null;
  /** What was asked, to ask it again without the instance (`recheck`); null when the lock could not be asked. */
  asked: AskedLock | null;
}

/** One question to a lock: its key and a target with that key (all targets of a key get one answer). */
export interface AskedLock {
  lock: Lock;
  key: string;
  target: LockTarget;
}

/** A lock of a task, ready to ask, or why it cannot be (unknown kind, bad options). */
export interface TaskLock {
  config: LockConfig;
  lock: Lock | null;
  problem: string | null;
}

/** The engine aborted a check that outlived its timeout. */
export class LockCheckTimeoutError extends AutoctrlError {
  constructor(readonly timeoutMs: number) {
    super(
      'lock_check_timeout',
      `no answer within ${humanDuration(timeoutMs)}: raise the lock's timeout if the service is slow`,
    );
  }
}

/**
 * Lock answers within one pass: each lock is asked once per key, whatever the
 * number of instances sharing it, and answers are forgotten with the pass
 * (a new `LockChecks` per pass), so a lock that opens is seen at the next one.
 */
export class LockChecks {
  private readonly results = new Map<Lock, Map<string, Promise<LockResult>>>();
  private readonly memos = new Map<Lock, PassMemo>();
  /**
   * Locks whose check timed out this pass are not asked again until the next
   * one: a service that is down would otherwise cost its timeout per instance,
   * and a pass over a thousand instances would take hours.
   */
  private readonly stalled = new Map<Lock, string>();
  /** Per instance whose locks are all open, the input files they named. */
  private readonly found = new Map<number, string[]>();
  private readonly ctx: EngineContext;

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
  }

  /** Per instance, its first closed lock, or null when all its locks are open. */
  async closedLocks(
    campaign: string,
    task: TaskConfig,
    instances: readonly Instance[],
  ): Promise<Map<number, ClosedLock | null>> {
    const out = new Map<number, ClosedLock | null>();
    if (task.locks.length === 0 || instances.length === 0) return out;
    const locks = await locksOf(this.ctx, task);
    const wanted = [...new Set(instances.flatMap((i) => i.runs))];
    const runs = new Map((await this.ctx.store.getRuns(wanted)).map((r) => [r.run, r]));
    await forEachLimited(instances, CONCURRENCY, async (inst) => {
      const target: LockTarget = {
        campaign,
        task: task.name,
        instanceId: inst.id,
        runs: inst.runs.flatMap((r) => runs.get(r) ?? []),
        now: this.ctx.now(),
      };
      out.set(inst.id, await this.firstClosed(locks, target));
    });
    return out;
  }

  /** The input files the open locks of an instance named, in the task's lock order (after `closedLocks`). */
  inputsOf(instanceId: number): readonly string[] {
    return this.found.get(instanceId) ?? [];
  }

  private async firstClosed(
    locks: readonly TaskLock[],
    target: LockTarget,
  ): Promise<ClosedLock | null> {
    const inputs: string[] = [];
    for (const { config, lock, problem } of locks) {
      let result: LockResult = { open: false, reason: problem ?? '' };
      let asked: AskedLock | null = null;
      if (lock !== null) {
        const key = keyOf(lock, target);
        if (typeof key === 'string') {
          asked = { lock, key, target };
          result = await this.ask(lock, key, target);
        } else result = { open: false, reason: key.error };
      }
      if (!result.open) {
        return { name: config.name, reason: result.reason, timeoutMs: config.timeoutMs, asked };
      }
      if (result.inputs !== undefined) inputs.push(...result.inputs);
    }
    if (inputs.length > 0) this.found.set(target.instanceId, inputs);
    return null;
  }

  /** Asks again what an earlier pass asked (`ClosedLock.asked`), once per key in this pass like any question. */
  recheck(asked: AskedLock): Promise<LockResult> {
    return this.ask(asked.lock, asked.key, { ...asked.target, now: this.ctx.now() });
  }

  private ask(lock: Lock, key: string, target: LockTarget): Promise<LockResult> {
    let byKey = this.results.get(lock);
    if (byKey === undefined) {
      byKey = new Map();
      this.results.set(lock, byKey);
    }
    let answer = byKey.get(key);
    if (answer === undefined) {
      const stalled = this.stalled.get(lock);
      if (stalled !== undefined) return Promise.resolve({ open: false, reason: stalled });
      answer = timedCheck(lock, target, this.memoOf(lock)).then(({ result, timedOut }) => {
        if (timedOut) {
          this.stalled.set(lock, `not asked: an earlier check this pass got ${result.reason}`);
        }
        return result;
      });
      byKey.set(key, answer);
    }
    return answer;
  }

  private memoOf(lock: Lock): PassMemo {
    let memo = this.memos.get(lock);
    if (memo === undefined) {
      memo = passMemo();
      this.memos.set(lock, memo);
    }
    return memo;
  }
}

function keyOf(lock: Lock, target: LockTarget): string | { error: string } {
  try {
    return lock.key(target);
  } catch (err) {
    return { error: `check failed: ${errorText(err)}` };
  }
}

/** A fresh `PassMemo`: what the engine gives a lock's checks for one pass. */
export function passMemo(): PassMemo {
  const shared = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, compute: () => Promise<T>): Promise<T> {
      let p = shared.get(key);
      if (p === undefined) {
        // through then() so that a compute that throws at once is a rejection, shared like one
        p = Promise.resolve().then(compute);
        shared.set(key, p);
      }
      return p as Promise<T>;
    },
  };
}

/**
 * Asks one lock, never throwing: an error is a closed lock with the error as
 * reason, and a check still running after `checkTimeoutMs` is aborted and
 * counted as closed at once, whether or not it honours its signal.
 */
export async function runCheck(
  lock: Lock,
  target: LockTarget,
  pass: PassMemo = passMemo(),
): Promise<LockResult> {
  return (await timedCheck(lock, target, pass)).result;
}

async function timedCheck(
  lock: Lock,
  target: LockTarget,
  pass: PassMemo,
): Promise<{ result: LockResult; timedOut: boolean }> {
  const ms = lock.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const abort = new AbortController();
  let timer: LongTimer | undefined;
  const timedOut = new Promise<{ result: LockResult; timedOut: boolean }>((resolve) => {
    // Chained: a check timeout of weeks must not abort after a millisecond.
    timer = setLongTimeout(
      () => {
        const err = new LockCheckTimeoutError(ms);
        abort.abort(err);
        resolve({ result: { open: false, reason: err.message }, timedOut: true });
      },
      ms,
      { ref: true },
    );
  });
  const checked = Promise.resolve()
    .then(() => lock.check(target, abort.signal, pass))
    .then(asResult, (err: unknown) => ({ open: false, reason: `check failed: ${errorText(err)}` }))
    .then((result) => ({ result, timedOut: false }));
  try {
    return await Promise.race([checked, timedOut]);
  } finally {
    timer?.clear();
  }
}

function asResult(value: unknown): LockResult {
  const r = value as Partial<LockResult> | null;
  if (typeof r !== 'object' || r === null || typeof r.open !== 'boolean') {
    return { open: false, reason: 'check gave no { open, reason }: fix the lock kind' };
  }
  const result: LockResult = { open: r.open, reason: typeof r.reason === 'string' ? r.reason : '' };
  if (r.inputs !== undefined) {
    if (!Array.isArray(r.inputs) || !r.inputs.every((p) => typeof p === 'string' && p !== '')) {
      return {
        open: false,
        reason: 'check gave inputs that are not a list of paths: fix the lock kind',
      };
    }
    result.inputs = r.inputs;
  }
  return result;
}

/** Locks are created once per task and engine, except those that failed: a plugin may fix them. */
async function locksOf(ctx: EngineContext, task: TaskConfig): Promise<TaskLock[]> {
  const byTask = ctx.memory.locks;
  let locks = byTask.get(task);
  if (locks === undefined) {
    locks = Promise.all(task.locks.map((config) => createLock(ctx, task, config)));
    byTask.set(task, locks);
  }
  const list = await locks;
  if (list.some((l) => l.problem !== null)) byTask.delete(task);
  return list;
}

async function createLock(
  ctx: EngineContext,
  task: TaskConfig,
  config: LockConfig,
): Promise<TaskLock> {
  const fail = (problem: string): TaskLock => {
    ctx.logger.warn({ task: task.name, lock: config.name }, problem);
    return { config, lock: null, problem };
  };
  const kind = lockKinds.get(config.kind);
  if (kind === undefined) {
    const known = [...lockKinds.keys()].join(', ');
    return fail(
      `unknown lock kind '${config.kind}' (known: ${known}): fix the deployment file or add the plugin that defines it`,
    );
  }
  const parsed = kind.options.safeParse(config.options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join('.') || 'options'}: ${i.message}`,
    );
    return fail(`bad options (${problems.join('; ')}): run autoctrl validate`);
  }
  try {
    const logger = ctx.logger.child({ task: task.name, lock: config.name });
    const lock = await kind.create(parsed.data, {
      logger,
      dir: ctx.deployment.dir,
      store: ctx.store,
    });
    return { config, lock, problem: null };
  } catch (err) {
    return fail(`cannot set up the ${config.kind} lock: ${errorText(err)}`);
  }
}
