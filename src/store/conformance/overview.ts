import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OverviewQuery } from '../overview-contract.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

/** The overview grid's queries, the run expectations behind its status, and the plots' queries. */
export function testOverview(f: Fixture): void {
  /** Runs 1..5 (fill 7 for 1-3, 8 for 4-5) and instances of reco and calib for each, all known to expect 2 tasks. */
  async function grid(): Promise<Map<string, number>> {
    await f.store.upsertRuns(
      [1, 2, 3, 4, 5].map((run) => ({
        run,
        fill: run <= 3 ? 7 : 8,
        end: T0 + run,
        type: run === 5 ? 'cosmics' : 'collisions',
        meta: { global_tag: run % 2 ? 'GT_Odd_v1' : 'GT_Even_v2' },
      })),
      'test',
    );
    const ids = new Map<string, number>();
    for (const task of ['reco', 'calib']) {
      const made = await f.store.createInstances(
        [1, 2, 3, 4, 5].map((r) => ({ campaign: 'prompt', task, groupKey: `run:${r}`, runs: [r] })),
        'engine',
      );
      for (const i of made) ids.set(`${task}:${i.runs[0]}`, i.id);
    }
    for (const row of await f.store.runsWithoutExpectation(100)) {
      await f.store.setRunExpectations([
        { campaign: row.campaign, run: row.run.run, seq: row.run.seq, expected: 2 },
      ]);
    }
    return ids;
  }

  async function settle(id: number, to: 'done' | 'failed'): Promise<void> {
    await f.store.startInstance(id, {
      from: 'new',
      configHash: 'h',
      config: {},
      jobs: [newJob(0)],
      reason: null,
      by: 'engine',
      at: T0,
    });
    await f.store.transitionInstance(id, {
      from: 'processing',
      to,
      reason: null,
      by: 'engine',
      at: T0 + 1,
    });
  }

  const runs = async (q: Partial<OverviewQuery>) =>
    (await f.store.overviewRuns({ campaign: 'prompt', order: 'desc', limit: 100, ...q })).map(
      (r) => `${r.run.run}:${r.status}`,
    );

  describe('overview', () => {
    it('has a row per prompt run, processing until every applicable task is done', async () => {
      const ids = await grid();
      const id = (k: string) => ids.get(k) ?? 0;
      assert.deepEqual(await runs({}), [
        '5:processing',
        '4:processing',
        '3:processing',
        '2:processing',
        '1:processing',
      ]);
      await settle(id('reco:1'), 'done');
      await settle(id('calib:1'), 'done');
      await settle(id('reco:2'), 'done');
      await settle(id('calib:2'), 'failed');
      await settle(id('reco:3'), 'done');
      assert.deepEqual(await runs({}), [
        '5:processing',
        '4:processing',
        '3:processing',
        '2:failed',
        '1:done',
      ]);
      assert.deepEqual(await runs({ status: 'done' }), ['1:done']);
      assert.deepEqual(await runs({ status: 'failed' }), ['2:failed']);
      assert.deepEqual(await runs({ status: 'processing', order: 'asc' }), [
        '3:processing',
        '4:processing',
        '5:processing',
      ]);
      // A reprocess brings the run back to processing, in the same transaction.
      await f.store.transitionInstance(id('calib:2'), {
        from: 'failed',
        to: 'new',
        reason: 'again',
        by: 'op',
        at: T0 + 2,
      });
      assert.deepEqual(await runs({ status: 'failed' }), []);
      assert.deepEqual(await runs({ task: { name: 'calib', status: 'new' } }), [
        '5:processing',
        '4:processing',
        '3:processing',
        '2:processing',
      ]);
      assert.deepEqual(
        await runs({ task: { name: 'reco', status: 'done' }, status: 'processing' }),
        ['3:processing', '2:processing'],
      );
    });

    it('filters by fill, range, run-number prefix and text, and pages by run', async () => {
      await grid();
      assert.deepEqual(await runs({ fill: 8 }), ['5:processing', '4:processing']);
      assert.deepEqual(await runs({ from: 2, to: 3 }), ['3:processing', '2:processing']);
      assert.deepEqual(await runs({ runPrefix: '4' }), ['4:processing']);
      assert.deepEqual(await runs({ text: 'gt_even' }), ['4:processing', '2:processing']);
      assert.deepEqual(await runs({ text: 'cosmics' }), ['5:processing']);
      assert.deepEqual(await runs({ text: 'even', fill: 7 }), ['2:processing']);
      assert.deepEqual(await runs({ text: 'nowhere' }), []);
      assert.deepEqual(await runs({ limit: 2, after: 4 }), ['3:processing', '2:processing']);
      assert.deepEqual(await runs({ limit: 2, after: 2, order: 'asc' }), [
        '3:processing',
        '4:processing',
      ]);
      assert.deepEqual(await runs({ campaign: 'other' }), []);
    });

    it('forgets the expectation of a changed run, and every one on reset', async () => {
      await grid();
      assert.deepEqual(await f.store.runsWithoutExpectation(10), []);
      await f.store.upsertRuns([{ run: 3, lumi: 42 }], 'source');
      assert.deepEqual(
        (await f.store.runsWithoutExpectation(10)).map((r) => [r.campaign, r.run.run, r.run.lumi]),
        [['prompt', 3, 42]],
      );
      const [stale] = await f.store.runsWithoutExpectation(10);
      assert.ok(stale);
      await f.store.upsertRuns([{ run: 3, lumi: 43 }], 'source');
      await f.store.setRunExpectations([
        { campaign: 'prompt', run: 3, seq: stale.run.seq, expected: 2 },
      ]);
      assert.equal(
        (await f.store.runsWithoutExpectation(10)).length,
        1,
        'computed from an old version: ignored',
      );
      await f.store.resetRunExpectations();
      assert.equal((await f.store.runsWithoutExpectation(10)).length, 5);
    });

    it('counts -1 expected as not done, 0 as done', async () => {
      await f.store.upsertRuns([{ run: 1 }, { run: 2, end: T0 }], 'test');
      const [a, b] = await f.store.runsWithoutExpectation(10);
      assert.ok(a && b);
      await f.store.setRunExpectations([
        { campaign: 'prompt', run: a.run.run, seq: a.run.seq, expected: -1 },
        { campaign: 'prompt', run: b.run.run, seq: b.run.seq, expected: 0 },
      ]);
      assert.deepEqual(await runs({}), ['2:done', '1:processing']);
    });

    it('gives the jobs of a task over runs, and instances settled per time bucket', async () => {
      const ids = await grid();
      await settle(ids.get('reco:1') ?? 0, 'done');
      await settle(ids.get('reco:2') ?? 0, 'failed');
      const jobs = await f.store.taskJobs({ campaign: 'prompt', task: 'reco', limit: 10 });
      assert.deepEqual(
        jobs.map((j) => j.run),
        [2, 1],
      );
      assert.equal(jobs[0]?.job.task, 'reco');
      assert.deepEqual(
        (
          await f.store.taskJobs({ campaign: 'prompt', task: 'reco', from: 1, to: 1, limit: 10 })
        ).map((j) => j.run),
        [1],
      );
      const counts = await f.store.settledCounts({
        campaign: 'prompt',
        since: T0 - 1000,
        until: T0 + 1000,
        bucketMs: 1000,
      });
      assert.deepEqual(
        counts.map((c) => [c.bucket, c.task, c.status, c.count]),
        [
          [T0, 'reco', 'done', 1],
          [T0, 'reco', 'failed', 1],
        ],
      );
    });
  });
}
