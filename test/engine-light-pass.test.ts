import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { z } from 'zod';
import type { TaskConfig } from '../src/config/types.ts';
import { COMPLETE_PASS_EVERY_MS } from '../src/engine/engine.ts';
import { type LockResult, lockKind } from '../src/locks/contract.ts';
import { registerLockKind } from '../src/locks/registry.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import type { StateStore } from '../src/store/contract.ts';
import { assertNoLeaksAtEnd, closeRuntime, deployment, task, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

/** Per run, whether its `gate` lock is open; the keys asked, in order. */
const gates = new Map<number, boolean>();
const asked: string[] = [];
registerLockKind(
  lockKind({
    kind: 'gate',
    options: z.strictObject({}),
    create: () => ({
      key: (t) => String(t.runs[0]?.run),
      async check(t): Promise<LockResult> {
        const run = t.runs[0]?.run ?? 0;
        asked.push(String(run));
        // Open too for a run of fill 2 or later: what a run says may change the answer.
        return gates.get(run) === true || (t.runs[0]?.fill ?? 0) >= 2
          ? { open: true, reason: 'open' }
          : { open: false, reason: `run ${run} not ready` };
      },
    }),
  }),
  'engine-light-pass.test.ts',
);

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await closeRuntime(rt);
  gates.clear();
  asked.length = 0;
});

const RUNS = Array.from({ length: 20 }, (_, i) => 100 + i);

/** `calib` waits on its lock per run; `valid` waits on `calib`: the two kinds of wait. */
async function start(clock: { now: number }): Promise<{ rt: Runtime; reads: Map<string, number> }> {
  const tasks: TaskConfig[] = [
    task('calib', { locks: [{ kind: 'gate', name: 'gate', timeoutMs: null, options: {} }] }),
    task('valid', { after: ['calib'] }),
  ];
  const rt = await openRuntime(deployment(tempDir(), tasks), {
    logger: silentLogger(),
    now: () => clock.now,
  });
  open.push(rt);
  await rt.store.upsertRuns(
    RUNS.map((run) => ({ run, fill: 1, lumi: 10, start: 1, end: 2 })),
    'test',
  );
  // Counts the reads of waiting instances: a light pass must not need them.
  const reads = new Map<string, number>();
  const store = rt.engine.ctx.store;
  rt.engine.ctx.store = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'instancesByStatus' || name === 'instancesForRuns')
          reads.set(name, (reads.get(name) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  }) as StateStore;
  return { rt, reads };
}

const statuses = async (rt: Runtime, name: string) =>
  (await rt.store.instancesForRuns('prompt', name, RUNS)).map((i) => i.status);

describe('light timer passes', () => {
  it('ask each closed lock once and read no waiting instance; a lock that opens starts its instance', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { rt, reads } = await start(clock);
    const first = await rt.engine.pass();
    assert.equal(first.full, true, 'a new term starts complete');
    assert.deepEqual(
      await statuses(rt, 'calib'),
      RUNS.map(() => 'waiting'),
    );
    assert.deepEqual(
      await statuses(rt, 'valid'),
      RUNS.map(() => 'waiting'),
    );

    // The next pass follows the first one's own writes (it reads the feed from where that one began).
    clock.now += 1000;
    assert.equal((await rt.engine.pass()).light, true);
    reads.clear();
    asked.length = 0;
    clock.now += 1000;
    const light = await rt.engine.pass();
    assert.equal(light.full, false);
    assert.equal(light.light, true);
    assert.deepEqual([...reads], [], 'no waiting instance read');
    assert.deepEqual(asked.sort(), RUNS.map(String).sort(), 'each lock key asked once');

    gates.set(105, true);
    clock.now += 1000;
    const opened = await rt.engine.pass();
    assert.equal(opened.light, true);
    assert.equal(opened.started, 1);
    const calib = await rt.store.instancesForRuns('prompt', 'calib', [105]);
    assert.equal(calib[0]?.status, 'processing');

    // The lock's question stays the same (its key is the run), its answer changes with the run.
    await rt.store.upsertRuns([{ run: 110, fill: 2, lumi: 10, start: 1, end: 2 }], 'test');
    clock.now += 1000;
    assert.equal((await rt.engine.pass()).light, true);
    const again = await rt.store.instancesForRuns('prompt', 'calib', [110]);
    assert.equal(again[0]?.status, 'processing');
  });

  it('are complete again after COMPLETE_PASS_EVERY_MS, and after a pass that failed half-way', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { rt } = await start(clock);
    assert.equal((await rt.engine.pass()).full, true);
    clock.now += 1000;
    assert.equal((await rt.engine.pass()).full, false);
    clock.now += COMPLETE_PASS_EVERY_MS;
    assert.equal((await rt.engine.pass()).full, true, 'the safety net');
    clock.now += 1000;
    assert.equal((await rt.engine.pass()).full, false);

    // A pass that throws after reading the changes cannot have followed them.
    const store = rt.engine.ctx.store;
    const { getInstances } = store;
    store.getInstances = async () => {
      store.getInstances = getInstances;
      throw new Error('connection reset');
    };
    gates.set(100, true);
    clock.now += 1000;
    await assert.rejects(rt.engine.pass(), /connection reset/);
    clock.now += 1000;
    const next = await rt.engine.pass();
    assert.equal(next.full, true);
    assert.equal(next.started, 1);
  });
});
