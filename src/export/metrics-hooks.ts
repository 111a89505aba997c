/**
 * What other parts of a process tell `/metrics`, without loading prom-client
 * (the engine, the exporters and the job report route call these; the
 * Prometheus collector in `prometheus.ts` reads them at each scrape). State
 * is per process, as Prometheus scrapes processes.
 */

const executorUp = new Map<string, boolean>();
const feedLags = new Map<string, () => number | Promise<number>>();
const sourceSuccess = new Map<string, number>();
let reports = 0;

/**
 * Whether an executor can take work now (its batch system answers). Call it
 * with false on `ExecutorUnavailableError`, with true once it answers again;
 * an executor never reported is taken as available.
 */
export function setExecutorAvailable(executor: string, available: boolean): void {
  executorUp.set(executor, available);
}

export function executorAvailable(executor: string): boolean {
  return executorUp.get(executor) ?? true;
}

/**
 * An exporter (the InfluxDB mirror...) registers how far behind the change
 * feed it is, in seconds (0 when caught up): read at each scrape, so it must
 * be cheap (a figure it keeps, not a query). Returns the function that
 * unregisters it, for a clean stop.
 */
export function registerFeedLag(
  exporter: string,
  lagSeconds: () => number | Promise<number>,
): () => void {
  feedLags.set(exporter, lagSeconds);
  return () => {
    if (feedLags.get(exporter) === lagSeconds) feedLags.delete(exporter);
  };
}

export function feedLagReaders(): ReadonlyMap<string, () => number | Promise<number>> {
  return feedLags;
}

/** A source poll succeeded at `at` (ms since the epoch). */
export function sourcePolled(source: string, at: number): void {
  sourceSuccess.set(source, at);
}

export function lastSourceSuccess(): ReadonlyMap<string, number> {
  return sourceSuccess;
}

/** A job report was taken (the counter behind reports per second). */
export function countReport(): void {
  reports++;
}

export function reportsTaken(): number {
  return reports;
}
