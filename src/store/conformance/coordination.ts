import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClaimLostError, CursorConflictError, FencedError } from '../../errors.ts';
import type { Fence } from '../contract.ts';
import { type Fixture, runs } from './fixture.ts';

const CLAIM = { owner: 'proc-a', ttlMs: 60_000 };
/** Starts a new instance with one idle job. */
const START = {
  from: 'new' as const,
  configHash: 'h',
  config: {},
  jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
  reason: null,
  by: 'engine',
  at: 1,
};

/** Leases, fences and claims: what lets several controllers share one store. */
export function testCoordination(f: Fixture): void {
  it('grants a lease to one owner at a time, judged by the store clock, with a growing epoch', async () => {
    const a = await f.store.acquireLease('engine', 'a', 200);
    assert.ok(a);
    assert.equal(a.epoch, 1);
    assert.ok(Math.abs(a.expiresAt - (await f.store.clock()) - 200) < 150);
    assert.equal(await f.store.acquireLease('engine', 'b', 200), null, 'held by a');
    const again = await f.store.acquireLease('engine', 'a', 200);
    assert.equal(again?.epoch, 1, 'its holder re-takes it with the same epoch');
    assert.equal(again?.since, a.since);
    assert.ok(await f.store.acquireLease('other', 'b', 200), 'leases are independent');
    const renewed = await f.store.renewLease(a, 1_000);
    assert.ok(renewed && renewed.expiresAt > a.expiresAt);
    assert.equal((await f.store.getLease('engine'))?.owner, 'a');
    await f.store.releaseLease(a);
    const b = await f.store.acquireLease('engine', 'b', 60);
    assert.equal(b?.epoch, 2, 'a new holder, a new epoch');
    assert.equal(await f.store.renewLease(a, 1_000), null, 'the old holder lost it');
    await sleep(120);
    const c = await f.store.acquireLease('engine', 'c', 1_000);
    assert.equal(c?.epoch, 3, 'taken once expired');
    assert.equal(await f.store.renewLease(b as NonNullable<typeof b>, 1_000), null);
    assert.deepEqual(await f.store.getLease('nobody'), null);
    assert.equal(await f.store.acquireLease('engine', 'd', 1_000, { takeFrom: 'x' }), null);
    const d = await f.store.acquireLease('engine', 'd', 1_000, { takeFrom: 'c' });
    assert.equal(d?.epoch, 4, 'taken at once from a holder known dead');
  });

  it('refuses writes fenced with a stale epoch and changes nothing', async () => {
    const old = await f.store.acquireLease('engine', 'a', 1_000);
    assert.ok(old);
    const stale: Fence = { lease: 'engine', epoch: old.epoch };
    await f.store.upsertRuns(runs(1), 'test', { fence: stale });
    await f.store.releaseLease(old);
    const now = await f.store.acquireLease('engine', 'b', 1_000);
    assert.ok(now);
    await assert.rejects(f.store.upsertRuns(runs(2), 'test', { fence: stale }), FencedError);
    assert.equal(await f.store.getRun(2), null);
    await assert.rejects(
      f.store.createInstances(
        [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
        'engine',
        { fence: stale, cursor: { key: 'intake', value: 'x' } },
      ),
      FencedError,
    );
    assert.equal(await f.store.getCursor('intake'), null, 'the cursor was not written either');
    await assert.rejects(f.store.setCursor('k', 'v', stale), FencedError);
    const [inst] = await f.store.createInstances(
      [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
      'engine',
      { fence: { lease: 'engine', epoch: now.epoch } },
    );
    assert.ok(inst);
    const start = START;
    await assert.rejects(f.store.startInstance(inst.id, { ...start, fence: stale }), FencedError);
    assert.equal((await f.store.getInstance(inst.id))?.status, 'new');
    const { jobs } = await f.store.startInstance(inst.id, {
      ...start,
      fence: { lease: 'engine', epoch: now.epoch },
    });
    const ids = jobs.map((j) => j.id);
    await assert.rejects(f.store.claimJobs(ids, CLAIM, stale), FencedError);
    assert.deepEqual(
      await f.store.claimJobs(ids, CLAIM, { lease: 'engine', epoch: now.epoch }),
      ids,
    );
  });

  it('writes a cursor with its data only when the compare-and-set holds', async () => {
    await f.store.upsertRuns(runs(1), 'src', {
      cursor: { key: 'source:a', value: '1', expected: null },
    });
    await assert.rejects(
      f.store.upsertRuns(runs(2), 'src', {
        cursor: { key: 'source:a', value: '2', expected: '0' },
      }),
      CursorConflictError,
    );
    assert.equal(await f.store.getRun(2), null, 'runs and cursor go together');
    assert.equal(await f.store.getCursor('source:a'), '1');
  });

  it('claims expire, are taken back only by compare-and-set, and guard submission', async () => {
    const { jobs } = await f.started(2);
    const [a, b] = jobs;
    assert.ok(a && b);
    assert.deepEqual(await f.store.claimJobs([a.id, b.id], { owner: 'dead', ttlMs: 1 }), [
      a.id,
      b.id,
    ]);
    await assert.rejects(
      f.store.setJobSubmitted(a.id, { owner: 'proc-a', executorId: '1', logPath: null }),
      (err: unknown) => err instanceof ClaimLostError && err.holder === 'dead',
    );
    await sleep(5);
    const expired = await f.store.getJob(a.id);
    assert.ok((expired?.claimExpiresAt ?? Number.POSITIVE_INFINITY) <= (await f.store.clock()));
    assert.deepEqual(await f.store.releaseClaims([{ id: a.id, owner: 'someone-else' }]), []);
    assert.deepEqual(await f.store.releaseClaims([{ id: a.id, owner: 'dead' }]), [a.id]);
    const back = await f.store.getJob(a.id);
    assert.deepEqual([back?.claimedBy, back?.claimedAt, back?.status], [null, null, 'idle']);
    assert.deepEqual(await f.store.claimJobs([a.id], CLAIM), [a.id]);
    await f.store.setJobSubmitted(a.id, { owner: 'proc-a', executorId: '7', logPath: null });
    await f.store.setJobSubmitted(b.id, { owner: 'dead', executorId: '8', logPath: null });
    assert.deepEqual(
      await f.store.releaseClaims([{ id: b.id, owner: 'dead' }]),
      [],
      'a job handed to an executor is never taken back',
    );
  });

  it('keeps where a submitted job waits, for its claim owner only, until a transition', async () => {
    const { jobs } = await f.started(1);
    const [a] = jobs;
    assert.ok(a);
    await f.store.claimJobs([a.id], CLAIM);
    await f.store.setJobSubmitted(a.id, { owner: 'proc-a', executorId: null, logPath: null });
    const held = { owner: 'proc-a', state: 'held' as const, reason: 'held by admin' };
    assert.equal(await f.store.setJobQueueState(a.id, { ...held, owner: 'other' }), false);
    assert.equal(await f.store.setJobQueueState(a.id, held), true);
    assert.equal(await f.store.setJobQueueState(a.id, held), false, 'nothing changed');
    const first = await f.store.getJob(a.id);
    assert.deepEqual(
      [first?.queueState, first?.reason, first?.executorId],
      ['held', 'held by admin', null],
    );
    assert.ok(first?.queueSince != null);
    await sleep(5);
    assert.equal(await f.store.setJobQueueState(a.id, { ...held, reason: 'still held' }), true);
    assert.equal(
      (await f.store.getJob(a.id))?.queueSince,
      first.queueSince,
      'same state, same since',
    );
    await f.store.transitionJob(a.id, {
      from: 'idle',
      to: 'running',
      reason: null,
      by: 'test',
      at: 2,
    });
    const running = await f.store.getJob(a.id);
    assert.deepEqual([running?.queueState, running?.queueSince], [null, null]);
  });

  it('reads instances and jobs in batches', async () => {
    const made = await f.instancesOf('reco', 1, 2, 3);
    const ids = made.map((i) => i.id);
    assert.deepEqual(
      (await f.store.getInstances([ids[2] ?? 0, ids[0] ?? 0, 99_999])).map((i) => i.id),
      [ids[0], ids[2]],
    );
    // One after the other: started side by side, their jobs' ids may come in either order.
    const started = [];
    for (const i of made.slice(0, 2)) started.push(await f.store.startInstance(i.id, START));
    assert.deepEqual(
      (await f.store.jobsForInstances(ids)).map((j) => j.instanceId),
      started.map((s) => s.instance.id),
    );
  });

  it('sees another handle on the same store at once', async () => {
    const other = await f.another();
    await other.upsertRuns(runs(5), 'other');
    assert.equal((await f.store.getRun(5))?.run, 5);
    assert.equal(await other.ensureCursor('secret', 'x'), 'x');
    assert.equal(await f.store.ensureCursor('secret', 'y'), 'x', 'one secret whoever comes first');
  });

  it('wakes a watcher within 50 ms of a commit through another handle', async () => {
    const other = await f.another();
    let woke = 0;
    const stop = f.store.watch(() => {
      woke++;
    });
    try {
      await sleep(60);
      woke = 0;
      // From the commit, as the contract says: the write itself may take round trips.
      await other.upsertRuns(runs(9), 'other');
      const t0 = performance.now();
      while (woke === 0 && performance.now() - t0 < 1_000) await sleep(2);
      const took = performance.now() - t0;
      assert.ok(woke > 0, 'woken');
      assert.ok(took <= 50 + 30, `woken after ${took.toFixed(0)} ms`);
    } finally {
      stop();
    }
  });
}
