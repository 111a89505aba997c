import type { TaskConfig } from '../config/types.ts';
import { StaleStateError } from '../errors.ts';
import { ImageDigestError } from '../executors/container/digest.ts';
import { jobsProblem } from '../limits.ts';
import type { Instance } from '../model/types.ts';
import type { NewJob } from '../store/contract.ts';
import { CodeCapture } from '../trace/code.ts';
import { configHash, taskFingerprint } from './config-hash.ts';
import { type EngineContext, fenceOf, upstreamCampaign } from './context.ts';
import { LockChecks } from './lock-checks.ts';
import { forgetLockWait, waitOnLock } from './lock-waits.ts';
import type { StartedInstances } from './submit.ts';
import { forgetWait, noteWait } from './wait-memory.ts';

/**
 * Step 2 of a pass for one (campaign, task): an instance whose upstream
 * instances are all done for its runs and whose locks are all open gets its
 * jobs and turns `processing`; otherwise it is `waiting`, with the reason.
 * `locks` holds the pass's lock answers, shared by every task of the pass;
 * the instances started are added to `started`. Returns how many started.
 */
export async function gate(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
  locks: LockChecks = new LockChecks(ctx),
  only?: ReadonlySet<number>,
  started?: StartedInstances,
): Promise<number> {
  const candidates =
    only === undefined
      ? await ctx.store.instancesByStatus(campaign, task.name, ['new', 'waiting'])
      : only.size === 0
        ? []
        : (await ctx.store.getInstances([...only])).filter(
            (i) =>
              i.campaign === campaign &&
              i.task === task.name &&
              (i.status === 'new' || i.status === 'waiting'),
          );
  const { waits } = ctx.memory;
  if (only !== undefined && candidates.length < only.size) {
    const found = new Set(candidates.map((i) => i.id));
    for (const id of only) if (!found.has(id)) forgetWait(waits, { id, campaign, task: task.name });
  }
  if (candidates.length === 0) return 0;
  const upstream = await upstreamIndex(ctx, campaign, task, candidates);
  ctx.memory.code ??= new CodeCapture(ctx.logger);
  const capture = ctx.memory.code;
  const config = once(() => configOf(capture, task, campaign));
  const blocking = new Map(candidates.map((i) => [i.id, blockingReason(task, i, upstream)]));
  // Locks are asked only once upstream is done: no point querying services for work that cannot start.
  const unblocked = candidates.filter((i) => blocking.get(i.id) === null);
  const closed = await locks.closedLocks(campaign, task, unblocked);
  let count = 0;
  for (const inst of candidates) {
    const blocked = blocking.get(inst.id) ?? null;
    try {
      const lock = closed.get(inst.id) ?? null;
      if (blocked === null && lock !== null) {
        const c = await config();
        await waitOnLock(ctx, inst, lock, typeof c === 'string' ? null : c.hash);
        noteWait(waits, inst, { lock });
        continue;
      }
      forgetLockWait(ctx, inst.id);
      noteWait(waits, inst, 'none');
      if (blocked !== null) {
        if (inst.status === 'new' || inst.reason !== blocked) {
          await ctx.store.transitionInstance(inst.id, {
            ...fenceOf(ctx),
            from: inst.status,
            to: 'waiting',
            reason: blocked,
            by: 'engine',
            at: ctx.now(),
          });
        }
        continue;
      }
      const c = await config();
      const jobs =
        typeof c === 'string'
          ? c
          : await planJobs(ctx, task, inst, upstream, locks.inputsOf(inst.id));
      if (typeof c === 'string' || typeof jobs === 'string') {
        noteWait(waits, inst, 'outside');
        await ctx.store.transitionInstance(inst.id, {
          ...fenceOf(ctx),
          from: inst.status,
          to: 'waiting',
          reason: typeof c === 'string' ? c : String(jobs),
          by: 'engine',
          at: ctx.now(),
        });
        continue;
      }
      const start = await ctx.store.startInstance(inst.id, {
        ...fenceOf(ctx),
        from: inst.status,
        configHash: c.hash,
        config: c.fingerprint,
        jobs,
        reason: null,
        by: 'engine',
        at: ctx.now(),
      });
      started?.set(inst.id, start);
      count++;
    } catch (err) {
      // Another controller or a reprocess moved it: the next pass sees the new state.
      if (!(err instanceof StaleStateError)) throw err;
      forgetWait(waits, inst);
    }
  }
  return count;
}

/**
 * The configuration an instance of `task` starts with now, code included, or
 * why it cannot start yet (an image not pulled: it waits, with that reason).
 */
async function configOf(
  capture: CodeCapture,
  task: TaskConfig,
  campaign: string,
): Promise<{ fingerprint: Record<string, unknown>; hash: string } | string> {
  try {
    const fingerprint = taskFingerprint(task, campaign, await capture.record(task));
    return { fingerprint, hash: configHash(fingerprint) };
  } catch (err) {
    if (err instanceof ImageDigestError) return err.message;
    throw err;
  }
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= make();
    return p;
  };
}

/** Per upstream task, run → the instance covering it. */
type UpstreamIndex = Map<string, Map<number, Instance>>;

async function upstreamIndex(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
  candidates: readonly Instance[],
): Promise<UpstreamIndex> {
  const runs = [...new Set(candidates.flatMap((i) => i.runs))];
  const index: UpstreamIndex = new Map();
  for (const up of task.after) {
    const byRun = new Map<number, Instance>();
    const from = upstreamCampaign(ctx, campaign, up);
    for (const inst of await ctx.store.instancesForRuns(from, up, runs)) {
      for (const r of inst.runs) byRun.set(r, inst);
    }
    index.set(up, byRun);
  }
  return index;
}

function blockingReason(task: TaskConfig, inst: Instance, upstream: UpstreamIndex): string | null {
  for (const up of task.after) {
    const byRun = upstream.get(up);
    for (const run of inst.runs) {
      const u = byRun?.get(run);
      if (u === undefined) return `upstream ${up} has no instance for run ${run} yet`;
      if (u.status !== 'done') return `upstream ${up} is ${u.status} for run ${run}`;
    }
  }
  return null;
}

/** The jobs of one attempt: a fixed count, or one per input file (upstream outputs, then files its locks found). */
async function planJobs(
  ctx: EngineContext,
  task: TaskConfig,
  inst: Instance,
  upstream: UpstreamIndex,
  lockInputs: readonly string[],
): Promise<NewJob[] | string> {
  const base = { attempt: 1, executor: task.executor, notBefore: null };
  if (typeof task.jobs === 'number') {
    return Array.from({ length: task.jobs }, (_, index) => ({ ...base, index, input: null }));
  }
  const ids = upstreamInstanceIds(task, inst, upstream);
  const outputs = await ctx.store.outputsForInstances(ids);
  const inputs = [...outputs.map((o) => o.path), ...lockInputs];
  if (inputs.length === 0) {
    return 'no inputs to split over: upstream instances registered no outputs and no lock named files';
  }
  const tooMany = jobsProblem(inputs.length, ctx.deployment.limits);
  if (tooMany !== null) return `one job per input: ${tooMany}`;
  return inputs.map((input, index) => ({ ...base, index, input }));
}

export function upstreamInstanceIds(
  task: TaskConfig,
  inst: Instance,
  upstream: UpstreamIndex,
): number[] {
  const ids = new Set<number>();
  for (const up of task.after) {
    for (const run of inst.runs) {
      const u = upstream.get(up)?.get(run);
      if (u !== undefined) ids.add(u.id);
    }
  }
  return [...ids];
}
