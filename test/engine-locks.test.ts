import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { z } from 'zod';
import type { LockConfig, TaskConfig } from '../src/config/types.ts';
import { type Lock, type LockResult, lockKind } from '../src/locks/contract.ts';
import { registerLockKind } from '../src/locks/registry.ts';
import { silentLogger } from '../src/logger.ts';
import type { EventRecord, InstanceStatus } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import {
  assertNoLeaksAtEnd,
  closeRuntime,
  deployment,
  sleep,
  task,
  tempDir,
  until,
} from './helpers.ts';

assertNoLeaksAtEnd();

/** Locks the tests steer: a `probe` lock's options name one of these. */
const probes = new Map<string, Lock>();
registerLockKind(
  lockKind({
    kind: 'probe',
    options: z.strictObject({ id: z.string() }),
    create: ({ id }) => {
      const lock = probes.get(id);
      if (lock === undefined) throw new Error(`no probe ${id}`);
      return lock;
    },
  }),
  'engine-locks.test.ts',
);

/** A probe answering `answer()` under `key`, counting its checks and how many ran at once. */
function probe(id: string, answer: () => LockResult | Promise<LockResult>, key = () => id) {
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  probes.set(id, {
    key: (t) => key() || t.runs.map((r) => r.run).join(','),
    async check() {
      stats.calls++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        return await answer();
      } finally {
        stats.inFlight--;
      }
    },
  });
  return stats;
}

const lock = (kind: string, options: Record<string, unknown>, over: Partial<LockConfig> = {}) => ({
  kind,
  name: kind,
  timeoutMs: null,
  options,
  ...over,
});

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await closeRuntime(rt);
});

async function start(
  tasks: TaskConfig[] | ((dir: string) => TaskConfig[]),
  now?: () => number,
): Promise<{ rt: Runtime; dir: string; reopen: () => Promise<Runtime> }> {
  const dir = tempDir();
  const d = deployment(dir, typeof tasks === 'function' ? tasks(dir) : tasks);
  const reopen = async () => {
    const rt = await openRuntime(d, { logger: silentLogger(), ...(now ? { now } : {}) });
    open.push(rt);
    return rt;
  };
  return { rt: await reopen(), dir, reopen };
}

async function drive(rt: Runtime, taskName: string, run: number, want: InstanceStatus) {
  return until(
    async () => {
      await rt.engine.pass();
      const [inst] = await rt.store.instancesForRuns('prompt', taskName, [run]);
      return inst?.status === want ? inst : undefined;
    },
    10_000,
    `${taskName} for run ${run} to be ${want}`,
  );
}

const addRuns = (rt: Runtime, runs: number[]) =>
  rt.store.upsertRuns(
    runs.map((run) => ({ run, fill: 1, lumi: 10, start: 1, end: 2 })),
    'test',
  );

const instanceOf = async (rt: Runtime, taskName: string, run: number) => {
  const [inst] = await rt.store.instancesForRuns('prompt', taskName, [run]);
  assert.ok(inst, `no ${taskName} instance for run ${run}`);
  return inst;
};

