import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { SamplePoint, SampleQuery } from '../samples-contract.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

/** Job-field samples read back as time series, paged, filtered, and pruned by age. */
export function testSamples(f: Fixture): void {
  /** Runs 100..102 of reco with one started job each; returns their job ids in run order. */
  async function jobsOfRuns(): Promise<number[]> {
    const ids: number[] = [];
    for (const inst of await f.instancesOf('reco', 100, 101, 102)) {
      const { jobs } = await f.store.startInstance(inst.id, {
        from: 'new',
        configHash: 'cfg-1',
        config: { task: 'reco' },
        jobs: [newJob(0)],
        reason: null,
        by: 'engine',
        at: T0,
      });
      ids.push(jobs[0]?.id ?? -1);
    }
    return ids;
  }

  async function all(q: Omit<SampleQuery, 'limit' | 'after'>, limit: number) {
    const got: SamplePoint[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const page = await f.store.listSamples({ ...q, limit, after });
      got.push(...page.samples);
      if (page.next === null) return got;
      after = page.next;
    }
    throw new Error('paging did not end');
  }

  it('lists the samples of one field in time order, paged, by time and by run range', async () => {
    const [a, b, c] = await jobsOfRuns();
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    await f.store.recordJobData(a, { fields: { gain: 1.5, tag: 'x' }, at: T0 + 30 });
    await f.store.recordJobData(b, { fields: { gain: 2.5 }, at: T0 + 10 });
    await f.store.recordJobData(c, { fields: { gain: 3.5 }, at: T0 + 10 });
    await f.store.recordJobData(a, { fields: { gain: 1.75 }, at: T0 + 40 });
    const q = { campaign: 'prompt', task: 'reco', key: 'gain' };
    const whole = await all(q, 100);
    assert.deepEqual(
      whole.map((s) => [s.at - T0, s.value, s.runs]),
      [
        [10, 2.5, [101]],
        [10, 3.5, [102]],
        [30, 1.5, [100]],
        [40, 1.75, [100]],
      ],
    );
    assert.deepEqual(
      { ...whole[2] },
      {
        at: T0 + 30,
        value: 1.5,
        jobId: a,
        attempt: 1,
        instanceId: whole[2]?.instanceId,
        runs: [100],
      },
    );
    for (const size of [1, 2, 3]) assert.deepEqual(await all(q, size), whole, `pages of ${size}`);
    const window = await all({ ...q, since: T0 + 10, until: T0 + 40 }, 100);
    assert.deepEqual(
      window.map((s) => s.value),
      [2.5, 3.5, 1.5],
    );
    const run100 = await all({ ...q, runFrom: 100, runTo: 100 }, 100);
    assert.deepEqual(
      run100.map((s) => s.value),
      [1.5, 1.75],
    );
    assert.deepEqual(
      (await all({ ...q, runFrom: 101 }, 1)).map((s) => s.value),
      [2.5, 3.5],
    );
    assert.deepEqual(
      (await all({ ...q, key: 'tag' }, 10)).map((s) => s.value),
      ['x'],
    );
    assert.deepEqual(await all({ ...q, task: 'other' }, 10), []);
    await assert.rejects(f.store.listSamples({ ...q, limit: 1, after: 'nonsense' }), RangeError);
  });

  it('prunes samples older than a time, at most a batch at a time', async () => {
    const [a] = await jobsOfRuns();
    assert.ok(a !== undefined);
    for (let i = 0; i < 5; i++)
      await f.store.recordJobData(a, { fields: { gain: i }, at: T0 + i * 10 });
    assert.equal(await f.store.pruneSamples(T0 + 35, 2), 2);
    assert.equal(await f.store.pruneSamples(T0 + 35, 2), 2);
    assert.equal(await f.store.pruneSamples(T0 + 35, 2), 0);
    const left = await f.store.listSamples({
      campaign: 'prompt',
      task: 'reco',
      key: 'gain',
      limit: 10,
    });
    assert.deepEqual(
      left.samples.map((s) => s.value),
      [4],
    );
    // The feed passes over what was pruned and still ends at its head.
    const feed = await f.store.readFeed(null, { limit: 1_000, kinds: ['sample'] });
    assert.deepEqual(
      feed.items.map((i) => (i.kind === 'sample' ? i.sample.value : null)),
      [4],
    );
  });
}
