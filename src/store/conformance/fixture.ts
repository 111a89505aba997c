import assert from 'node:assert/strict';
import type { Instance, Job, RunInput } from '../../model/types.ts';
import type { NewJob, StateStore } from '../contract.ts';

/** A fixed clock: every stored time in these tests is one of these. */
export const T0 = 1_700_000_000_000;

export function newJob(index: number, extra: Partial<NewJob> = {}): NewJob {
  return { index, attempt: 1, executor: 'local', input: null, notBefore: null, ...extra };
}

export function runs(...numbers: number[]): RunInput[] {
  return numbers.map((run) => ({
    run,
    fill: 7,
    start: T0,
    end: null,
    lumi: null,
    type: 'collisions',
  }));
}

export function firstJob(s: { jobs: Job[] }): Job {
  const job = s.jobs[0];
  assert.ok(job);
  return job;
}

/** The store of the running test, and shortcuts to the states most tests start from. */
export class Fixture {
  #store: StateStore | undefined;

  get store(): StateStore {
    assert.ok(this.#store, 'no store open: the suite opens one before each test');
    return this.#store;
  }

  set store(store: StateStore | undefined) {
    this.#store = store;
  }

  openAnother: (() => Promise<StateStore>) | undefined;
  readonly #others: StateStore[] = [];

  /** A second handle on the test's store, as another controller would hold. */
  async another(): Promise<StateStore> {
    assert.ok(this.openAnother, 'no store open');
    const other = await this.openAnother();
    this.#others.push(other);
    return other;
  }

  async closeOthers(): Promise<void> {
    for (const o of this.#others.splice(0)) await o.close();
  }

  /** One instance per run of `task` in `prompt`. */
  async instancesOf(task: string, ...numbers: number[]): Promise<Instance[]> {
    await this.store.upsertRuns(runs(...numbers), 'test');
    return this.store.createInstances(
      numbers.map((r) => ({ campaign: 'prompt', task, groupKey: `run:${r}`, runs: [r] })),
      'engine',
    );
  }

  async oneInstance(task = 'reco', run = 100): Promise<Instance> {
    const [inst] = await this.instancesOf(task, run);
    assert.ok(inst);
    return inst;
  }

  /** An instance of run 100 started with configuration `cfg-1` and `jobs` idle jobs. */
  async started(jobs = 1): Promise<{ instance: Instance; jobs: Job[] }> {
    const inst = await this.oneInstance();
    return this.store.startInstance(inst.id, {
      from: 'new',
      configHash: 'cfg-1',
      config: { task: 'reco', tag: 'GT-1' },
      jobs: Array.from({ length: jobs }, (_, i) => newJob(i)),
      reason: null,
      by: 'engine',
      at: T0 + 10,
    });
  }
}
