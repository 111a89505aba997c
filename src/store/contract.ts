import type {
  Campaign,
  CampaignChange,
  CampaignCounts,
  CampaignHead,
  RunSelection,
} from '../model/campaign.ts';
import type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  JobStatus,
  Output,
  OutputInput,
  QueueState,
  Run,
  RunInput,
} from '../model/types.ts';
import type { OverviewStore } from './overview-contract.ts';
import type { SampleStore } from './samples-contract.ts';

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
 * - Several handles, in several processes and on several hosts (server
 *   backends), may use one store at once. Nothing may be assumed to follow
 *   commit order but the change feed (`readFeed`): ids and `seq` values are
 *   unique and increasing per writer, not across writers.
 * - Times the store judges (leases, claims) are taken from the store's own
 *   clock, never the caller's: controllers on several hosts may disagree.
 * - A failure that is worth retrying (a serialization failure, a dropped
 *   connection, `SQLITE_BUSY`, a full disk as `StoreFullError`) is thrown as `TransientStoreError`, with the
 *   transaction rolled back; anything else is a bug or bad input.
 * - Methods may be called concurrently; results are plain objects the caller may keep.
 */
export interface StateStore extends OverviewStore, SampleStore {
  /**
   * Applies pending numbered migrations under the store's own lock (an
   * advisory lock, `BEGIN IMMEDIATE`): idempotent, and controllers starting
   * together take turns. A schema newer than this code knows throws
   * `StoreSchemaNewerError` and changes nothing.
   */
  migrate(): Promise<{ from: number; to: number }>;
  close(): Promise<void>;
  /** The store's clock (ms since the epoch): what leases and claims are judged by. */
  clock(): Promise<number>;

  // ---- the change feed ----
  /**
   * The items committed after `after` (null: from the beginning), in one
   * total order that never skips an item: an item committed later than
   * another is never placed before a position a reader has passed. Run items
   * carry the run as it is now (a run changed twice may appear once, at its
   * latest position); `kinds` restricts what is returned, not what is passed
   * over. The returned cursor is where to read next: past the last item
   * returned, or past everything known committed when fewer than `limit`
   * came back. Cursors are opaque strings, stable across restarts.
   */
  readFeed(
    after: FeedCursor | null,
    q: { limit: number; kinds?: readonly FeedKind[] },
  ): Promise<{ items: FeedItem[]; cursor: FeedCursor }>;
  /** Where a reader that wants only what comes from now on starts. */
  feedHead(): Promise<FeedCursor>;
  /**
   * Calls `listener` soon (within 50 ms) after a commit through another
   * handle, in this process or another: the cross-process wake-up of the
   * leader. Calls may be coalesced and may also follow this handle's own
   * commits. Returns the function that stops watching.
   */
  watch(listener: () => void): () => void;

  // ---- runs ----
  /**
   * Adds new runs and updates known ones whose fields changed (end time or
   * luminosity filled in later). Each addition and each change bumps the run's
   * `seq` and appends a `run` event. Unchanged runs are left alone.
   */
  upsertRuns(
    runs: readonly RunInput[],
    by: string,
    opts?: { cursor?: CursorWrite; fence?: Fence },
  ): Promise<{ added: number[]; changed: number[] }>;
  getRun(run: number): Promise<Run | null>;
  getRuns(runs: readonly number[]): Promise<Run[]>;
  /** Runs by descending run number, `before` exclusive (a paging cursor). */
  listRuns(q: { from?: number; to?: number; before?: number; limit?: number }): Promise<Run[]>;
  countRuns(): Promise<number>;
  /** Ended runs matching every condition given, ascending by run number: a campaign's selection. */
  selectRuns(q: RunSelection): Promise<Run[]>;

