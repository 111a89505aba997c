import type { TaskConfig } from '../config/types.ts';
import { StaleStateError } from '../errors.ts';
import type { Instance, Job } from '../model/types.ts';
import { type EngineContext, fenceOf } from './context.ts';

/**
 * Step 3 of a pass for one (campaign, task): a processing instance whose jobs
 * are all done turns `done`; one with a job out of attempts turns `failed`.
 * `only` limits it to those instances (a triggered pass); otherwise every
 * processing instance is looked at. Returns the instances that settled.
 */
export async function settleInstances(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
  only?: ReadonlySet<number>,
): Promise<Instance[]> {
  if (only?.size === 0) return [];
  const processing =
    only === undefined
      ? await ctx.store.instancesByStatus(campaign, task.name, ['processing'])
      : (await ctx.store.getInstances([...only])).filter(
          (i) => i.campaign === campaign && i.task === task.name && i.status === 'processing',
        );
  if (processing.length === 0) return [];
  const jobsOf = new Map<number, Job[]>();
  for (const j of await ctx.store.jobsForInstances(processing.map((i) => i.id))) {
    const list = jobsOf.get(j.instanceId);
    if (list === undefined) jobsOf.set(j.instanceId, [j]);
    else list.push(j);
  }
  const settled: Instance[] = [];
  for (const inst of processing) {
    const jobs = jobsOf.get(inst.id) ?? [];
    const verdict = judge(latestAttempts(jobs.filter((j) => j.instanceAttempt === inst.attempt)));
    if (verdict === null) continue;
    try {
      settled.push(
        await ctx.store.transitionInstance(inst.id, {
          ...fenceOf(ctx),
          from: 'processing',
          to: verdict.status,
          reason: verdict.reason,
          by: 'engine',
          at: ctx.now(),
        }),
      );
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
    }
  }
  return settled;
}

/** The last attempt of each job. */
function latestAttempts(jobs: readonly Job[]): Job[] {
  const byIndex = new Map<number, Job>();
  for (const j of jobs) {
    const seen = byIndex.get(j.index);
    if (seen === undefined || j.attempt > seen.attempt) byIndex.set(j.index, j);
  }
  return [...byIndex.values()];
}

function judge(jobs: readonly Job[]): { status: 'done' | 'failed'; reason: string | null } | null {
  if (jobs.length === 0) return null;
  const failed = jobs.find((j) => j.status === 'failed');
  if (failed !== undefined) {
    const why = failed.reason ?? `exit code ${failed.exitCode ?? 'unknown'}`;
    return {
      status: 'failed',
      reason: `job ${failed.index} failed after ${failed.attempt} attempt${failed.attempt > 1 ? 's' : ''}: ${why}`,
    };
  }
  return jobs.every((j) => j.status === 'done') ? { status: 'done', reason: null } : null;
}
