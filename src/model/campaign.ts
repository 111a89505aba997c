import type { InstanceStatus, JobStatus } from './types.ts';

/** The live campaign: always there, fed by every run the sources bring. */
export const PROMPT = 'prompt';

/**
 * How a reprocessing campaign chose its runs, as asked. Kept for people: the
 * runs themselves are resolved once, at creation, into `Campaign.runs`.
 */
export interface CampaignSelection {
  /** Inclusive run range. */
  runs?: { from: number; to: number };
  fill?: number;
  /** ISO date-time: runs that started (or, without a start, ended) at or after it. */
  since?: string;
  type?: string;
}

/**
 * One `--set task.key=value`: `key` is the path below the task (`env.GT`,
 * `command.3`, `retries`), `value` already normalised to what the task
 * configuration holds (milliseconds for durations).
 */
export interface CampaignOverride {
  task: string;
  key: string;
  value: string | number | string[];
}

/**
 * Where a reprocessing campaign stands: `active` runs its work; `cancelled`
 * starts nothing more and its jobs are stopped; `deleted` (once settled) is
 * off the lists, its instances, events and outputs kept for the history.
 */
export type CampaignState = 'active' | 'cancelled' | 'deleted';

export const CAMPAIGN_STATES: readonly CampaignState[] = ['active', 'cancelled', 'deleted'];

/** A reprocessing campaign as stored: its runs are decided at creation, and grow only by `campaign extend`. */
export interface Campaign {
  name: string;
  selection: CampaignSelection;
  /** The selected runs, ascending. */
  runs: number[];
  /** Tasks it runs, in the deployment's topological order. */
  tasks: string[];
  overrides: CampaignOverride[];
  /** Fraction (0, 1] of an executor's slots its jobs may hold at once. */
  share: number;
  createdAt: number;
  createdBy: string;
  /** As stored; a campaign being created is `active`. */
  state?: CampaignState;
  /** Grows by one at each change after creation (extend, cancel, delete): what the engine re-reads on. */
  revision?: number;
}

/** A campaign as the engine polls it each pass, without its run list. */
export interface CampaignHead {
  name: string;
  state: CampaignState;
  revision: number;
}

/** Who changes a campaign, when and why: recorded in its event. */
export interface CampaignChange {
  by: string;
  at: number;
  reason?: string | null;
}

/** Progress numbers of one campaign, straight from the store. */
export interface CampaignCounts {
  instances: Record<InstanceStatus, number>;
  /** Jobs of every attempt; `failed` includes attempts that were retried. */
  jobs: Record<JobStatus, number>;
}

/** Which runs a selection takes; every given condition must hold. Only ended runs are selected. */
export interface RunSelection {
  from?: number;
  to?: number;
  fill?: number;
  /** Milliseconds since the epoch. */
  since?: number;
  type?: string;
}

/** A campaign's share of job slots when none is asked for: bulk work leaves half to `prompt`. */
export const DEFAULT_SHARE = 0.5;
