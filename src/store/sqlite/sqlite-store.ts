import type { Logger } from '../../logger.ts';
import type {
  Campaign,
  CampaignChange,
  CampaignCounts,
  CampaignHead,
  RunSelection,
} from '../../model/campaign.ts';
import type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  Output,
  QueueState,
  Run,
  RunInput,
} from '../../model/types.ts';
import type {
  Cell,
  Claim,
  CursorWrite,
  EventQuery,
  FeedCursor,
  FeedItem,
  FeedKind,
  Fence,
  InstanceAttempt,
  InstanceChange,
  InstanceQuery,
  InstanceStart,
  JobChange,
  JobHead,
  Lease,
  NewInstance,
  OutputQuery,
  ReprocessChange,
  StateStore,
  StatusCounts,
} from '../contract.ts';
import type {
  OverviewQuery,
  OverviewRun,
  RunExpectation,
  SettledCount,
  SettledQuery,
  TaskJob,
  TaskJobsQuery,
} from '../overview-contract.ts';
import type { SamplePoint, SampleQuery } from '../samples-contract.ts';
import { type StatusCountRow, toStatusCounts } from '../status-counts.ts';
import { campaignOps } from './campaigns.ts';
import type { Checkpointer } from './checkpointer.ts';
import { type Coordination, coordinationOps } from './coordination.ts';
import { feedOps } from './feed.ts';
import { historyOps } from './history.ts';
import { instanceOps } from './instances.ts';
import { type JobCount, type JobData, jobOps } from './jobs.ts';
import { STATUS_COUNTS_READ_SQL } from './migration-status-counts.ts';
import { migrate } from './migrations.ts';
import { overviewOps } from './overview.ts';
import { runOps } from './runs.ts';
import { sampleOps } from './samples.ts';
import { type Db, eventWriter, feedPositions } from './shared.ts';
import { jobWriter } from './writers.ts';

/**
 * `StateStore` over one SQLite file. better-sqlite3 is synchronous, so each
 * method runs to completion before another starts in this process; other
 * processes are kept out by `BEGIN IMMEDIATE` on every read-then-write
 * transaction, which takes the write lock before the first read.
 *
 * The schema must be migrated before construction (statements are prepared
 * once, here): use `createSqliteStore()`. Its clock is this host's, which
 * every process sharing the file shares.
 */
export class SqliteStore implements StateStore {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #runs;
  readonly #instances;
  readonly #jobs;
  readonly #history;
  readonly #campaigns;
  readonly #writeEvent;
  readonly #overview;
  readonly #coord: Coordination;
  readonly #feed;
  readonly #samples;
  readonly #statusCounts;
  readonly #file: string;
  readonly #checkpointer: Checkpointer | null;

  /** `checkpointer`: the file's write-ahead log is checkpointed off this thread (closed with the store). */
  constructor(db: Db, logger: Logger, file: string, checkpointer: Checkpointer | null = null) {
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#logger = logger;
    this.#file = file;
    const clock = Date.now;
    const nextPos = feedPositions(db);
    const coord = coordinationOps(db, clock);
    this.#coord = coord;
    this.#feed = feedOps(db, file);
    const writeEvent = eventWriter(db, nextPos);
    this.#writeEvent = writeEvent;
    const writeJob = jobWriter(db, writeEvent);
    this.#runs = runOps(db, writeEvent, nextPos, coord);
    this.#instances = instanceOps(db, writeEvent, writeJob, coord);
    this.#jobs = jobOps(db, writeEvent, writeJob, nextPos, coord, clock);
    this.#history = historyOps(db);
    this.#overview = overviewOps(db);
    this.#campaigns = campaignOps(db, writeEvent);
    this.#samples = sampleOps(db);
    this.#statusCounts = db.prepare<[], StatusCountRow>(STATUS_COUNTS_READ_SQL);
  }

