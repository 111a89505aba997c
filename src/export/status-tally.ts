import { PROMPT } from '../model/campaign.ts';
import type { InstanceStatus } from '../model/types.ts';
import type { Runtime } from '../runtime.ts';
import type { FeedCursor, FieldSample } from '../store/contract.ts';

const ACTIVE: readonly InstanceStatus[] = ['new', 'waiting', 'processing'];
const PAGE = 1_000;
/** Feed pages read per scrape at most: a burst is caught up over the next scrapes, not in one. */
const MAX_PAGES = 20;
/** Series of `autoctrl_job_field` at most: field names come from jobs, so their number is capped. */
export const MAX_FIELD_SERIES = 1_000;

export interface ActiveCount {
  campaign: string;
  task: string;
  status: InstanceStatus;
  count: number;
}

/**
 * The instance and job figures of `/metrics`, without counting a year of
 * rows (a full count takes seconds at 3 million instances on SQLite, and
 * holds the process): the unfinished instances are counted exactly per
 * (campaign, task) through the status index, cached for `ttlMs`; what
 * settles (instances and jobs turning done or failed) is counted as it
 * passes on the change feed, as Prometheus counters since this process
 * started following it; so is the latest value of each numeric job field.
 */
export class StatusTally {
  private active: { at: number; rows: ActiveCount[] } | null = null;
  private refreshing: Promise<void> | null = null;
  private cursor: FeedCursor | null = null;
  private following: Promise<void> | null = null;
  /** Settled instances by JSON [campaign, task, status]; ended jobs by JSON [executor, status]. */
  readonly settled = new Map<string, number>();
  readonly jobsEnded = new Map<string, number>();
  /** The latest numeric sample by JSON [campaign, task, key], for at most `MAX_FIELD_SERIES` series. */
  readonly latestFields = new Map<string, number>();

  constructor(
    private readonly rt: Runtime,
    private readonly ttlMs: number,
  ) {}

  /** Unfinished instances per (campaign, task, status); at most `ttlMs` old, refreshed in the background. */
  async activeInstances(): Promise<ActiveCount[]> {
    const stale = this.active === null || Date.now() - this.active.at > this.ttlMs;
    if (stale && this.refreshing === null) {
      this.refreshing = this.countActive()
        .then(
          (rows) => {
            this.active = { at: Date.now(), rows };
          },
          (err: unknown) => {
            this.rt.engine.ctx.logger.warn({ err }, 'counting instances for /metrics failed');
            if (this.active === null) throw err;
          },
        )
        .finally(() => {
          this.refreshing = null;
        });
    }
    if (this.active === null) await this.refreshing;
    return this.active?.rows ?? [];
  }

  /** Age of the unfinished-instance counts, in seconds. */
  get activeAgeSeconds(): number {
    return this.active === null ? 0 : (Date.now() - this.active.at) / 1000;
  }

  /** Reads what the change feed got since the last call (the first call starts at its end). */
  follow(): Promise<void> {
    this.following ??= this.readFeed().finally(() => {
      this.following = null;
    });
    return this.following;
  }

  private async readFeed(): Promise<void> {
    const { store, deployment } = this.rt;
    if (this.cursor === null) {
      this.cursor = await store.feedHead();
      return;
    }
    const executorOf = new Map(deployment.tasks.map((t) => [t.name, t.executor]));
    for (let page = 0; page < MAX_PAGES; page++) {
      const got = await store.readFeed(this.cursor, { limit: PAGE, kinds: ['event', 'sample'] });
      for (const item of got.items) {
        if (item.kind === 'sample') this.noteSample(item.sample);
        if (item.kind !== 'event') continue;
        const e = item.event;
        if (e.to !== 'done' && e.to !== 'failed') continue;
        if (e.entity === 'instance') bump(this.settled, [e.campaign, e.task, e.to]);
        else if (e.entity === 'job')
          bump(this.jobsEnded, [executorOf.get(e.task ?? '') ?? 'unknown', e.to]);
      }
      this.cursor = got.cursor;
      if (got.items.length < PAGE) return;
    }
  }

  private noteSample(s: FieldSample): void {
    if (typeof s.value !== 'number') return;
    const key = JSON.stringify([s.campaign, s.task, s.key]);
    if (this.latestFields.size < MAX_FIELD_SERIES || this.latestFields.has(key))
      this.latestFields.set(key, s.value);
  }

  private async countActive(): Promise<ActiveCount[]> {
    const { store, deployment } = this.rt;
    const rows: ActiveCount[] = [];
    for (const campaign of [PROMPT, ...(await store.campaignNames())]) {
      for (const task of deployment.tasks) {
        const counts = new Map<InstanceStatus, number>(ACTIVE.map((s) => [s, 0]));
        for (const i of await store.instancesByStatus(campaign, task.name, ACTIVE))
          counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
        for (const [status, count] of counts)
          rows.push({ campaign, task: task.name, status, count });
      }
    }
    return rows;
  }
}

function bump(map: Map<string, number>, key: unknown[]): void {
  const k = JSON.stringify(key);
  map.set(k, (map.get(k) ?? 0) + 1);
}
