import type { InstanceStatus, Job, Run, RunStatus } from '../model/types.ts';

/**
 * Queries of the overview grid and the page's plots (part of `StateStore`).
 * They must stay fast at a year of data (100,000 runs × 30 tasks): every
 * filter is served by an index kept in the transaction of each change.
 */

/** One page of the grid. Every condition given must hold. */
export interface OverviewQuery {
  campaign: string;
  /** Inclusive run range. */
  from?: number;
  to?: number;
  fill?: number;
  /** The run's global status in the campaign. */
  status?: RunStatus;
  /** Rows where this task's instance covering the run is in this status. */
  task?: { name: string; status: InstanceStatus };
  /** Runs whose number starts with these decimal digits. */
  runPrefix?: string;
  /** Case-insensitive text found in the run's type or metadata. */
  text?: string;
  order: 'asc' | 'desc';
  /** Exclusive bound in the order's direction: the last run of the previous page. */
  after?: number;
  limit: number;
}

export interface OverviewRun {
  run: Run;
  /**
   * Failed when an instance covering it failed, done when every task that
   * applies to it has a done instance, processing otherwise (and while the
   * number of applicable tasks is not known yet).
   */
  status: RunStatus;
}

/** How many tasks apply to a run in a campaign; -1 for none yet (a run still going on). */
export interface RunExpectation {
  campaign: string;
  run: number;
  /** The run's `seq` the count was computed from: a run changed since stays unknown. */
  seq: number;
  expected: number;
}

export interface TaskJobsQuery {
  campaign: string;
  task: string;
  /** Inclusive run range. */
  from?: number;
  to?: number;
  /** At most this many runs (the newest in the range). */
  limit: number;
}

export interface TaskJob {
  /** First run of the job's instance. */
  run: number;
  job: Job;
}

export interface SettledQuery {
  campaign: string;
  /** Milliseconds since the epoch, [since, until). */
  since: number;
  until: number;
  bucketMs: number;
}

export interface SettledCount {
  /** Start of the bucket (ms since the epoch). */
  bucket: number;
  task: string;
  status: 'done' | 'failed';
  count: number;
}

export interface OverviewStore {
  /** One page of the overview grid, with each run's global status. */
  overviewRuns(q: OverviewQuery): Promise<OverviewRun[]>;
  /**
   * Rows of the grid whose number of applicable tasks is not known (runs
   * added or changed, runs of a new campaign), with their run, at most `limit`.
   */
  runsWithoutExpectation(limit: number): Promise<Array<{ campaign: string; run: Run }>>;
  /** Records how many tasks apply; rows whose run changed since (`seq`) stay unknown. */
  setRunExpectations(list: readonly RunExpectation[]): Promise<void>;
  /** Forgets every expectation so that they are computed again (the deployment's tasks changed). */
  resetRunExpectations(): Promise<void>;
  /**
   * Jobs of the current attempt of the instances of (campaign, task) covering
   * runs in the range, newest runs first, then by job index and attempt.
   */
  taskJobs(q: TaskJobsQuery): Promise<TaskJob[]>;
  /** Instances of the campaign that turned done or failed, per task and time bucket. */
  settledCounts(q: SettledQuery): Promise<SettledCount[]>;
}
