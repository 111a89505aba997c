import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IllegalTransitionError, NotFoundError, StaleStateError } from '../../errors.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

/** Instance transitions and starts. */
export function testTransitions(f: Fixture): void {
  describe('instance transitions', () => {
    it('moves an instance with an event carrying reason, author, time and data', async () => {
      const inst = await f.oneInstance();
      const moved = await f.store.transitionInstance(inst.id, {
        from: 'new',
        to: 'waiting',
        reason: 'lock tag-covers closed',
        by: 'engine',
        at: T0 + 1,
        data: { lock: 'tag-covers' },
      });
      assert.equal(moved.status, 'waiting');
      assert.equal(moved.reason, 'lock tag-covers closed');
      assert.equal(moved.updatedAt, T0 + 1);
      assert.deepEqual(await f.store.getInstance(inst.id), moved);
      const last = (await f.store.listEvents({ instanceId: inst.id })).at(-1);
      assert.deepEqual(
        last && [last.at, last.from, last.to, last.reason, last.by, last.instanceId, last.data],
        [
          T0 + 1,
          'new',
          'waiting',
          'lock tag-covers closed',
          'engine',
          inst.id,
          { lock: 'tag-covers' },
        ],
      );
    });

    it('refuses a stale from, an illegal move and a missing instance, changing nothing', async () => {
      const inst = await f.oneInstance();
      const change = { reason: null, by: 't', at: T0 } as const;
      await assert.rejects(
        f.store.transitionInstance(inst.id, { ...change, from: 'waiting', to: 'processing' }),
        (e: unknown) => e instanceof StaleStateError && e.actual === 'new',
      );
      await assert.rejects(
        f.store.transitionInstance(inst.id, { ...change, from: 'new', to: 'done' }),
        IllegalTransitionError,
      );
      await assert.rejects(
        f.store.transitionInstance(inst.id + 1000, { ...change, from: 'new', to: 'waiting' }),
        NotFoundError,
      );
      assert.deepEqual(await f.store.getInstance(inst.id), inst);
      assert.equal((await f.store.listEvents({ instanceId: inst.id })).length, 1);
    });

    it('records waiting → waiting only when the reason changes', async () => {
      const inst = await f.oneInstance();
      const wait = (reason: string, at: number) =>
        f.store.transitionInstance(inst.id, {
          from: 'waiting',
          to: 'waiting',
          reason,
          by: 'engine',
          at,
        });
      await f.store.transitionInstance(inst.id, {
        from: 'new',
        to: 'waiting',
        reason: 'a',
        by: 'engine',
        at: T0,
      });
      const same = await wait('a', T0 + 1);
      assert.equal(same.updatedAt, T0);
      assert.equal((await f.store.listEvents({ instanceId: inst.id })).length, 2);
      const other = await wait('b', T0 + 2);
      assert.equal(other.reason, 'b');
      const events = await f.store.listEvents({ instanceId: inst.id });
      assert.deepEqual(
        events.map((e) => [e.from, e.to, e.reason]),
        [
          [null, 'new', null],
          ['new', 'waiting', 'a'],
          ['waiting', 'waiting', 'b'],
        ],
      );
    });

    it('reprocess starts a new attempt without a configuration', async () => {
      const { instance } = await f.started();
      await f.store.transitionInstance(instance.id, {
        from: 'processing',
        to: 'done',
        reason: null,
        by: 'e',
        at: T0 + 20,
      });
      const again = await f.store.transitionInstance(instance.id, {
        from: 'done',
        to: 'new',
        reason: 'new global tag',
        by: 'operator:ana',
        at: T0 + 30,
      });
      assert.equal(again.attempt, 2);
      assert.equal(again.configHash, null);
      const events = await f.store.listEvents({ instanceId: instance.id, entity: 'instance' });
      assert.deepEqual(
        events.map((e) => [e.to, e.configHash]),
        [
          ['new', null],
          ['processing', 'cfg-1'],
          ['done', 'cfg-1'],
          ['new', null],
        ],
      );
    });

    it('lets exactly one of many concurrent identical transitions through', async () => {
      const inst = await f.oneInstance();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          f.store.transitionInstance(inst.id, {
            from: 'new',
            to: 'waiting',
            reason: `r${i}`,
            by: `c${i}`,
            at: T0,
          }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof StaleStateError);
      }
      assert.equal((await f.store.listEvents({ instanceId: inst.id })).length, 2);
    });

    it('starts an instance with its configuration and idle jobs in one step', async () => {
      const inst = await f.oneInstance();
      const config = { task: 'reco', tag: 'GT-1', nested: { list: [1, 'a'] } };
      const res = await f.store.startInstance(inst.id, {
        from: 'new',
        configHash: 'cfg-1',
        config,
        jobs: [
          newJob(0, { input: '/data/a.root' }),
          newJob(1, { executor: 'slurm', notBefore: T0 + 99 }),
        ],
        reason: 'locks open',
        by: 'engine',
        at: T0 + 10,
      });
      assert.equal(res.instance.status, 'processing');
      assert.equal(res.instance.configHash, 'cfg-1');
      assert.deepEqual(await f.store.getInstance(inst.id), res.instance);
      assert.deepEqual(await f.store.getConfig('cfg-1'), config);
      assert.equal(await f.store.getConfig('cfg-unknown'), null);
      const [j0, j1] = res.jobs;
      assert.ok(j0 && j1);
      assert.deepEqual(
        { ...j0, id: 0 },
        {
          id: 0,
          instanceId: inst.id,
          campaign: 'prompt',
          task: 'reco',
          index: 0,
          attempt: 1,
          instanceAttempt: 1,
          status: 'idle',
          executor: 'local',
          executorId: null,
          claimedBy: null,
          claimedAt: null,
          claimExpiresAt: null,
          notBefore: null,
          queueState: null,
          queueSince: null,
          input: '/data/a.root',
          logPath: null,
          exitCode: null,
          reason: null,
          fields: {},
          createdAt: T0 + 10,
          submittedAt: null,
          startedAt: null,
          endedAt: null,
        },
      );
      assert.deepEqual([j1.executor, j1.notBefore, j1.index], ['slurm', T0 + 99, 1]);
      assert.deepEqual(await f.store.jobsForInstance(inst.id), res.jobs);
      assert.deepEqual(await f.store.getJob(j1.id), j1);
      const events = await f.store.listEvents({ instanceId: inst.id });
      assert.deepEqual(
        events.map((e) => [e.entity, e.from, e.to, e.configHash]),
        [
          ['instance', null, 'new', null],
          ['instance', 'new', 'processing', 'cfg-1'],
          ['job', null, 'idle', 'cfg-1'],
          ['job', null, 'idle', 'cfg-1'],
        ],
      );
    });

    it('keeps which configuration each attempt started with', async () => {
      const a = await f.oneInstance();
      const b = await f.oneInstance('calib');
      const start = (id: number, configHash: string, at: number) =>
        f.store.startInstance(id, {
          from: 'new',
          configHash,
          config: { code: { commit: configHash } },
          jobs: [newJob(0)],
          reason: null,
          by: 'engine',
          at,
        });
      assert.deepEqual(await f.store.attemptsForInstances([a.id, b.id]), []);
      await start(a.id, 'cfg-a1', T0 + 1);
      await start(b.id, 'cfg-b1', T0 + 2);
      const move = (from: 'processing' | 'done', to: 'done' | 'new') =>
        f.store.transitionInstance(a.id, { from, to, reason: null, by: 'op', at: T0 + 3 });
      await move('processing', 'done');
      await move('done', 'new');
      await start(a.id, 'cfg-a2', T0 + 4);
      assert.deepEqual(await f.store.attemptsForInstances([b.id, a.id, 999_999]), [
        { instanceId: a.id, attempt: 1, configHash: 'cfg-a1', startedAt: T0 + 1 },
        { instanceId: a.id, attempt: 2, configHash: 'cfg-a2', startedAt: T0 + 4 },
        { instanceId: b.id, attempt: 1, configHash: 'cfg-b1', startedAt: T0 + 2 },
      ]);
      assert.deepEqual(await f.store.getConfig('cfg-a1'), { code: { commit: 'cfg-a1' } });
      assert.deepEqual(await f.store.attemptsForInstances([]), []);
    });

    it('refuses to start a stale or settled instance, creating no job', async () => {
      const inst = await f.oneInstance();
      const start = {
        configHash: 'h',
        config: {},
        jobs: [newJob(0)],
        reason: null,
        by: 'e',
        at: T0,
      };
      await assert.rejects(
        f.store.startInstance(inst.id, { ...start, from: 'waiting' }),
        StaleStateError,
      );
      await assert.rejects(
        f.store.startInstance(inst.id, { ...start, from: 'done' }),
        IllegalTransitionError,
      );
      assert.deepEqual(await f.store.jobsForInstance(inst.id), []);
      assert.equal(await f.store.getConfig('h'), null);
    });
  });
}