describe('engine with locks', () => {
  it('leaves an instance waiting with the lock reason, and starts it once the lock opens', async () => {
    const { rt, dir } = await start([
      task('reco', { locks: [lock('file', { path: 'ready/{run}' }, { name: 'ready' })] }),
    ]);
    await addRuns(rt, [100]);
    await rt.engine.pass();
    const waiting = await instanceOf(rt, 'reco', 100);
    assert.equal(waiting.status, 'waiting');
    assert.equal(waiting.reason, `lock ready: no file ${join(dir, 'ready/100')}`);
    const events = await rt.store.listEvents({ instanceId: waiting.id, entity: 'instance' });
    assert.deepEqual(events.at(-1)?.data, { lock: 'ready', lockSince: waiting.updatedAt });

    await rt.engine.pass();
    const again = await rt.store.listEvents({ instanceId: waiting.id, entity: 'instance' });
    assert.equal(again.length, events.length, 'an unchanged reason adds no event');

    mkdirSync(join(dir, 'ready'));
    writeFileSync(join(dir, 'ready/100'), '');
    await drive(rt, 'reco', 100, 'done');
  });

  it('asks a lock shared by 1,000 instances once per pass', async () => {
    const stats = probe('shared', () => ({ open: false, reason: 'tag v3 not deployed' }));
    const { rt } = await start([task('reco', { locks: [lock('probe', { id: 'shared' })] })]);
    const runs = Array.from({ length: 1000 }, (_, i) => 1000 + i);
    await addRuns(rt, runs);
    const first = await rt.engine.pass();
    assert.equal(first.created, 1000);
    assert.equal(stats.calls, 1);
    const waiting = await rt.store.findInstances({ task: 'reco', statuses: ['waiting'] });
    assert.equal(waiting.length, 1000);
    assert.ok(waiting.every((i) => i.reason === 'lock probe: tag v3 not deployed'));
    await rt.engine.pass();
    assert.equal(stats.calls, 2, 'answers last one pass');
  });

  it('checks different instances concurrently, a few at a time', async () => {
    const stats = probe(
      'slow',
      () => sleep(30).then(() => ({ open: false, reason: 'slow' })),
      () => '',
    );
    const { rt } = await start([task('reco', { locks: [lock('probe', { id: 'slow' })] })]);
    await addRuns(
      rt,
      Array.from({ length: 40 }, (_, i) => 2000 + i),
    );
    const t0 = Date.now();
    await rt.engine.pass();
    assert.equal(stats.calls, 40);
    assert.equal(stats.maxInFlight, 8);
    assert.ok(Date.now() - t0 < 40 * 30, 'not one after the other');
  });

  it('takes a lock that throws, hangs or cannot be built as closed, and the pass goes on', async () => {
    probe('throws', () => {
      throw new Error('conditions DB unreachable');
    });
    probes.set('hangs', {
      key: () => 'h',
      check: () => new Promise<LockResult>(() => {}),
      checkTimeoutMs: 100,
    });
    const { rt } = await start([
      task('a', { locks: [lock('probe', { id: 'throws' }, { name: 'gt' })] }),
      task('b', { locks: [lock('probe', { id: 'hangs' }, { name: 't0' })] }),
      task('c', { locks: [lock('nope', {}, { name: 'site' })] }),
      task('d', { locks: [lock('delay', { after: 'soon' })] }),
      task('e', { locks: [lock('delay', { after: '0s' })] }),
    ]);
    await addRuns(rt, [300]);
    await rt.engine.pass();
    const reasons = Object.fromEntries(
      await Promise.all(
        ['a', 'b', 'c', 'd'].map(async (t) => [t, (await instanceOf(rt, t, 300)).reason]),
      ),
    );
    assert.deepEqual(reasons, {
      a: 'lock gt: check failed: conditions DB unreachable',
      b: "lock t0: no answer within 100ms: raise the lock's timeout if the service is slow",
      c: "lock site: unknown lock kind 'nope' (known: file, http, command, delay, task, probe): fix the deployment file or add the plugin that defines it",
      d: 'lock delay: bad options (after: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h): run autoctrl validate',
    });
    await drive(rt, 'e', 300, 'done');
  });

  it('stops asking a lock whose check timed out until the next pass', async () => {
    const stats = probe(
      'down',
      () => new Promise<LockResult>(() => {}),
      () => '',
    );
    (probes.get('down') as { checkTimeoutMs?: number }).checkTimeoutMs = 100;
    const { rt } = await start([task('reco', { locks: [lock('probe', { id: 'down' })] })]);
    await addRuns(
      rt,
      Array.from({ length: 40 }, (_, i) => 3000 + i),
    );
    const t0 = Date.now();
    await rt.engine.pass();
    // 40 timeouts one after the other would take 4 s; the bound leaves room for a loaded machine.
    assert.ok(Date.now() - t0 < 3_000, 'one timeout per pass, not one per instance');
    assert.equal(stats.calls, 8, 'the checks already in flight');
    const reasons = (await rt.store.findInstances({ task: 'reco' })).map((i) => i.reason);
    const timeout = "no answer within 100ms: raise the lock's timeout if the service is slow";
    assert.deepEqual(
      new Set(reasons),
      new Set([
        `lock probe: ${timeout}`,
        `lock probe: not asked: an earlier check this pass got ${timeout}`,
      ]),
    );
  });

  it('asks locks only once the upstream instances are done', async () => {
    const stats = probe('after-up', () => ({ open: true, reason: 'ok' }));
    const { rt, dir } = await start((d) => [
      task('up', {
        command: ['sh', '-c', 'while [ ! -f "$GO" ]; do sleep 0.02; done'],
        env: { GO: join(d, 'go') },
      }),
      task('down', { after: ['up'], locks: [lock('probe', { id: 'after-up' })] }),
    ]);
    await addRuns(rt, [400]);
    const down = await drive(rt, 'down', 400, 'waiting');
    assert.equal(down.reason, 'upstream up is processing for run 400');
    assert.equal(stats.calls, 0);
    writeFileSync(join(dir, 'go'), '');
    await drive(rt, 'down', 400, 'done');
    assert.ok(stats.calls >= 1);
  });

  it('alerts once when a lock stays closed past its timeout, also across a restart', async () => {
    const T0 = 1_700_000_000_000;
    let clock = T0;
    let answer: LockResult = { open: false, reason: 'tag v1 does not cover run 500' };
    probe('gt', () => answer);
    const { rt, reopen } = await start(
      [task('reco', { locks: [lock('probe', { id: 'gt' }, { name: 'gt', timeoutMs: 60_000 })] })],
      () => clock,
    );
    await addRuns(rt, [500]);
    const alerts = async (r: Runtime, id: number): Promise<EventRecord[]> =>
      (await r.store.listEvents({ instanceId: id })).filter((e) => e.data?.alert !== undefined);

    await rt.engine.pass();
    const inst = await instanceOf(rt, 'reco', 500);
    assert.equal(inst.reason, 'lock gt: tag v1 does not cover run 500');
    clock += 30_000;
    answer = { open: false, reason: 'tag v2 does not cover run 500' };
    await rt.engine.pass();
    const history = await rt.store.listEvents({ instanceId: inst.id, entity: 'instance' });
    assert.deepEqual(history.at(-1)?.data, { lock: 'gt', lockSince: T0 }, 'the wait goes on');
    assert.deepEqual(await alerts(rt, inst.id), []);

    clock += 40_000;
    await rt.engine.pass();
    await rt.engine.pass();
    const [alert, ...more] = await alerts(rt, inst.id);
    assert.deepEqual(more, []);
    assert.ok(alert);
    assert.equal(alert.reason, 'lock gt closed for 1m 10s: tag v2 does not cover run 500');
    assert.deepEqual(
      { ...alert, id: 0, configHash: null },
      {
        id: 0,
        at: T0 + 70_000,
        entity: 'instance',
        entityId: String(inst.id),
        campaign: 'prompt',
        task: 'reco',
        instanceId: inst.id,
        from: null,
        to: null,
        reason: alert.reason,
        by: 'engine',
        configHash: null,
        data: {
          alert: 'lock_timeout',
          lock: 'gt',
          lockSince: T0,
          timeoutMs: 60_000,
          runs: [500],
          attempt: 1,
        },
      },
    );
    assert.match(alert.configHash ?? '', /^[0-9a-f]{16}$/);

    await rt.close();
    open.splice(open.indexOf(rt), 1);
    const rt2 = await reopen();
    clock += 10_000;
    answer = { open: false, reason: 'tag v3 does not cover run 500' };
    await rt2.engine.pass();
    await rt2.engine.pass();
    assert.equal((await alerts(rt2, inst.id)).length, 1, 'a restart remembers the alert');
    const after = await rt2.store.listEvents({ instanceId: inst.id, entity: 'instance' });
    assert.deepEqual(after.at(-1)?.data, { lock: 'gt', lockSince: T0 }, 'and since when');

    answer = { open: true, reason: 'tag v3 covers run 500' };
    await drive(rt2, 'reco', 500, 'done');
  });
});
