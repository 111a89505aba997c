import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Fixture, runs, T0 } from './fixture.ts';

/** Runs and cursors. */
export function testRuns(f: Fixture): void {
  describe('runs', () => {
    it('adds runs with increasing seq, all fields and an added event each', async () => {
      const res = await f.store.upsertRuns(
        [
          {
            run: 101,
            fill: 8,
            start: T0,
            end: T0 + 5,
            lumi: 1.5,
            type: 'cosmics',
            meta: { hlt: 'v2', n: 3, ok: true },
          },
          { run: 100 },
        ],
        'source:test',
      );
      assert.deepEqual([res.added.toSorted(), res.changed], [[100, 101], []]);
      const r101 = await f.store.getRun(101);
      assert.deepEqual(
        { ...r101, seq: undefined },
        {
          run: 101,
          fill: 8,
          start: T0,
          end: T0 + 5,
          lumi: 1.5,
          type: 'cosmics',
          meta: { hlt: 'v2', n: 3, ok: true },
          seq: undefined,
        },
      );
      const r100 = await f.store.getRun(100);
      assert.deepEqual(
        { ...r100, seq: undefined },
        {
          run: 100,
          fill: null,
          start: null,
          end: null,
          lumi: null,
          type: null,
          meta: {},
          seq: undefined,
        },
      );
      assert.ok(r100 && r101 && r100.seq > 0 && r101.seq !== r100.seq);
      assert.equal(await f.store.getRun(999), null);
      const events = await f.store.listEvents({ entity: 'run' });
      assert.deepEqual(events.map((e) => [e.entityId, e.to, e.by]).sort(), [
        ['100', 'added', 'source:test'],
        ['101', 'added', 'source:test'],
      ]);
    });

    it('updates changed runs with a new seq and a changed event, leaves unchanged ones alone', async () => {
      await f.store.upsertRuns(runs(100, 101, 102), 'test');
      const before = await f.store.getRun(100);
      const res = await f.store.upsertRuns(
        [...runs(101, 102), { run: 100, end: T0 + 60_000, lumi: 12.5 }],
        'source:test',
      );
      assert.deepEqual(res, { added: [], changed: [100] });
      const after = await f.store.getRun(100);
      const maxSeq = Math.max(...(await f.store.getRuns([100, 101, 102])).map((r) => r.seq));
      assert.ok(before && after);
      assert.equal(after.seq, maxSeq, 'a change bumps seq past every other run');
      assert.equal(after.end, T0 + 60_000);
      assert.equal(after.lumi, 12.5);
      assert.equal(after.fill, 7, 'absent fields keep their known value');
      const changed = await f.store.listEvents({ entity: 'run', entityId: '100' });
      assert.deepEqual(
        changed.map((e) => [e.to, e.data]),
        [
          ['added', null],
          ['changed', { end: [null, T0 + 60_000], lumi: [null, 12.5] }],
        ],
      );
      assert.deepEqual(await f.store.upsertRuns([{ run: 100, meta: {} }], 'test'), {
        added: [],
        changed: [],
      });
      assert.equal((await f.store.getRun(100))?.seq, after.seq);
    });

    it('compares meta by content, not key order, and folds repeated runs of one call', async () => {
      await f.store.upsertRuns([{ run: 1, meta: { a: 1, b: 'x' } }], 'test');
      assert.deepEqual(await f.store.upsertRuns([{ run: 1, meta: { b: 'x', a: 1 } }], 'test'), {
        added: [],
        changed: [],
      });
      const res = await f.store.upsertRuns(
        [
          { run: 2, lumi: 1 },
          { run: 2, lumi: 2 },
        ],
        'test',
      );
      assert.deepEqual(res, { added: [2], changed: [] });
      assert.equal((await f.store.getRun(2))?.lumi, 2);
      assert.deepEqual((await f.store.getRuns([2, 1, 3])).map((r) => r.run).sort(), [1, 2]);
      assert.equal(await f.store.countRuns(), 2);
    });

    it('pages runs by descending number and follows them by seq', async () => {
      await f.store.upsertRuns(runs(5, 1, 4, 2, 3), 'test');
      assert.deepEqual(
        (await f.store.listRuns({})).map((r) => r.run),
        [5, 4, 3, 2, 1],
      );
      assert.deepEqual(
        (await f.store.listRuns({ limit: 2 })).map((r) => r.run),
        [5, 4],
      );
      assert.deepEqual(
        (await f.store.listRuns({ limit: 2, before: 4 })).map((r) => r.run),
        [3, 2],
      );
      assert.deepEqual(
        (await f.store.listRuns({ from: 2, to: 4 })).map((r) => r.run),
        [4, 3, 2],
      );
      const runsIn = async (after: string | null, limit: number) => {
        const page = await f.store.readFeed(after, { limit, kinds: ['run'] });
        return { runs: page.items.flatMap((i) => (i.kind === 'run' ? [i.run] : [])), ...page };
      };
      const all = await runsIn(null, 100);
      assert.equal(all.runs.length, 5);
      const seqs = all.runs.map((r) => r.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
      );
      const two = await runsIn(null, 2);
      const [first] = two.runs;
      assert.ok(first);
      assert.equal((await runsIn(two.cursor, 100)).runs.length, 3);
      await f.store.upsertRuns([{ run: first.run, lumi: 3 }], 'test');
      const again = await runsIn(all.cursor, 100);
      assert.deepEqual(
        again.runs.map((r) => r.run),
        [first.run],
        'a changed run comes again after the cursor',
      );
      assert.ok((again.runs[0]?.seq ?? 0) > first.seq, 'its seq grew');
      assert.deepEqual((await runsIn(again.cursor, 100)).runs, []);
    });
  });

  it('keeps cursors, with compare-and-set and insert-if-absent', async () => {
    assert.equal(await f.store.getCursor('intake:prompt:reco'), null);
    await f.store.setCursor('intake:prompt:reco', '12');
    await f.store.setCursor('intake:prompt:reco', '15');
    assert.equal(await f.store.getCursor('intake:prompt:reco'), '15');
    assert.equal(await f.store.compareAndSetCursor('k', 'x', '1'), false, 'absent is not x');
    assert.equal(await f.store.compareAndSetCursor('k', null, '1'), true);
    assert.equal(await f.store.compareAndSetCursor('k', null, '2'), false, 'present now');
    assert.equal(await f.store.compareAndSetCursor('k', '1', '2'), true);
    assert.equal(await f.store.getCursor('k'), '2');
    assert.equal(await f.store.ensureCursor('secret', 'first'), 'first');
    assert.equal(await f.store.ensureCursor('secret', 'second'), 'first', 'created once');
  });
}
