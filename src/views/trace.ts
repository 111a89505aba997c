import type { InstanceStatus } from '../model/types.ts';
import type { InstanceAttempt, StateStore } from '../store/contract.ts';
import type { GitState } from '../trace/code.ts';
import { codeOf, diffConfigs } from './attempt-diff.ts';

/** Which configuration and code produced each output of one run: a row per task. */
export interface RunTrace {
  run: number;
  campaign: string;
  tasks: TaskTrace[];
}

export interface TaskTrace {
  task: string;
  instanceId: number;
  attempt: number;
  status: InstanceStatus;
  reason: string | null;
  /** The current attempt's configuration; null before it started. */
  configHash: string | null;
  git: GitState[];
  image: string | null;
  autoctrl: string | null;
  /** Code files whose content differs from the previous started attempt's (empty for the first). */
  changedFiles: string[];
  outputs: TracedOutput[];
}

export interface TracedOutput {
  path: string;
  kind: string | null;
  jobId: number;
  /** The instance attempt whose job registered it, and that attempt's configuration. */
  attempt: number;
  configHash: string | null;
}

/** The trace of `run` in `campaign`, tasks in the deployment's order (`taskOrder`), others after. */
export async function traceRun(
  store: StateStore,
  run: number,
  campaign: string,
  taskOrder: readonly string[],
): Promise<RunTrace> {
  const instances = await store.findInstances({ campaign, runFrom: run, runTo: run });
  const rank = (t: string) => {
    const i = taskOrder.indexOf(t);
    return i < 0 ? taskOrder.length : i;
  };
  instances.sort((a, b) => rank(a.task) - rank(b.task) || a.id - b.id);
  const ids = instances.map((i) => i.id);
  const [attempts, jobs, outputs] = await Promise.all([
    store.attemptsForInstances(ids),
    store.jobsForInstances(ids),
    // Every attempt's outputs (`outputsForInstances` has the current attempt's only): the trace tells them apart.
    store.listOutputs({ campaign, runFrom: run, runTo: run, limit: 10_000 }),
  ]);
  const attemptOfJob = new Map(jobs.map((j) => [j.id, j.instanceAttempt]));
  const byInstance = new Map<number, InstanceAttempt[]>();
  for (const a of attempts)
    byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a]);
  const configs = new Map<string, unknown>();
  for (const hash of new Set(attempts.map((a) => a.configHash))) {
    configs.set(hash, await store.getConfig(hash));
  }
  const tasks = instances.map((inst): TaskTrace => {
    const started = byInstance.get(inst.id) ?? [];
    const current = inst.configHash === null ? null : configs.get(inst.configHash);
    const code = current === undefined || current === null ? null : codeOf(current);
    const previous = started.filter((a) => a.attempt < inst.attempt).at(-1);
    const changedFiles =
      previous === undefined || current === null || current === undefined
        ? []
        : diffConfigs(configs.get(previous.configHash), current)
            .filter((c) => c.what === 'file')
            .map((c) => c.key);
    const hashOfAttempt = new Map(started.map((a) => [a.attempt, a.configHash]));
    return {
      task: inst.task,
      instanceId: inst.id,
      attempt: inst.attempt,
      status: inst.status,
      reason: inst.reason,
      configHash: inst.configHash,
      git: code?.git ?? [],
      image: code?.image ?? null,
      autoctrl: code?.autoctrl || null,
      changedFiles,
      outputs: outputs
        .filter((o) => o.instanceId === inst.id)
        .map((o) => {
          const attempt = attemptOfJob.get(o.jobId) ?? inst.attempt;
          return {
            path: o.path,
            kind: o.kind,
            jobId: o.jobId,
            attempt,
            configHash: hashOfAttempt.get(attempt) ?? null,
          };
        }),
    };
  });
  return { run, campaign, tasks };
}
