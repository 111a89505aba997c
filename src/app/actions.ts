import type { Deployment } from '../config/types.ts';
import { AutoctrlError, NotFoundError, StaleStateError } from '../errors.ts';
import { canTransitionInstance } from '../model/transitions.ts';
import type { Instance, InstanceStatus } from '../model/types.ts';
import type { InstanceChange, StateStore } from '../store/contract.ts';

/**
 * What people do to instances (the CLI and the API share it): each action is
 * a transition recorded with who asked (`by`: `cli:<user>`,
 * `operator:<name>`) and why.
 */

/** An instance whose status does not allow the action now. */
export class ActionRefusedError extends AutoctrlError {
  constructor(
    readonly instanceId: number,
    readonly status: string,
    message: string,
  ) {
    super('illegal_transition', `instance ${instanceId} is ${status}: ${message}`);
  }
}

interface Who {
  by: string;
  reason?: string | undefined;
  now?: () => number;
}

/** What a reprocess did: the instances sent back (asked for, then downstream) and those left as they were. */
export interface ReprocessResult {
  reprocessed: number[];
  skipped: Array<{ id: number; status: InstanceStatus | null }>;
}

/**
 * Sends one instance back to `new` as a new attempt: the engine gates and
 * runs it again with the configuration in force. Refused while it is new or
 * processing (wait for it to settle). With `downstream`, see `reprocessRange`.
 */
export async function reprocessInstance(
  store: StateStore,
  id: number,
  who: Who,
  downstream?: { deployment: Deployment },
): Promise<Instance & { cascade?: ReprocessResult }> {
  const inst = await store.getInstance(id);
  if (inst === null) throw new NotFoundError('instance', id);
  if (!canTransitionInstance(inst.status, 'new')) {
    throw new ActionRefusedError(
      id,
      inst.status,
      'wait for it to settle (done, failed or waiting), then reprocess',
    );
  }
  if (downstream === undefined) return store.transitionInstance(id, reprocessChange(inst, who));
  const cascade = await reprocessWithDownstream(store, downstream.deployment, [inst], who);
  if (!cascade.reprocessed.includes(id)) {
    const now = cascade.skipped.find((s) => s.id === id)?.status ?? 'missing';
    throw new StaleStateError('instance', id, inst.status, now);
  }
  return { ...((await store.getInstance(id)) as Instance), cascade };
}

/**
 * The instances that depend on `seeds` in their campaign, transitively: for
 * each task downstream of one already collected (in the deployment's
 * topological order), its instances covering any run of the collected
 * upstream instances. A grouped downstream (a fill, a luminosity block)
 * covers more runs than its upstream, and its own downstream follows those.
 */
async function dependents(
  store: StateStore,
  deployment: Deployment,
  seeds: readonly Instance[],
): Promise<Instance[]> {
  const found: Instance[] = [];
  for (const campaign of new Set(seeds.map((s) => s.campaign))) {
    const byTask = new Map<string, Instance[]>();
    for (const s of seeds.filter((x) => x.campaign === campaign))
      byTask.set(s.task, [...(byTask.get(s.task) ?? []), s]);
    for (const task of deployment.tasks) {
      const runs = new Set(task.after.flatMap((up) => byTask.get(up) ?? []).flatMap((i) => i.runs));
      if (runs.size === 0) continue;
      const seen = new Set((byTask.get(task.name) ?? []).map((i) => i.id));
      const more = (await store.instancesForRuns(campaign, task.name, [...runs])).filter(
        (i) => !seen.has(i.id),
      );
      byTask.set(task.name, [...(byTask.get(task.name) ?? []), ...more]);
      found.push(...more);
    }
  }
  return found;
}

/**
 * Sends `seeds` and every instance depending on them back to `new`, in one
 * store transaction with an event each naming the instances asked for
 * (`data.requested`). Downstream instances still processing are left to
 * finish and listed as skipped: their jobs never receive the superseded
 * upstream outputs (the store hands over current attempts only).
 */
async function reprocessWithDownstream(
  store: StateStore,
  deployment: Deployment,
  seeds: readonly Instance[],
  who: Who,
): Promise<ReprocessResult> {
  const down = await dependents(store, deployment, seeds);
  const requested = seeds.map((s) => s.id);
  const { reprocessed, skipped } = await store.reprocessInstances(
    [...requested, ...down.map((d) => d.id)],
    {
      reason: who.reason ?? 'reprocess requested',
      by: who.by,
      at: (who.now ?? Date.now)(),
      data: { action: 'reprocess', downstream: true, requested },
    },
  );
  return { reprocessed: reprocessed.map((i) => i.id), skipped };
}

/** The transition of a reprocess: back to `new`, a new attempt, naming who asked. */
function reprocessChange(inst: Instance, who: Who): InstanceChange {
  return {
    from: inst.status,
    to: 'new',
    reason: who.reason ?? 'reprocess requested',
    by: who.by,
    at: (who.now ?? Date.now)(),
    data: { action: 'reprocess' },
  };
}

/**
 * Runs a failed instance's jobs again, as a new attempt of the instance (the
 * engine has no partial attempts: every job of the task runs, the failed ones
 * are listed in the event). Only for failed instances.
 */
export async function resubmitInstance(store: StateStore, id: number, who: Who): Promise<Instance> {
  const inst = await store.getInstance(id);
  if (inst === null) throw new NotFoundError('instance', id);
  if (inst.status !== 'failed') {
    throw new ActionRefusedError(
      id,
      inst.status,
      'only a failed instance is resubmitted; use reprocess to run it again',
    );
  }
  const failed = (await store.jobsForInstance(id))
    .filter((j) => j.instanceAttempt === inst.attempt && j.status === 'failed')
    .map((j) => j.id);
  return store.transitionInstance(id, {
    from: 'failed',
    to: 'new',
    reason: who.reason ?? `resubmit of ${failed.length} failed job(s) requested`,
    by: who.by,
    at: (who.now ?? Date.now)(),
    data: { action: 'resubmit', failedJobs: failed },
  });
}

/**
 * Reprocesses the instances of one task covering a run range; instances not
 * settled yet are skipped and listed (a concurrent change counts as skipped).
 * With `downstream`, the instances depending on them in the same campaign go
 * back too, all in one transaction (see `reprocessWithDownstream`).
 */
export async function reprocessRange(
  store: StateStore,
  q: { campaign: string; task: string; from: number; to: number },
  who: Who,
  downstream?: { deployment: Deployment },
): Promise<ReprocessResult> {
  const found = await store.findInstances({
    campaign: q.campaign,
    task: q.task,
    runFrom: q.from,
    runTo: q.to,
  });
  if (downstream !== undefined)
    return reprocessWithDownstream(store, downstream.deployment, found, who);
  const reprocessed: number[] = [];
  const skipped: ReprocessResult['skipped'] = [];
  for (const inst of found) {
    if (!canTransitionInstance(inst.status, 'new')) {
      skipped.push({ id: inst.id, status: inst.status });
      continue;
    }
    try {
      await store.transitionInstance(inst.id, reprocessChange(inst, who));
      reprocessed.push(inst.id);
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      skipped.push({ id: inst.id, status: err.actual as InstanceStatus | null });
    }
  }
  return { reprocessed, skipped };
}
