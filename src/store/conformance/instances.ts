import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance } from '../../model/types.ts';
import type { StateStore } from '../contract.ts';
import { type Fixture, runs, T0 } from './fixture.ts';

/** Instance creation and queries. */
export function testInstances(f: Fixture): void {
  describe('instances', () => {
    it('creates new instances with memberships, a new event each and the cursor', async () => {
      await f.store.upsertRuns(runs(10, 11, 12), 'test');
      const made = await f.store.createInstances(
        [
          { campaign: 'prompt', task: 'reco', groupKey: 'run:10', runs: [10] },
          { campaign: 'prompt', task: 'calib', groupKey: 'fill:7', runs: [12, 11, 10] },
        ],
        'engine',
        { cursor: { key: 'intake:prompt', value: '3' } },
      );
      assert.equal(made.length, 2);
      const [a, b] = made;
      assert.ok(a && b);
      assert.deepEqual(
        { ...b, id: 0, createdAt: 0, updatedAt: 0 },
        {
          id: 0,
          campaign: 'prompt',
          task: 'calib',
          groupKey: 'fill:7',
          runs: [10, 11, 12],
          status: 'new',
          reason: null,
          attempt: 1,
          configHash: null,
          createdAt: 0,
          updatedAt: 0,
        },
      );
      assert.deepEqual(await f.store.getInstance(b.id), b);
      assert.equal(await f.store.getInstance(b.id + 1000), null);
      assert.equal(await f.store.getCursor('intake:prompt'), '3');
      const events = await f.store.listEvents({ instanceId: a.id });
      assert.deepEqual(
        events.map((e) => [e.entity, e.entityId, e.campaign, e.task, e.from, e.to, e.by]),
        [['instance', String(a.id), 'prompt', 'reco', null, 'new', 'engine']],
      );
    });

    it('skips an existing group and any group whose run is already in the task', async () => {
      const [first] = await f.instancesOf('reco', 10, 11);
      assert.ok(first);
      const again = await f.store.createInstances(
        [
          { campaign: 'prompt', task: 'reco', groupKey: 'run:10', runs: [10] },
          { campaign: 'prompt', task: 'reco', groupKey: 'lumi:11-12', runs: [11, 12] },
          { campaign: 'prompt', task: 'reco', groupKey: 'run:13', runs: [13] },
          { campaign: 'prompt', task: 'reco', groupKey: 'lumi:13-14', runs: [13, 14] },
          { campaign: 'prompt', task: 'calib', groupKey: 'run:10', runs: [10] },
          { campaign: 'rereco', task: 'reco', groupKey: 'run:10', runs: [10] },
        ],
        'engine',
        { cursor: { key: 'intake', value: 'again' } },
      );
      assert.deepEqual(
        again.map((i) => `${i.campaign}/${i.task}/${i.groupKey}`),
        ['prompt/reco/run:13', 'prompt/calib/run:10', 'rereco/reco/run:10'],
      );
      assert.equal(
        await f.store.getCursor('intake'),
        'again',
        'the cursor moves even when nothing is new',
      );
      assert.deepEqual(
        (await f.store.instancesForRuns('prompt', 'reco', [10])).map((i) => i.id),
        [first.id],
      );
    });

    it('lists instances by status, for runs, and by search', async () => {
      const [i1, i2, i3] = await f.instancesOf('reco', 1, 2, 3);
      const [c1] = await f.instancesOf('calib', 1);
      await f.store.createInstances(
        [{ campaign: 'prompt', task: 'lumi', groupKey: 'lumi:2-3', runs: [2, 3] }],
        'engine',
      );
      assert.ok(i1 && i2 && i3 && c1);
      await f.store.transitionInstance(i2.id, {
        from: 'new',
        to: 'waiting',
        reason: 'tag',
        by: 't',
        at: T0,
      });
      const byStatus = async (statuses: Instance['status'][]) =>
        (await f.store.instancesByStatus('prompt', 'reco', statuses)).map((i) => i.id);
      assert.deepEqual(await byStatus(['new', 'waiting']), [i1.id, i2.id, i3.id]);
      assert.deepEqual(await byStatus(['waiting']), [i2.id]);
      assert.deepEqual(await byStatus(['processing']), []);
      assert.deepEqual(
        (await f.store.instancesForRuns('prompt', 'lumi', [2, 3, 9])).map((i) => i.groupKey),
        ['lumi:2-3'],
      );
      assert.deepEqual((await f.store.instancesForRuns('rereco', 'reco', [1])).length, 0);
      const find = async (q: Parameters<StateStore['findInstances']>[0]) =>
        (await f.store.findInstances(q)).map((i) => `${i.task}:${i.runs.join(',')}`);
      assert.deepEqual(await find({ campaign: 'prompt' }), [
        'calib:1',
        'reco:1',
        'lumi:2,3',
        'reco:2',
        'reco:3',
      ]);
      assert.deepEqual(await find({ task: 'reco', statuses: ['new'] }), ['reco:1', 'reco:3']);
      assert.deepEqual(await find({ campaign: 'prompt', runFrom: 3, runTo: 3 }), [
        'lumi:2,3',
        'reco:3',
      ]);
      assert.deepEqual(await find({ runFrom: 2 }), ['lumi:2,3', 'reco:2', 'reco:3']);
      assert.deepEqual(await find({ runTo: 1, task: 'calib' }), ['calib:1']);
      assert.deepEqual(await find({ campaign: 'prompt', limit: 2 }), ['calib:1', 'reco:1']);
      assert.deepEqual(await find({ campaign: 'rereco' }), []);
    });

    it('gives the cells of the overview grid', async () => {
      const [r1] = await f.instancesOf('reco', 1, 2);
      await f.instancesOf('calib', 2);
      await f.store.createInstances(
        [{ campaign: 'rereco', task: 'reco', groupKey: 'run:1', runs: [1] }],
        'engine',
      );
      assert.ok(r1);
      await f.store.transitionInstance(r1.id, {
        from: 'new',
        to: 'waiting',
        reason: 'x',
        by: 't',
        at: T0,
      });
      const cells = await f.store.cellsForRuns('prompt', [1, 2, 3]);
      const key = (c: { run: number; task: string; status: string }) =>
        `${c.run}/${c.task}/${c.status}`;
      assert.deepEqual(cells.map(key).sort(), ['1/reco/waiting', '2/calib/new', '2/reco/new']);
      assert.equal(cells.find((c) => c.run === 1)?.instanceId, r1.id);
      assert.deepEqual(await f.store.cellsForRuns('prompt', []), []);
    });
  });
}
