import type { TaskConfig } from '../src/config/types.ts';
import type { InstanceStatus, JobStatus } from '../src/model/types.ts';
import type { BenchTask } from './harness.ts';
import { benchTasks } from './lib.ts';

/**
 * The shape of a year of prompt processing that the bulk fills of both
 * backends write (`api-store.ts` for SQLite, `pg-store.ts` for PostgreSQL):
 * which runs, which instance is in which state with which reason, which
 * job each has, and the reprocessing campaigns. One place, so the two
 * stores hold the same year.
 */

export const FIRST_RUN = 300_000;
export const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
/** Every `CHAIN` tasks a new chain (workflow) starts: `benchTasks`' default. */
export const CHAIN = 5;
/** The chain position whose task waits on a condition (a conditions tag, say) in `settled` stores. */
export const LOCKED_POS = 3;
export const LOCK_NAME = 'conditions';

/**
 * `live`: the newest runs still moving through their chains (new, processing
 * with a running job, waiting on upstream), what the overview benchmarks show.
 * `settled`: what the engine leaves when it has nothing to do: done, failed
 * for good (no retries left), and the newest runs waiting on a closed lock
 * with their downstream waiting on them; no job in flight, since a running
 * job of the bench's fill has no process an executor could confirm.
 */
export type Mix = 'live' | 'settled';

export interface Cell {
  status: InstanceStatus;
  reason: string | null;
  /** The instance's one job, or none (not started). */
  job: JobStatus | null;
}

export interface YearCampaign {
  name: string;
  first: number;
  count: number;
  /** Index of its workflow: tasks `workflow * CHAIN` … `+ CHAIN - 1`. */
  workflow: number;
  /** Runs (from its first) processed to the end; the rest waits on the lock. */
  settled: number;
}

/** Three reprocessing campaigns of 20,000 runs over one workflow each: one finished, two under way. */
export function yearCampaigns(runs: number, tasks: number): YearCampaign[] {
  const count = Math.min(20_000, Math.floor(runs / 5));
  const workflows = Math.max(1, Math.floor(tasks / CHAIN));
  return [1, 0.75, 0.95].map((done, c) => ({
    name: `rereco-${c}`,
    first: FIRST_RUN + c * count,
    count,
    workflow: c % workflows,
    settled: Math.floor(count * done),
  }));
}

export function yearTasks(tasks: number): TaskConfig[] {
  return benchTasks(tasks, CHAIN);
}

/** The year's tasks in a daemon's deployment (`writeDeployment`): the locked position waits on `conditions-ready`. */
export function yearDeployTasks(tasks: number): BenchTask[] {
  return yearTasks(tasks).map((t, i) => ({
    name: t.name,
    after: t.after,
    ...(i % CHAIN === LOCKED_POS
      ? { locks: [{ kind: 'file', name: LOCK_NAME, path: 'conditions-ready' }] }
      : {}),
  }));
}

/** Run `i` of the year (0 the oldest): one an hour, eight a fill, 2 % cosmics. */
export function yearRun(i: number) {
  return {
    run: FIRST_RUN + i,
    fill: 8000 + Math.floor(i / 8),
    start: T0 + i * HOUR,
    end: T0 + i * HOUR + 3_000_000,
    lumi: 50 + (i % 100),
    type: i % 50 === 7 ? 'cosmics' : 'collisions',
    meta: {
      global_tag: `140X_dataRun3_Prompt_v${1 + Math.floor(i / 20_000)}`,
      era: 'Run2024',
    },
  };
}

const done: Cell = { status: 'done', reason: null, job: 'done' };
const failed: Cell = { status: 'failed', reason: 'job 0 failed: exit code 1', job: 'failed' };

function upstreamWaiting(task: string, run: number, status: InstanceStatus): Cell {
  return { status: 'waiting', reason: `upstream ${task} is ${status} for run ${run}`, job: null };
}

/** The lock's reason names its path, which depends on the deployment's directory: the daemon rewrites it once. */
const lockWait: Cell = {
  status: 'waiting',
  reason: `lock ${LOCK_NAME}: no file conditions-ready`,
  job: null,
};

const taskName = (t: number) => `t${String(t).padStart(2, '0')}`;

/**
 * Done, failed at random, or waiting on its failed upstream (as the engine
 * leaves an instance whose upstream failed for good).
 */
function settledCell(t: number, run: number, failedAt: (t: number) => boolean): Cell {
  for (let k = t - (t % CHAIN); k < t; k++)
    if (failedAt(k))
      return upstreamWaiting(taskName(t - 1), run, k === t - 1 ? 'failed' : 'waiting');
  return failedAt(t) ? failed : done;
}

/** A prompt instance: task number `t`, its run `age` runs from the newest. */
export function promptCell(mix: Mix, age: number, t: number, run: number): Cell {
  const pos = t % CHAIN;
  if (mix === 'live') {
    if (age < 20) return { status: 'new', reason: null, job: null };
    if (age < 150) {
      if (pos < 2) return done;
      if (pos === 2) return { status: 'processing', reason: null, job: 'running' };
      return upstreamWaiting(taskName(t - 1), run, pos === 3 ? 'processing' : 'waiting');
    }
  } else if (age < 150 && pos >= LOCKED_POS) {
    return pos === LOCKED_POS ? lockWait : upstreamWaiting(taskName(t - 1), run, 'waiting');
  }
  return settledCell(t, run, (k) => (age * 31 + k * 7) % 997 === 0);
}

/** A campaign instance: `k` runs from the campaign's first, task number `t`. */
export function campaignCell(c: YearCampaign, k: number, t: number, run: number): Cell {
  const pos = t % CHAIN;
  if (k >= c.settled && pos >= LOCKED_POS)
    return pos === LOCKED_POS ? lockWait : upstreamWaiting(taskName(t - 1), run, 'waiting');
  return settledCell(t, run, (x) => (k * 17 + x) % 1499 === 0);
}

/** The job fields a calibration job reports: a response that drifts over the year, an event count. */
export function jobFields(i: number): string {
  const response = 1 - 0.02 * Math.sin(i / 300) - (i % 8) * 0.001;
  return JSON.stringify({ response: Number(response.toFixed(5)), n_events: 1000 + (i % 500) });
}

/** When the instance of run `i` was created, and its job's times (ended ones: an exit code). */
export function jobTimes(i: number, status: JobStatus) {
  const at = T0 + i * HOUR + 3_600_000;
  const ended = status === 'done' || status === 'failed';
  return {
    at,
    submitted: at + 1000,
    started: at + 5000 + (i % 60) * 1000,
    ended: ended ? at + 65_000 + (i % 120) * 1000 : null,
    exitCode: ended ? (status === 'done' ? 0 : 1) : null,
  };
}
