import type { EngineContext } from '../engine/context.ts';
import { jobRef } from '../engine/launch.ts';
import { AutoctrlError, NotFoundError } from '../errors.ts';
import type { Job } from '../model/types.ts';
import { ActionRefusedError } from './actions.ts';

/** The jobs' executor cannot release held jobs (it has no `release`), or is not open in this process. */
export class ReleaseNotSupportedError extends AutoctrlError {
  constructor(
    readonly executor: string,
    why: string,
  ) {
    super('not_supported', `executor ${executor} ${why}`);
  }
}

/**
 * Releases the held jobs of an instance's current attempt in their batch
 * system (HTCondor's `condor_release`), with an event per job naming who
 * asked. Refused when none is held, or when their executor cannot release:
 * nothing is released then. The jobs' state changes when the engine next
 * polls their executor.
 */
export async function releaseHeldJobs(
  ctx: Pick<EngineContext, 'store' | 'executors' | 'deployment' | 'campaigns' | 'now'>,
  instanceId: number,
  who: { by: string; reason?: string | undefined },
): Promise<{ released: number[] }> {
  const inst = await ctx.store.getInstance(instanceId);
  if (inst === null) throw new NotFoundError('instance', instanceId);
  const held = (await ctx.store.jobsForInstance(instanceId)).filter(
    (j) =>
      j.instanceAttempt === inst.attempt &&
      j.queueState === 'held' &&
      (j.status === 'idle' || j.status === 'running'),
  );
  if (held.length === 0) {
    throw new ActionRefusedError(
      instanceId,
      inst.status,
      'none of its jobs is held (`autoctrl show` says where each waits)',
    );
  }
  const byExecutor = new Map<string, Job[]>();
  for (const j of held) byExecutor.set(j.executor, [...(byExecutor.get(j.executor) ?? []), j]);
  const plan = [...byExecutor].map(([name, jobs]) => {
    const executor = ctx.executors.get(name);
    if (executor === undefined)
      throw new ReleaseNotSupportedError(
        name,
        'is not open in this process (pinned to another host): release from a controller on that host',
      );
    if (executor.release === undefined)
      throw new ReleaseNotSupportedError(
        name,
        'cannot release held jobs (its batch system has no such action)',
      );
    return { executor, release: executor.release.bind(executor), jobs };
  });
  for (const { release, jobs } of plan) await release(jobs.map((j) => jobRef(ctx, j)));
  for (const { executor, jobs } of plan) {
    for (const j of jobs) {
      await ctx.store.appendEvent({
        at: ctx.now(),
        entity: 'job',
        entityId: String(j.id),
        campaign: j.campaign,
        task: j.task,
        instanceId: j.instanceId,
        from: null,
        to: null,
        reason: who.reason ?? `released by ${who.by} (was held: ${j.reason ?? 'no reason given'})`,
        by: who.by,
        configHash: inst.configHash,
        data: { action: 'release', executor: executor.name, attempt: j.attempt },
      });
    }
  }
  return { released: held.map((j) => j.id) };
}
