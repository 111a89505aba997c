import type { Deployment } from '../config/types.ts';
import type { EventRecord, Instance } from '../model/types.ts';
import type { FeedItem, StateStore } from '../store/contract.ts';
import type { ExportItem, Subject } from './contract.ts';

interface JobFacts {
  executor: string;
  attempt: number;
  instanceAttempt: number;
}

/** Jobs remembered between pages (a job's executor and attempt never change); half go beyond this. */
const MAX_JOBS = 100_000;

/**
 * Looks up who each feed item concerns, with two store reads per page at
 * most: the instances, and the jobs not seen before. An instance event's
 * attempt is the instance's attempt now (a reprocess since shows the later one).
 */
export class SubjectLookup {
  readonly #store: StateStore;
  readonly #tasks: ReadonlyMap<string, { workflow: string; executor: string }>;
  readonly #jobs = new Map<number, JobFacts>();

  constructor(store: StateStore, deployment: Deployment) {
    this.#store = store;
    this.#tasks = new Map(deployment.tasks.map((t) => [t.name, t]));
  }

  async items(feed: readonly FeedItem[]): Promise<ExportItem[]> {
    const instanceIds = new Set<number>();
    const jobIds = new Map<number, number>();
    for (const item of feed) {
      if (item.kind === 'sample') {
        instanceIds.add(item.sample.instanceId);
        jobIds.set(item.sample.jobId, item.sample.instanceId);
      } else if (item.kind === 'event' && item.event.instanceId !== null) {
        instanceIds.add(item.event.instanceId);
        if (item.event.entity === 'job')
          jobIds.set(Number(item.event.entityId), item.event.instanceId);
      }
    }
    const instances = new Map(
      (await this.#store.getInstances([...instanceIds])).map((i) => [i.id, i]),
    );
    await this.#learnJobs(jobIds);
    return feed.map((item) => this.#item(item, instances));
  }

  #item(item: FeedItem, instances: ReadonlyMap<number, Instance>): ExportItem {
    if (item.kind === 'run') return { kind: 'run', run: item.run };
    if (item.kind === 'sample') {
      const s = item.sample;
      const subject = this.#subject(s.task, instances.get(s.instanceId), this.#jobs.get(s.jobId));
      return { kind: 'sample', sample: s, subject };
    }
    const e = item.event;
    const job = e.entity === 'job' ? this.#jobs.get(Number(e.entityId)) : undefined;
    const instance = e.instanceId === null ? undefined : instances.get(e.instanceId);
    return { kind: 'event', event: e, subject: this.#subject(e.task, instance, job, e) };
  }

  #subject(
    task: string | null,
    instance: Instance | undefined,
    job: JobFacts | undefined,
    e?: EventRecord,
  ): Subject {
    const t = task === null ? undefined : this.#tasks.get(task);
    const eventAttempt = typeof e?.data?.attempt === 'number' ? e.data.attempt : null;
    return {
      workflow: t?.workflow ?? null,
      executor: job?.executor ?? t?.executor ?? null,
      runs: instance?.runs ?? (e?.entity === 'run' ? [Number(e.entityId)] : []),
      attempt: job?.instanceAttempt ?? instance?.attempt ?? null,
      jobAttempt: eventAttempt ?? job?.attempt ?? null,
    };
  }

  async #learnJobs(wanted: ReadonlyMap<number, number>): Promise<void> {
    const missing = new Set<number>();
    for (const [job, instance] of wanted) if (!this.#jobs.has(job)) missing.add(instance);
    if (missing.size === 0) return;
    if (this.#jobs.size > MAX_JOBS) {
      let drop = this.#jobs.size / 2;
      for (const k of this.#jobs.keys()) {
        this.#jobs.delete(k);
        if (--drop <= 0) break;
      }
    }
    for (const j of await this.#store.jobsForInstances([...missing])) {
      this.#jobs.set(j.id, {
        executor: j.executor,
        attempt: j.attempt,
        instanceAttempt: j.instanceAttempt,
      });
    }
  }
}
