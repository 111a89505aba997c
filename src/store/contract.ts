import type { Campaign, CampaignCounts, RunSelection } from '../model/campaign.ts';
import type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  JobStatus,
  Output,
  OutputInput,
  Run,
  RunInput,
} from '../model/types.ts';
import type { OverviewStore } from './overview-contract.ts';

/**
 * The `StateStore` contract: everything autoctrl remembers. Backends live in
 * `store/<kind>/` and are created by `openStore()`; each passes
 * `runStoreConformance()` against a real server.
 *
 * What the core may assume of every backend:
 * - Every method is atomic: it commits entirely or not at all. The event
 *   log entry of a state change is written in the same transaction as the
 *   change itself, so history and current state never disagree.
 * - State changes are compare-and-set on the caller's `from`: a mismatch
 *   throws `StaleStateError` and changes nothing, so several controllers
 *   sharing one store never both apply the same transition.
 * - Transitions not in `model/transitions.ts` throw `IllegalTransitionError`.
 * - Event ids increase in commit order.
 * - Methods may be called concurrently; results are plain objects the caller may keep.
 */
export interface StateStore extends OverviewStore {
  /** Applies pending numbered migrations. Idempotent; safe with several controllers. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // ---- runs ----
  /**
   * Adds new runs and updates known ones whose fields changed (end time or
   * luminosity filled in later). Each addition and each change bumps the run's
   * `seq` and appends a `run` event. Unchanged runs are left alone.
   */
  upsertRuns(
    runs: readonly RunInput[],
    by: string,
  ): Promise<{ added: number[]; changed: number[] }>;
  getRun(run: number): Promise<Run | null>;
  getRuns(runs: readonly number[]): Promise<Run[]>;
  /** Runs by descending run number, `before` exclusive (a paging cursor). */
  listRuns(q: { from?: number; to?: number; before?: number; limit?: number }): Promise<Run[]>;
  /** Runs with `seq > afterSeq`, ascending by seq, at most `limit`. */
  runsSince(afterSeq: number, limit: number): Promise<Run[]>;
  countRuns(): Promise<number>;
  /** Ended runs matching every condition given, ascending by run number: a campaign's selection. */
  selectRuns(q: RunSelection): Promise<Run[]>;

  // ---- cursors: small named values the engine and sources keep across restarts ----
  getCursor(key: string): Promise<string | null>;
  setCursor(key: string, value: string): Promise<void>;

  // ---- instances ----
  /**
   * Creates instances in status `new` (with their run memberships and a `new`
   * event each) and, in the same transaction, sets `cursor` if given. An
   * instance whose (campaign, task, groupKey) exists, or one of whose runs
   * already belongs to an instance of the same (campaign, task), is skipped.
   * Returns the instances created.
   */
  createInstances(
    list: readonly NewInstance[],
    by: string,
    cursor?: { key: string; value: string },
  ): Promise<Instance[]>;
  getInstance(id: number): Promise<Instance | null>;
  /** Instances of one (campaign, task) in the given statuses, ascending by id. */
  instancesByStatus(
    campaign: string,
    task: string,
    statuses: readonly InstanceStatus[],
  ): Promise<Instance[]>;
  /** The instances of (campaign, task) that cover any of `runs`. */
  instancesForRuns(campaign: string, task: string, runs: readonly number[]): Promise<Instance[]>;
  /** Search for people and the CLI; ascending by first run then task. */
  findInstances(q: InstanceQuery): Promise<Instance[]>;
  /**
   * Per run, the status of every instance covering it in `campaign`:
   * the cells of the overview grid.
   */
  cellsForRuns(campaign: string, runs: readonly number[]): Promise<Cell[]>;

  /**
   * Moves an instance `from → to` (compare-and-set) with an event. A transition
   * to `new` (reprocess) increments `attempt` and clears `configHash`.
   * `waiting → waiting` with an unchanged reason is a no-op without an event.
   */
  transitionInstance(id: number, change: InstanceChange): Promise<Instance>;
  /**
   * Starts an instance: `from → processing` with `configHash` (and the
   * configuration it names, kept by hash), creating its jobs in `idle`, all
   * in one transaction.
   */
  startInstance(id: number, start: InstanceStart): Promise<{ instance: Instance; jobs: Job[] }>;
  /** Stored configuration JSON by hash, or null. */
  getConfig(hash: string): Promise<unknown | null>;

