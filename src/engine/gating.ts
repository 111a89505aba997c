import type { TaskConfig } from '../config/types.ts';
import { StaleStateError } from '../errors.ts';
import { jobsProblem } from '../limits.ts';
import type { Instance } from '../model/types.ts';
import type { NewJob } from '../store/contract.ts';
import { configHash, taskFingerprint } from './config-hash.ts';
import { type EngineContext, fenceOf, upstreamCampaign } from './context.ts';
import { LockChecks } from './lock-checks.ts';
import { forgetLockWait, waitOnLock } from './lock-waits.ts';

/**
 * Step 2 of a pass for one (campaign, task): an instance whose upstream
 * instances are all done for its runs and whose locks are all open gets its
 * jobs and turns `processing`; otherwise it is `waiting`, with the reason.
 * `locks` holds the pass's lock answers, shared by every task of the pass.
 */
export async function gate(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
  locks: LockChecks = new LockChecks(ctx),
  only?: ReadonlySet<number>,
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
  if (candidates.length === 0) return 0;
  const upstream = await upstreamIndex(ctx, campaign, task, candidates);
  const fingerprint = taskFingerprint(task, campaign);
  const hash = configHash(fingerprint);
  const blocking = new Map(candidates.map((i) => [i.id, blockingReason(task, i, upstream)]));
  // Locks are asked only once upstream is done: no point querying services for work that cannot start.
  const unblocked = candidates.filter((i) => blocking.get(i.id) === null);
  const closed = await locks.closedLocks(campaign, task, unblocked);
  let started = 0;
  for (const inst of candidates) {
    const blocked = blocking.get(inst.id) ?? null;
    try {
      const lock = closed.get(inst.id) ?? null;
      if (blocked === null && lock !== null) {
        await waitOnLock(ctx, inst, lock, hash);
        continue;
      }
      forgetLockWait(ctx, inst.id);
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
      const jobs = await planJobs(ctx, task, inst, upstream);
      if (typeof jobs === 'string') {
        await ctx.store.transitionInstance(inst.id, {
          ...fenceOf(ctx),
          from: inst.status,
          to: 'waiting',
          reason: jobs,
          by: 'engine',
          at: ctx.now(),
        });
        continue;
      }
      await ctx.store.startInstance(inst.id, {
        ...fenceOf(ctx),
        from: inst.status,
        configHash: hash,
        config: fingerprint,
        jobs,
        reason: null,
        by: 'engine',
        at: ctx.now(),
      });
      started++;
    } catch (err) {
      // Another controller or a reprocess moved it: the next pass sees the new state.
      if (!(err instanceof StaleStateError)) throw err;
    }
  }
  return started;
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

/** The jobs of one attempt: a fixed count, or one per upstream output file. */
async function planJobs(
  ctx: EngineContext,
  task: TaskConfig,
  inst: Instance,
  upstream: UpstreamIndex,
): Promise<NewJob[] | string> {
  const base = { attempt: 1, executor: task.executor, notBefore: null };
  if (typeof task.jobs === 'number') {
    return Array.from({ length: task.jobs }, (_, index) => ({ ...base, index, input: null }));
  }
  const ids = upstreamInstanceIds(task, inst, upstream);
  const outputs = await ctx.store.outputsForInstances(ids);
  if (outputs.length === 0) return 'upstream instances registered no outputs to split over';
  // One job per file: a million files must not become a million jobs in one transaction.
  const tooMany = jobsProblem(outputs.length, ctx.deployment.limits);
  if (tooMany !== null) return `one job per upstream output: ${tooMany}`;
  return outputs.map((o, index) => ({ ...base, index, input: o.path }));
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