  // ---- cursors: small named values the engine and sources keep across restarts ----
  getCursor(key: string): Promise<string | null>;
  /** Sets unconditionally: only for values one writer owns (under the lease, fenced). */
  setCursor(key: string, value: string, fence?: Fence): Promise<void>;
  /** Sets `key` to `value` only if it is `expected` now (null: absent). True when it did. */
  compareAndSetCursor(key: string, expected: string | null, value: string): Promise<boolean>;
  /**
   * Inserts `value` if `key` is absent and returns what is stored afterwards:
   * a secret created once, whoever starts first.
   */
  ensureCursor(key: string, value: string): Promise<string>;

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
    opts?: { cursor?: CursorWrite; fence?: Fence },
  ): Promise<Instance[]>;
  getInstance(id: number): Promise<Instance | null>;
  /** Instances by id, ascending; unknown ids are left out. One round trip. */
  getInstances(ids: readonly number[]): Promise<Instance[]>;
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
   * Sends every given instance that may go back to `new` (done, failed,
   * waiting) to `new` as a new attempt, with an event each carrying
   * `change.data`, all in one transaction: a reprocess and its downstream
   * cascade. The others (new, processing, unknown ids) are left alone and
   * listed in `skipped` with their status (null: unknown).
   */
  reprocessInstances(
    ids: readonly number[],
    change: ReprocessChange,
  ): Promise<{
    reprocessed: Instance[];
    skipped: Array<{ id: number; status: InstanceStatus | null }>;
  }>;
  /**
   * Starts an instance: `from → processing` with `configHash` (and the
   * configuration it names, kept by hash), creating its jobs in `idle`, all
   * in one transaction.
   */
  startInstance(id: number, start: InstanceStart): Promise<{ instance: Instance; jobs: Job[] }>;
  /** Stored configuration JSON by hash, or null. */
  getConfig(hash: string): Promise<unknown | null>;
  /**
   * Every attempt of the given instances that started (`startInstance`
   * records it in the same transaction), ascending by instance then attempt:
   * which configuration, code included, each attempt ran with. One round trip.
   */
  attemptsForInstances(instanceIds: readonly number[]): Promise<InstanceAttempt[]>;

  // ---- jobs ----
  getJob(id: number): Promise<Job | null>;
  jobsForInstance(instanceId: number): Promise<Job[]>;
  /** Jobs of all the given instances, ascending by id. One round trip. */
  jobsForInstances(instanceIds: readonly number[]): Promise<Job[]>;
  /** Jobs in `idle` or `running`, optionally for one executor, ascending by id. */
  activeJobs(executor?: string): Promise<Job[]>;
  /** Jobs by id, ascending by id (ids not found are left out). One round trip. */
  getJobs(ids: readonly number[]): Promise<Job[]>;
  /**
   * Active jobs that some process claimed (handed over, or about to be):
   * those an executor knows, and the ones that count against its slots,
   * ascending by id. Bounded by the executors' `max_jobs`, not by the queue.
   */
  jobsInFlight(): Promise<Job[]>;
  /**
   * Idle, unclaimed jobs of one executor and campaign that may start at `now`
   * (no `notBefore` after it), oldest first, at most `limit`: what the engine
   * may hand over next, read without walking the whole queue.
   */
  readyJobs(q: { executor: string; campaign: string; now: number; limit: number }): Promise<Job[]>;
  /** The earliest `notBefore` after `now` of an idle, unclaimed job (a delayed retry); null for none. */
  nextJobRetry(now: number): Promise<number | null>;
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
   * Claims idle, unclaimed jobs for submission by the process `claim.owner`
   * (sets `claimedBy`, `claimedAt` and `claimExpiresAt` by the store's clock).
   * Returns the ids it claimed: a job is claimed by one owner at a time.
   */
  claimJobs(ids: readonly number[], claim: Claim, fence?: Fence): Promise<number[]>;
  /**
   * Records the executor's id and log location once submitted, and
   * `submittedAt` by the store's clock. No state change, no event; with
   * `running` (the executor answered that the job already runs), also the
   * move from `idle` to `running` with its event, in the same transaction,
   * when the job is still idle (otherwise that part is skipped silently: it
   * moved on already). Throws `ClaimLostError` unless the job is claimed by
   * `owner`.
   */
  setJobSubmitted(
    id: number,
    submitted: {
      owner: string;
      executorId: string | null;
      logPath: string | null;
      running?: { by: string; at: number };
    },
  ): Promise<void>;
  /**
   * Records where a submitted job waits in its batch system (null: it runs
   * undisturbed), with the executor's reason in `reason`; `queueSince`
   * changes only with the state. Only by the job's claim owner, for an idle
   * or running job. Returns whether anything changed. No event: this is an
   * executor's observation, not a transition; a transition clears it.
   */
  setJobQueueState(
    id: number,
    q: { owner: string; state: QueueState | null; reason: string | null },
  ): Promise<boolean>;
  /**
   * Takes back claims of jobs that were never handed to an executor (a dead
   * controller's), compare-and-set on the owner: the job is idle and
   * unclaimed again. Returns the ids released.
   */
  releaseClaims(jobs: readonly { id: number; owner: string }[]): Promise<number[]>;
  /**
   * Moves a job `from → to` (compare-and-set) with an event. With `retry`, a
   * `failed` job's next attempt is created in the same transaction.
   */
  transitionJob(id: number, change: JobChange): Promise<{ job: Job; retry: Job | null }>;
  /**
   * Stores fields and outputs a job reports (each field value also kept as a
   * time-stamped sample). Without `attempt`, fields of a job in a final state
   * are still accepted; status changes are separate (`transitionJob`).
   * Returns the job's current status and attempt, so a progress report needs
   * no second read.
   */
  recordJobData(
    id: number,
    data: {
      fields?: Record<string, number | string>;
      outputs?: readonly OutputInput[];
      at: number;
      /**
       * Write only while the job is at this attempt and `idle` or `running`,
       * checked in the same transaction as the write (a report racing the
       * job's end cannot slip in after it); otherwise nothing is written and
       * `AttemptEndedError` is thrown.
       */
      attempt?: number;
    },
  ): Promise<JobHead>;

  // ---- outputs and history ----
  listOutputs(q: OutputQuery): Promise<Output[]>;
  /**
   * Outputs of the current attempt of each given instance (a downstream
   * task's inputs): of its jobs' latest attempts only, so nothing of a
   * superseded instance attempt or of a retried job attempt. Decided in one
   * statement, so an instance reprocessed concurrently never hands over its
   * old outputs. `listOutputs` keeps every attempt's.
   */
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
  /** Every stored campaign but deleted ones, oldest first. */
  listCampaigns(): Promise<Campaign[]>;
  /** Their names only (deleted ones left out), oldest first. */
  campaignNames(): Promise<string[]>;
  /** Name, state and revision of every campaign but deleted ones, oldest first: what the engine polls each pass. */
  campaignHeads(): Promise<CampaignHead[]>;
  /**
   * Instances per status and jobs per status of one campaign (`prompt`
   * included); zeros when none. Kept incrementally in the transaction of
   * every change, so reading them costs the same at any size.
   */
  campaignCounts(name: string): Promise<CampaignCounts>;
  /**
   * Instances per (campaign, task, status) and jobs per (campaign, executor,
   * status), over every campaign but deleted ones, ascending by those keys;
   * no row for a count of zero. Kept incrementally in the transaction of
   * every change, like `campaignCounts`: reading them costs the same at any
   * store size (what `/metrics` reads at each scrape).
   */
  statusCounts(): Promise<StatusCounts>;
  /**
   * Marks an active campaign `cancelled` with a `campaign` event, and fails
   * its idle jobs no process has claimed (no executor has them), so none is
   * submitted any more; all in one transaction. Jobs already claimed or
   * running are the engine's to stop through their executor. Cancelling a
   * cancelled campaign changes nothing. `NotFoundError` for an unknown or
   * deleted name.
   */
  cancelCampaign(
    name: string,
    change: CampaignChange,
  ): Promise<{ campaign: Campaign; failedJobs: number[] }>;
  /**
   * Appends runs to an active campaign's run list (those it has are left
   * out; the list's existing order is kept, since intake walks it by
   * position) with a `campaign` event. `CampaignStateError` unless active.
   */
  extendCampaign(
    name: string,
    runs: readonly number[],
    change: CampaignChange,
  ): Promise<{ campaign: Campaign; added: number[] }>;
  /**
   * Marks a settled campaign `deleted` with a `campaign` event: it leaves
   * the lists, its instances, jobs, events and outputs stay. Settled: no job
   * queued or running, no instance processing, and, unless cancelled, none
   * new or waiting; otherwise `CampaignStateError` (cancel it first).
   * `NotFoundError` for an unknown or already deleted name.
   */
  deleteCampaign(name: string, change: CampaignChange): Promise<Campaign>;

  // ---- leases: for several controllers sharing a store ----
  /**
   * Takes the named lease for `ttlMs` (store clock) if it is free, expired or
   * already `owner`'s. The epoch grows by one each time the holder changes,
   * so a write fenced with an older epoch is refused. Null when another
   * holds it. `takeFrom` names a holder the caller knows is dead (a process
   * of this host that is gone): the lease is taken from it at once,
   * compare-and-set on the owner, instead of after it expires.
   */
  acquireLease(
    name: string,
    owner: string,
    ttlMs: number,
    opts?: { takeFrom?: string },
  ): Promise<Lease | null>;
  /** Extends a held lease; null when it was lost (expired and taken, or released). */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease | null>;
  /** Gives the lease up at once (a clean stop), if still held with that epoch. */
  releaseLease(lease: Lease): Promise<void>;
  /** Who holds the named lease and since when (null: nobody ever did). */
  getLease(name: string): Promise<Lease | null>;
}

