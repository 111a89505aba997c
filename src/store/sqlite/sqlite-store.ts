import type { Logger } from '../../logger.ts';
import type { Campaign, CampaignCounts, RunSelection } from '../../model/campaign.ts';
import type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  Output,
  Run,
  RunInput,
} from '../../model/types.ts';
import type {
  Cell,
  EventQuery,
  InstanceChange,
  InstanceQuery,
  InstanceStart,
  JobChange,
  JobHead,
  NewInstance,
  OutputQuery,
  StateStore,
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
import { campaignOps } from './campaigns.ts';
import { historyOps } from './history.ts';
import { instanceOps } from './instances.ts';
import { type JobCount, type JobData, jobOps } from './jobs.ts';
import { migrate } from './migrations.ts';
import { overviewOps } from './overview.ts';
import { runOps } from './runs.ts';
import { type Db, eventWriter } from './shared.ts';
import { jobWriter } from './writers.ts';

/**
 * `StateStore` over one SQLite file. better-sqlite3 is synchronous, so each
 * method runs to completion before another starts in this process; other
 * processes are kept out by `BEGIN IMMEDIATE` on every read-then-write
 * transaction, which takes the write lock before the first read.
 *
 * The schema must be migrated before construction (statements are prepared
 * once, here): use `createSqliteStore()`.
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

  constructor(db: Db, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
    const writeEvent = eventWriter(db);
    this.#writeEvent = writeEvent;
    const writeJob = jobWriter(db, writeEvent);
    this.#runs = runOps(db, writeEvent);
    this.#instances = instanceOps(db, writeEvent, writeJob);
    this.#jobs = jobOps(db, writeEvent, writeJob);
    this.#history = historyOps(db);
    this.#overview = overviewOps(db);
    this.#campaigns = campaignOps(db, writeEvent);
  }

  async migrate(): Promise<void> {
    migrate(this.#db, this.#logger);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  async upsertRuns(
    runs: readonly RunInput[],
    by: string,
  ): Promise<{ added: number[]; changed: number[] }> {
    return this.#runs.upsertRuns(runs, by);
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

  async runsSince(afterSeq: number, limit: number): Promise<Run[]> {
    return this.#runs.runsSince(afterSeq, limit);
  }

  async countRuns(): Promise<number> {
    return this.#runs.countRuns();
  }

  async selectRuns(q: RunSelection): Promise<Run[]> {
    return this.#campaigns.selectRuns(q);
  }

  async getCursor(key: string): Promise<string | null> {
    return this.#runs.getCursor(key);
  }

  async setCursor(key: string, value: string): Promise<void> {
    this.#runs.setCursor(key, value);
  }

  async createInstances(
    list: readonly NewInstance[],
    by: string,
    cursor?: { key: string; value: string },
  ): Promise<Instance[]> {
    return this.#instances.createInstances(list, by, cursor);
  }

  async getInstance(id: number): Promise<Instance | null> {
    return this.#instances.getInstance(id);
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

  async startInstance(
    id: number,
    start: InstanceStart,
  ): Promise<{ instance: Instance; jobs: Job[] }> {
    return this.#instances.startInstance(id, start);
  }

  async getConfig(hash: string): Promise<unknown | null> {
    return this.#instances.getConfig(hash);
  }

  async getJob(id: number): Promise<Job | null> {
    return this.#jobs.getJob(id);
  }

  async jobsForInstance(instanceId: number): Promise<Job[]> {
    return this.#jobs.jobsForInstance(instanceId);
  }

  async activeJobs(executor?: string): Promise<Job[]> {
    return this.#jobs.activeJobs(executor);
  }

  async activeJobCounts(): Promise<JobCount[]> {
    return this.#jobs.activeJobCounts();
  }

  async claimJobs(ids: readonly number[], owner: string, at: number): Promise<number[]> {
    return this.#jobs.claimJobs(ids, owner, at);
  }

  async setJobSubmitted(id: number, executorId: string, logPath: string | null): Promise<void> {
    this.#jobs.setJobSubmitted(id, executorId, logPath);
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

  async acquireLease(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.#history.acquireLease(name, owner, ttlMs, now);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#history.releaseLease(name, owner);
  }
}
