import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Fixture, firstJob, runs, T0 } from './fixture.ts';

/** The event log, leases and migrations. */
export function testHistory(f: Fixture): void {
  it('lists events by instance (with its jobs), entity, after an id, with a limit', async () => {
    const s = await f.started(1);
    const job = firstJob(s);
    await f.instancesOf('calib', 100);
    await f.store.transitionJob(job.id, {
      from: 'idle',
      to: 'running',
      reason: null,
      by: 'e',
      at: T0 + 20,
    });
    const mine = await f.store.listEvents({ instanceId: s.instance.id });
    assert.deepEqual(
      mine.map((e) => `${e.entity}:${e.to}`),
      ['instance:new', 'instance:processing', 'job:idle', 'job:running'],
    );
    const ids = mine.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    const all = await f.store.listEvents({});
    assert.ok(all.length > mine.length);
    assert.deepEqual(
      all.map((e) => e.id),
      [...all.map((e) => e.id)].sort((a, b) => a - b),
    );
    const second = mine[1];
    assert.ok(second);
    assert.deepEqual(
      (await f.store.listEvents({ instanceId: s.instance.id, afterId: second.id })).map(
        (e) => e.id,
      ),
      ids.slice(2),
    );
    assert.deepEqual(
      (await f.store.listEvents({ instanceId: s.instance.id, limit: 2 })).map((e) => e.id),
      ids.slice(0, 2),
    );
    assert.deepEqual(
      (await f.store.listEvents({ entity: 'job', entityId: String(job.id) })).map((e) => e.to),
      ['idle', 'running'],
    );
    assert.deepEqual(
      (await f.store.listEvents({ instanceId: s.instance.id, entity: 'instance' })).map(
        (e) => e.to,
      ),
      ['new', 'processing'],
    );
    const last = all.at(-1);
    assert.deepEqual(await f.store.listEvents({ afterId: last?.id ?? 0 }), []);
  });

  it('migrates idempotently', async () => {
    await f.store.upsertRuns(runs(1), 'test');
    await f.store.migrate();
    const again = await f.store.migrate();
    assert.equal(again.from, again.to, 'nothing left to apply');
    assert.equal(await f.store.countRuns(), 1);
  });
}
