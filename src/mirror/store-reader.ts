import type { Logger } from '../logger.ts';
import type { StateStore } from '../store/contract.ts';
import { openStore } from '../store/open.ts';
import { redactStoreUrl } from '../store/url.ts';
import {
  currentResult,
  type DeploymentReader,
  type InstanceResult,
  type ResultQuery,
} from './reader.ts';

/** Instances one `results` call reads at most: a diff or a group far beyond any real one. */
const MAX_INSTANCES = 100_000;

/**
 * Reads a deployment's store opened read-only (SQLite `readonly`, PostgreSQL
 * `default_transaction_read_only`): a write would be refused by the
 * database itself. Runs follow the store's change feed, so none is missed.
 */
export async function openStoreReader(url: string, logger: Logger): Promise<DeploymentReader> {
  const store = await openStore(url, logger, { readOnly: true });
  return new StoreReader(store, redactStoreUrl(url));
}

class StoreReader implements DeploymentReader {
  constructor(
    private readonly store: StateStore,
    readonly label: string,
  ) {}

  async runsSince(cursor: string | null, limit: number) {
    const { items, cursor: next } = await this.store.readFeed(cursor, { limit, kinds: ['run'] });
    return { runs: items.flatMap((i) => (i.kind === 'run' ? [i.run] : [])), cursor: next };
  }

  async results(q: ResultQuery): Promise<InstanceResult[]> {
    const instances = await this.store.findInstances({
      campaign: q.campaign,
      ...(q.task !== undefined ? { task: q.task } : {}),
      runFrom: q.from,
      runTo: q.to,
      limit: MAX_INSTANCES,
    });
    const ids = instances.map((i) => i.id);
    const [jobs, outputs] = await Promise.all([
      this.store.jobsForInstances(ids),
      this.store.outputsForInstances(ids),
    ]);
    const jobsOf = byInstance(jobs);
    const outputsOf = byInstance(outputs);
    return instances.map((i) =>
      currentResult(i, jobsOf.get(i.id) ?? [], outputsOf.get(i.id) ?? []),
    );
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

function byInstance<T extends { instanceId: number }>(list: readonly T[]): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const x of list) {
    const l = m.get(x.instanceId);
    if (l === undefined) m.set(x.instanceId, [x]);
    else l.push(x);
  }
  return m;
}