/**
 * The proof of leadership that leader-only writes carry. A write fenced with
 * an epoch that is no longer the lease's throws `FencedError` and changes
 * nothing, so a paused old leader can never overwrite its successor.
 */
export interface Fence {
  lease: string;
  epoch: number;
}

export interface Lease {
  name: string;
  owner: string;
  epoch: number;
  /** When the current holder took it (store clock). */
  since: number;
  /** Store clock. An expired lease may still be listed until someone takes it. */
  expiresAt: number;
}

export interface Claim {
  /** The claiming process instance (host, pid, random): never reused after a restart. */
  owner: string;
  ttlMs: number;
}

/** A cursor written in the same transaction as the data it tracks. */
export interface CursorWrite {
  key: string;
  value: string;
  /** Compare-and-set: when given, the write (and the whole transaction) happens only if the stored value is this (null: absent); otherwise `CursorConflictError`. */
  expected?: string | null;
}

/** What `statusCounts` returns: every count is positive. */
export interface StatusCounts {
  instances: Array<{ campaign: string; task: string; status: InstanceStatus; count: number }>;
  /** Jobs of every attempt, by the executor they were created for. */
  jobs: Array<{ campaign: string; executor: string; status: JobStatus; count: number }>;
}

/** A position in the change feed; its form is the backend's own. */
export type FeedCursor = string;

export type FeedKind = 'run' | 'event' | 'sample';

/** One item of the feed, with the cursor that resumes right after it. */
export type FeedItem = { cursor: FeedCursor } & (
  | { kind: 'run'; run: Run }
  | { kind: 'event'; event: EventRecord }
  | { kind: 'sample'; sample: FieldSample }
);

/** One value a job reported for one of its fields, at one time. */
export interface FieldSample {
  jobId: number;
  instanceId: number;
  campaign: string;
  task: string;
  key: string;
  value: number | string;
  at: number;
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
  fence?: Fence;
  from: InstanceStatus;
  to: InstanceStatus;
  reason: string | null;
  by: string;
  at: number;
  data?: Record<string, unknown>;
}

export interface ReprocessChange {
  reason: string;
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
  fence?: Fence;
  from: InstanceStatus;
  configHash: string;
  config: unknown;
  jobs: readonly NewJob[];
  reason: string | null;
  by: string;
  at: number;
}

/** One started attempt of an instance and the configuration (by hash) it ran with. */
export interface InstanceAttempt {
  instanceId: number;
  attempt: number;
  configHash: string;
  /** When it started (`InstanceStart.at`). */
  startedAt: number;
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
