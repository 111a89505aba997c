import type { Runtime } from '../runtime.ts';
import type { FeedCursor, FieldSample } from '../store/contract.ts';

const PAGE = 1_000;
/** Feed pages read per scrape at most: a burst is caught up over the next scrapes, not in one. */
const MAX_PAGES = 20;
/** Series of `autoctrl_job_field` at most: field names come from jobs, so their number is capped. */
export const MAX_FIELD_SERIES = 1_000;

/**
 * The figures of `/metrics` that follow the change feed: what settles
 * (instances and jobs turning done or failed), as Prometheus counters since
 * this process started following it (`rate()` over them), and the latest
 * value of each numeric job field.
 */
export class StatusTally {
  private cursor: FeedCursor | null = null;
  private following: Promise<void> | null = null;
  /** Settled instances by JSON [campaign, task, status]; ended jobs by JSON [executor, status]. */
  readonly settled = new Map<string, number>();
  readonly jobsEnded = new Map<string, number>();
  /** The latest numeric sample by JSON [campaign, task, key], for at most `MAX_FIELD_SERIES` series. */
  readonly latestFields = new Map<string, number>();

  constructor(private readonly rt: Runtime) {}

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
}

function bump(map: Map<string, number>, key: unknown[]): void {
  const k = JSON.stringify(key);
  map.set(k, (map.get(k) ?? 0) + 1);
}
