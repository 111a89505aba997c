import type { InstanceResult, JobResult, OutputResult } from '../../mirror/reader.ts';
import { PROMPT } from '../../model/campaign.ts';

/** What a dev job taken from prod asks: the prod job standing for it. */
export interface MirrorRequest {
  jobId: number;
  attempt: number;
  campaign: string;
  task: string;
  /** The dev instance's runs, ascending. */
  runs: number[];
  /** The job's position in its instance: prod's job at the same position stands for it. */
  index: number;
}

/** What prod says for one request. */
export type Decision =
  | { kind: 'wait'; reason: string }
  | { kind: 'fail'; reason: string }
  | { kind: 'copy'; job: JobResult; outputs: OutputResult[]; instanceId: number };

const sameRuns = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((r, i) => r === b[i]);

/**
 * Decides from prod's instances of the request's task (in its campaign, and
 * in `prompt`, which a dev campaign of a name prod lacks falls back to):
 * copy prod's job at the same position once its instance is done, wait
 * while it is not, fail when it failed or groups the runs differently (then
 * no prod result can stand for dev's: dev must run the task itself).
 */
export function decide(
  req: MirrorRequest,
  own: readonly InstanceResult[],
  prompt: readonly InstanceResult[],
): Decision {
  const pool = own.length > 0 || req.campaign === PROMPT ? own : prompt;
  const where = pool === own ? req.campaign : PROMPT;
  const runsText = req.runs.join(',');
  const match = pool.find((r) => sameRuns(r.instance.runs, req.runs));
  if (match === undefined) {
    const other = pool.find((r) => r.instance.runs.some((x) => req.runs.includes(x)));
    if (other !== undefined) {
      return {
        kind: 'fail',
        reason: `prod groups ${req.task} differently (its instance ${other.instance.id} covers runs ${other.instance.runs.join(',')}, this one ${runsText}): run ${req.task} in dev (mirror.tasks) or group it as prod does`,
      };
    }
    return { kind: 'wait', reason: `prod has no ${req.task} for runs ${runsText} in ${where} yet` };
  }
  const inst = match.instance;
  if (inst.status === 'failed') {
    return {
      kind: 'fail',
      reason: `prod's ${req.task} failed for runs ${runsText} (instance ${inst.id}: ${inst.reason ?? 'no reason given'})`,
    };
  }
  if (inst.status !== 'done') {
    return {
      kind: 'wait',
      reason: `prod's ${req.task} for runs ${runsText} is ${inst.status}${inst.reason ? ` (${inst.reason})` : ''}`,
    };
  }
  const job = match.jobs.find((j) => j.index === req.index);
  if (job === undefined) {
    return {
      kind: 'fail',
      reason: `prod's ${req.task} instance ${inst.id} has ${match.jobs.length} job(s), none at position ${req.index}: dev splits ${req.task} differently; give it prod's jobs: setting or run it in dev (mirror.tasks)`,
    };
  }
  return {
    kind: 'copy',
    job,
    outputs: match.outputs.filter((o) => o.jobId === job.id),
    instanceId: inst.id,
  };
}
