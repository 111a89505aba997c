import { AutoctrlError, NotFoundError, StaleStateError } from '../errors.ts';
import { canTransitionInstance } from '../model/transitions.ts';
import type { Instance } from '../model/types.ts';
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

/**
 * Sends one instance back to `new` as a new attempt: the engine gates and
 * runs it again with the configuration in force. Refused while it is new or
 * processing (wait for it to settle).
 */
export async function reprocessInstance(
  store: StateStore,
  id: number,
  who: Who,
): Promise<Instance> {
  const inst = await store.getInstance(id);
  if (inst === null) throw new NotFoundError('instance', id);
  if (!canTransitionInstance(inst.status, 'new')) {
    throw new ActionRefusedError(
      id,
      inst.status,
      'wait for it to settle (done, failed or waiting), then reprocess',
    );
  }
  return store.transitionInstance(id, reprocessChange(inst, who));
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
 */
export async function reprocessRange(
  store: StateStore,
  q: { campaign: string; task: string; from: number; to: number },
  who: Who,
): Promise<{ reprocessed: number[]; skipped: Array<{ id: number; status: string }> }> {
  const found = await store.findInstances({
    campaign: q.campaign,
    task: q.task,
    runFrom: q.from,
    runTo: q.to,
  });
  const reprocessed: number[] = [];
  const skipped: Array<{ id: number; status: string }> = [];
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
      skipped.push({ id: inst.id, status: err.actual ?? 'missing' });
    }
  }
  return { reprocessed, skipped };
}