  // ---- jobs ----
  getJob(id: number): Promise<Job | null>;
  jobsForInstance(instanceId: number): Promise<Job[]>;
  /** Jobs in `idle` or `running`, optionally for one executor, ascending by id. */
  activeJobs(executor?: string): Promise<Job[]>;
  /** Counts of active jobs per (executor, campaign, status), for slot accounting. */
  activeJobCounts(): Promise<
    Array<{
      executor: string;
      campaign: string;
      status: JobStatus;
      claimed: boolean;
      count: number;
    }>
  >;
  /**
   * Claims idle, unclaimed jobs for submission by `owner` (sets `claimedBy`
   * and `submittedAt`). Returns the ids it claimed: a job is claimed by one
   * controller only, ever.
   */
  claimJobs(ids: readonly number[], owner: string, at: number): Promise<number[]>;
  /** Records the executor's id and log location once submitted. No state change, no event. */
  setJobSubmitted(id: number, executorId: string, logPath: string | null): Promise<void>;
  /**
   * Moves a job `from → to` (compare-and-set) with an event. With `retry`, a
   * `failed` job's next attempt is created in the same transaction.
   */
  transitionJob(id: number, change: JobChange): Promise<{ job: Job; retry: Job | null }>;
  /**
   * Stores fields and outputs a job reports (each field value also kept as a
   * time-stamped sample). Fields of a job in a final state are still accepted;
   * status changes are separate (`transitionJob`). Returns the job's current
   * status and attempt, so a progress report needs no second read.
   */
  recordJobData(
    id: number,
    data: {
      fields?: Record<string, number | string>;
      outputs?: readonly OutputInput[];
      at: number;
    },
  ): Promise<JobHead>;

  // ---- outputs and history ----
  listOutputs(q: OutputQuery): Promise<Output[]>;
  /** Outputs of the given instances (a downstream task's inputs). */
  outputsForInstances(instanceIds: readonly number[]): Promise<Output[]>;
  /** Events ascending by id. */
  listEvents(q: EventQuery): Promise<EventRecord[]>;
  /**
   * Appends an event that is not a state change (a lock that timed out, a
   * source failing, an operator's action), so that it is in the history and
   * notifiers and the live page see it. Returns its id.
   */
  appendEvent(e: Omit<EventRecord, 'id'>): Promise<number>;

  // ---- campaigns (reprocessing; `prompt` is implicit and never stored) ----
  /**
   * Stores a new campaign with a `campaign` event (`to: 'created'`) in one
   * transaction. A name already taken throws `CampaignExistsError` and
   * changes nothing.
   */
  createCampaign(campaign: Campaign): Promise<Campaign>;
  getCampaign(name: string): Promise<Campaign | null>;
  /** Every stored campaign, oldest first. */
  listCampaigns(): Promise<Campaign[]>;
  /** Their names only, oldest first: what the engine polls each pass without reading run lists. */
  campaignNames(): Promise<string[]>;
  /** Instances per status and jobs per status of one campaign (`prompt` included); zeros when none. */
  campaignCounts(name: string): Promise<CampaignCounts>;

  // ---- leases: for several controllers sharing a store ----
  /** Takes or renews the named lease for `ttlMs` if free, expired or already ours. */
  acquireLease(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
}

export type JobHead = Pick<Job, 'id' | 'status' | 'attempt'>;

export interface NewInstance {
  campaign: string;
  task: string;
  groupKey: string;
  runs: number[];
}

export interface InstanceQuery {
  campaign?: string;
  task?: string;
  /** Instances covering at least one run in [runFrom, runTo]. */
  runFrom?: number;
  runTo?: number;
  statuses?: readonly InstanceStatus[];
  limit?: number;
}

export interface Cell {
  run: number;
  task: string;
  instanceId: number;
  status: InstanceStatus;
  /** Why it is not done yet (or failed); null for done cells. */
  reason: string | null;
}

export interface InstanceChange {
  from: InstanceStatus;
  to: InstanceStatus;
  reason: string | null;
  by: string;
  at: number;
  data?: Record<string, unknown>;
}

export interface NewJob {
  index: number;
  attempt: number;
  executor: string;
  input: string | null;
  notBefore: number | null;
}

export interface InstanceStart {
  from: InstanceStatus;
  configHash: string;
  config: unknown;
  jobs: readonly NewJob[];
  reason: string | null;
  by: string;
  at: number;
}

export interface JobChange {
  from: JobStatus;
  to: JobStatus;
  reason: string | null;
  by: string;
  at: number;
  exitCode?: number | null;
  retry?: NewJob;
}

export interface OutputQuery {
  campaign?: string;
  task?: string;
  runFrom?: number;
  runTo?: number;
  limit?: number;
}

export interface EventQuery {
  instanceId?: number;
  entity?: EventRecord['entity'];
  entityId?: string;
  afterId?: number;
  limit?: number;
}
