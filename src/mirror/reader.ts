import type { Instance, Job, Output, Run } from '../model/types.ts';

/**
 * Read access to another deployment (prod, for a dev mirror or `diff-env`),
 * through its API or its store opened read-only. Nothing here writes.
 */
export interface DeploymentReader {
  /** What it reads, for messages: a URL without password. */
  readonly label: string;
  /**
   * Runs added or changed since `cursor` (null: from the beginning), at most
   * about `limit`, and where to continue. A run may come again.
   */
  runsSince(cursor: string | null, limit: number): Promise<{ runs: Run[]; cursor: string | null }>;
  /** The instances of `campaign` (and `task`, if given) covering a run in [from, to], with their current results. */
  results(q: ResultQuery): Promise<InstanceResult[]>;
  close(): Promise<void>;
}

export interface ResultQuery {
  campaign: string;
  task?: string;
  from: number;
  to: number;
}

export type InstanceHead = Pick<
  Instance,
  'id' | 'campaign' | 'task' | 'groupKey' | 'runs' | 'status' | 'reason' | 'attempt' | 'configHash'
>;
export type JobResult = Pick<
  Job,
  'id' | 'index' | 'attempt' | 'instanceAttempt' | 'status' | 'fields' | 'reason' | 'exitCode'
>;
export type OutputResult = Pick<Output, 'jobId' | 'path' | 'kind' | 'meta'>;

/** An instance as it stands: the last attempt of each of its jobs (ascending by index) and their outputs. */
export interface InstanceResult {
  instance: InstanceHead;
  jobs: JobResult[];
  outputs: OutputResult[];
}

/**
 * The current results of an instance from all it ever had: jobs of its
 * current attempt only (a reprocess supersedes the older ones), the last try
 * of each, and the outputs of those tries alone.
 */
export function currentResult(
  instance: InstanceHead,
  jobs: readonly JobResult[],
  outputs: readonly OutputResult[],
): InstanceResult {
  const byIndex = new Map<number, JobResult>();
  for (const j of jobs) {
    if (j.instanceAttempt !== instance.attempt) continue;
    const seen = byIndex.get(j.index);
    if (seen === undefined || seen.attempt < j.attempt) byIndex.set(j.index, j);
  }
  const current = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const ids = new Set(current.map((j) => j.id));
  return { instance, jobs: current, outputs: outputs.filter((o) => ids.has(o.jobId)) };
}