  async migrate(): Promise<{ from: number; to: number }> {
    return migrate(this.#db, this.#logger, this.#file);
  }

  async close(): Promise<void> {
    this.#feed.close();
    await this.#checkpointer?.close();
    if (this.#db.open) this.#db.close();
  }

  async clock(): Promise<number> {
    return Date.now();
  }

  async readFeed(
    after: FeedCursor | null,
    q: { limit: number; kinds?: readonly FeedKind[] },
  ): Promise<{ items: FeedItem[]; cursor: FeedCursor }> {
    return this.#feed.readFeed(after, q);
  }

  async feedHead(): Promise<FeedCursor> {
    return this.#feed.feedHead();
  }

  watch(listener: () => void): () => void {
    return this.#feed.watch(listener);
  }

  async upsertRuns(
    runs: readonly RunInput[],
    by: string,
    opts?: { cursor?: CursorWrite; fence?: Fence },
  ): Promise<{ added: number[]; changed: number[] }> {
    return this.#runs.upsertRuns(runs, by, opts);
  }

  async getRun(run: number): Promise<Run | null> {
    return this.#runs.getRun(run);
  }

  async getRuns(runs: readonly number[]): Promise<Run[]> {
    return this.#runs.getRuns(runs);
  }

  async listRuns(q: {
    from?: number;
    to?: number;
    before?: number;
    limit?: number;
  }): Promise<Run[]> {
    return this.#runs.listRuns(q);
  }

  async countRuns(): Promise<number> {
    return this.#runs.countRuns();
  }

  async selectRuns(q: RunSelection): Promise<Run[]> {
    return this.#campaigns.selectRuns(q);
  }

  async getCursor(key: string): Promise<string | null> {
    return this.#coord.getCursor(key);
  }

  async setCursor(key: string, value: string, fence?: Fence): Promise<void> {
    this.#coord.setCursor(key, value, fence);
  }

  async compareAndSetCursor(key: string, expected: string | null, value: string): Promise<boolean> {
    return this.#coord.compareAndSetCursor(key, expected, value);
  }

  async ensureCursor(key: string, value: string): Promise<string> {
    return this.#coord.ensureCursor(key, value);
  }

  async createInstances(
    list: readonly NewInstance[],
    by: string,
    opts?: { cursor?: CursorWrite; fence?: Fence },
  ): Promise<Instance[]> {
    return this.#instances.createInstances(list, by, opts);
  }

  async getInstance(id: number): Promise<Instance | null> {
    return this.#instances.getInstance(id);
  }

  async getInstances(ids: readonly number[]): Promise<Instance[]> {
    return this.#instances.getInstances(ids);
  }

  async instancesByStatus(
    campaign: string,
    task: string,
    statuses: readonly InstanceStatus[],
  ): Promise<Instance[]> {
    return this.#instances.instancesByStatus(campaign, task, statuses);
  }

  async instancesForRuns(
    campaign: string,
    task: string,
    runs: readonly number[],
  ): Promise<Instance[]> {
    return this.#instances.instancesForRuns(campaign, task, runs);
  }

  async findInstances(q: InstanceQuery): Promise<Instance[]> {
    return this.#instances.findInstances(q);
  }

  async cellsForRuns(campaign: string, runs: readonly number[]): Promise<Cell[]> {
    return this.#instances.cellsForRuns(campaign, runs);
  }

  async transitionInstance(id: number, change: InstanceChange): Promise<Instance> {
    return this.#instances.transitionInstance(id, change);
  }

  async reprocessInstances(ids: readonly number[], change: ReprocessChange) {
    return this.#instances.reprocessInstances(ids, change);
  }

  async startInstance(
    id: number,
    start: InstanceStart,
  ): Promise<{ instance: Instance; jobs: Job[] }> {
    return this.#instances.startInstance(id, start);
  }

  async getConfig(hash: string): Promise<unknown | null> {
    return this.#instances.getConfig(hash);
  }

  async attemptsForInstances(instanceIds: readonly number[]): Promise<InstanceAttempt[]> {
    return this.#instances.attemptsForInstances(instanceIds);
  }

  async getJob(id: number): Promise<Job | null> {
    return this.#jobs.getJob(id);
  }

  async jobsForInstance(instanceId: number): Promise<Job[]> {
    return this.#jobs.jobsForInstance(instanceId);
  }

  async jobsForInstances(instanceIds: readonly number[]): Promise<Job[]> {
    return this.#jobs.jobsForInstances(instanceIds);
  }

  async activeJobs(executor?: string): Promise<Job[]> {
    return this.#jobs.activeJobs(executor);
  }

  async getJobs(ids: readonly number[]): Promise<Job[]> {
    return this.#jobs.getJobs(ids);
  }

  async jobsInFlight(): Promise<Job[]> {
    return this.#jobs.jobsInFlight();
  }

  async readyJobs(q: Parameters<StateStore['readyJobs']>[0]): Promise<Job[]> {
    return this.#jobs.readyJobs(q);
  }

  async nextJobRetry(now: number): Promise<number | null> {
    return this.#jobs.nextJobRetry(now);
  }

  async activeJobCounts(): Promise<JobCount[]> {
    return this.#jobs.activeJobCounts();
  }

  async claimJobs(ids: readonly number[], claim: Claim, fence?: Fence): Promise<number[]> {
    return this.#jobs.claimJobs(ids, claim, fence);
  }

  async setJobSubmitted(
    id: number,
    submitted: Parameters<StateStore['setJobSubmitted']>[1],
  ): Promise<void> {
    this.#jobs.setJobSubmitted(id, submitted);
  }

  async setJobQueueState(
    id: number,
    q: { owner: string; state: QueueState | null; reason: string | null },
  ): Promise<boolean> {
    return this.#jobs.setJobQueueState(id, q);
  }

  async releaseClaims(jobs: readonly { id: number; owner: string }[]): Promise<number[]> {
    return this.#jobs.releaseClaims(jobs);
  }

  async transitionJob(id: number, change: JobChange): Promise<{ job: Job; retry: Job | null }> {
    return this.#jobs.transitionJob(id, change);
  }

  async recordJobData(id: number, data: JobData): Promise<JobHead> {
    return this.#jobs.recordJobData(id, data);
  }

  async listOutputs(q: OutputQuery): Promise<Output[]> {
    return this.#history.listOutputs(q);
  }

  async outputsForInstances(instanceIds: readonly number[]): Promise<Output[]> {
    return this.#history.outputsForInstances(instanceIds);
  }

  async appendEvent(e: Omit<EventRecord, 'id'>): Promise<number> {
    return this.#writeEvent(e);
  }

  async listEvents(q: EventQuery): Promise<EventRecord[]> {
    return this.#history.listEvents(q);
  }

  async createCampaign(campaign: Campaign): Promise<Campaign> {
    return this.#campaigns.createCampaign(campaign);
  }

  async getCampaign(name: string): Promise<Campaign | null> {
    return this.#campaigns.getCampaign(name);
  }

  async listCampaigns(): Promise<Campaign[]> {
    return this.#campaigns.listCampaigns();
  }

  async campaignNames(): Promise<string[]> {
    return this.#campaigns.campaignNames();
  }

  async campaignCounts(name: string): Promise<CampaignCounts> {
    return this.#campaigns.campaignCounts(name);
  }

  async statusCounts(): Promise<StatusCounts> {
    return toStatusCounts(this.#statusCounts.all());
  }

  async campaignHeads(): Promise<CampaignHead[]> {
    return this.#campaigns.campaignHeads();
  }

  async cancelCampaign(name: string, change: CampaignChange) {
    return this.#campaigns.cancelCampaign(name, change);
  }

  async extendCampaign(name: string, runs: readonly number[], change: CampaignChange) {
    return this.#campaigns.extendCampaign(name, runs, change);
  }

  async deleteCampaign(name: string, change: CampaignChange): Promise<Campaign> {
    return this.#campaigns.deleteCampaign(name, change);
  }

  async overviewRuns(q: OverviewQuery): Promise<OverviewRun[]> {
    return this.#overview.overviewRuns(q);
  }

  async runsWithoutExpectation(limit: number): Promise<Array<{ campaign: string; run: Run }>> {
    return this.#overview.runsWithoutExpectation(limit);
  }

  async setRunExpectations(list: readonly RunExpectation[]): Promise<void> {
    this.#overview.setRunExpectations(list);
  }

  async resetRunExpectations(): Promise<void> {
    this.#overview.resetRunExpectations();
  }

  async taskJobs(q: TaskJobsQuery): Promise<TaskJob[]> {
    return this.#overview.taskJobs(q);
  }

  async settledCounts(q: SettledQuery): Promise<SettledCount[]> {
    return this.#overview.settledCounts(q);
  }

  async listSamples(q: SampleQuery): Promise<{ samples: SamplePoint[]; next: string | null }> {
    return this.#samples.listSamples(q);
  }

  async pruneSamples(before: number, limit: number): Promise<number> {
    return this.#samples.pruneSamples(before, limit);
  }

  async acquireLease(
    name: string,
    owner: string,
    ttlMs: number,
    opts?: { takeFrom?: string },
  ): Promise<Lease | null> {
    return this.#coord.acquireLease(name, owner, ttlMs, opts);
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease | null> {
    return this.#coord.renewLease(lease, ttlMs);
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.#coord.releaseLease(lease);
  }

  async getLease(name: string): Promise<Lease | null> {
    return this.#coord.getLease(name);
  }
}
