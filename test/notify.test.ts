import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Deployment } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus } from '../src/model/types.ts';
import type { NotifyDispatcher } from '../src/notify/dispatcher.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import type { StateStore } from '../src/store/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, deployment, sleep, task, tempDir, until } from './helpers.ts';
import {
  dispatcherFor,
  type FakeHook,
  failedInstance,
  fakeHook,
  notifier,
} from './notify-helpers.ts';

assertNoLeaksAtEnd();

const PUBLIC = 'https://calib.example.org';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hook(answer?: (n: number) => number | 'hang'): Promise<FakeHook> {
  const h = await fakeHook(answer);
  cleanups.push(() => h.close());
  return h;
}

async function started(
  dep: Deployment,
  store: StateStore,
  owner = 'test',
): Promise<NotifyDispatcher> {
  const d = await dispatcherFor(dep, store, { owner });
  cleanups.push(() => d.stop(100));
  await d.start();
  return d;
}

async function storeIn(dir: string): Promise<StateStore> {
  const store = await createSqliteStore(join(dir, 'state.db'), { logger: silentLogger() });
  cleanups.push(() => store.close());
  return store;
}

function chat(url: string, extra: Record<string, unknown> = {}, events: string[] = []) {
  return notifier('mattermost', { url, channel: 'calib-test', ...extra }, events);
}

const texts = (h: FakeHook) => h.accepted().map((b) => String(b.text));

async function failFor(rt: Runtime, name: string, run: number, want: InstanceStatus = 'failed') {
  return until(async () => {
    await rt.engine.pass();
    const [inst] = await rt.store.instancesForRuns('prompt', name, [run]);
    return inst?.status === want ? inst : undefined;
  });
}

describe('chat alerts', () => {
  it('posts an instance that failed for good to the Mattermost channel of the environment', async () => {
    const mm = await hook();
    const dir = tempDir();
    const dep = deployment(
      dir,
      [
        task('pi0-calib', {
          command: ['sh', '-c', 'exit 1'],
          retries: 1,
          group: { by: 'lumi', lumi: 25 },
        }),
      ],
      {
        environment: 'dev',
        server: { host: '127.0.0.1', port: 0, publicUrl: PUBLIC },
        notify: {
          chat: chat(
            mm.url,
            {
              channel: { prod: 'calib-alerts', dev: 'calib-dev' },
              username: 'autoctrl',
              fold_window: 0,
            },
            ['instance_failed'],
          ),
        },
      },
    );
    const rt = await openRuntime(dep, { logger: silentLogger() });
    cleanups.push(() => rt.close());
    const notify = await started(dep, rt.store);
    rt.engine.on('pass', () => notify.poke());
    const runs = [355100, 355101, 355102];
    await rt.store.upsertRuns(
      runs.map((run) => ({ run, fill: 1, lumi: 10, start: 1, end: 2 })),
      'test',
    );

    const inst = await failFor(rt, 'pi0-calib', 355100);
    const [body] = await until(async () => mm.accepted().length > 0 && mm.accepted());
    const job = (await rt.store.jobsForInstance(inst.id)).find((j) => j.attempt === 2);
    assert.ok(job?.logPath);
    assert.equal(body?.channel, 'calib-dev');
    assert.equal(body?.username, 'autoctrl');
    const text = String(body?.text);
    assert.match(
      text,
      /^`dev` :red_circle: \*\*pi0-calib\*\* for runs 355100–355102 \(campaign prompt, attempt 1\) permanently failed: /,
    );
    assert.ok(text.includes(String(inst.reason)), text);
    assert.match(String(inst.reason), /^job 0 failed after 2 attempts: /);
    assert.ok(text.includes(`[instance](${PUBLIC}/instances/${inst.id})`), text);
    assert.ok(text.includes(`[job log](${PUBLIC}/api/jobs/${job.id}/log)`), text);
    assert.ok(text.includes(`\`${job.logPath}\``), text);

    // A reprocess that fails again is its own alert, with the new attempt (the retry of
    // each attempt is not: this notifier wants instance_failed only).
    await rt.store.transitionInstance(inst.id, {
      from: 'failed',
      to: 'new',
      reason: 'reprocess',
      by: 'test',
      at: Date.now(),
    });
    await failFor(rt, 'pi0-calib', 355100, 'processing');
    await failFor(rt, 'pi0-calib', 355100);
    await until(async () => mm.accepted().length === 2);
    assert.match(texts(mm)[1] ?? '', /\(campaign prompt, attempt 2\) permanently failed/);
    await sleep(100);
    assert.equal(mm.requests.length, 2);
  });

  it('retries a webhook that answers 500 with backoff, and delivers once', async () => {
    const mm = await hook((n) => (n <= 2 ? 500 : 200));
    const dir = tempDir();
    const dep = deployment(dir, [], { notify: { chat: chat(mm.url) } });
    const store = await storeIn(dir);
    await started(dep, store);
    await failedInstance(store, 'pi0-calib', [355100]);
    await until(async () => mm.accepted().length === 1);
    const [a, b, c] = mm.requests;
    assert.ok(a && b && c);
    assert.deepEqual([a.status, b.status, c.status], [500, 500, 200]);
    assert.ok(b.at - a.at >= 45, `first retry after ${b.at - a.at} ms`);
    assert.ok(c.at - b.at >= 95, `second retry after ${c.at - b.at} ms`);
    assert.equal(c.body.text, a.body.text);
    await sleep(300);
    assert.equal(mm.requests.length, 3);
  });

  it('does not retry a 400, and goes on with the next alert', async () => {
    const mm = await hook((n) => (n === 1 ? 400 : 200));
    const dir = tempDir();
    const dep = deployment(dir, [], { notify: { chat: chat(mm.url) } });
    const store = await storeIn(dir);
    await started(dep, store);
    await failedInstance(store, 'pi0-calib', [355100]);
    await until(async () => mm.requests.length === 1);
    await sleep(300);
    assert.equal(mm.requests.length, 1);
    await failedInstance(store, 'ecal-laser', [355101]);
    await until(async () => mm.accepted().length === 1);
    assert.match(texts(mm)[0] ?? '', /\*\*ecal-laser\*\* for run 355101/);
  });

  it('never blocks the engine while the webhook hangs, and keeps what it could not send', async () => {
    const stuck = await hook(() => 'hang');
    const dir = tempDir();
    const tasks = [task('bad', { command: ['sh', '-c', 'exit 1'] })];
    const opts = { server: { host: '127.0.0.1', port: 0, publicUrl: PUBLIC } };
    const dep = deployment(dir, tasks, {
      ...opts,
      notify: { chat: chat(stuck.url, { timeout: '30s' }) },
    });
    const rt = await openRuntime(dep, { logger: silentLogger() });
    cleanups.push(() => rt.close());
    const notify = await dispatcherFor(dep, rt.store);
    await notify.start();
    rt.engine.on('pass', () => notify.poke());
    const add = (run: number) =>
      rt.store.upsertRuns([{ run, fill: 1, lumi: 1, start: 1, end: 2 }], 'test');

    await add(1);
    await failFor(rt, 'bad', 1);
    await until(async () => stuck.requests.length === 1);
    // The request hangs; the engine and the reading of the log go on.
    await add(2);
    const second = await failFor(rt, 'bad', 2);
    const r = await rt.engine.pass();
    assert.ok(r.durationMs < 5000, `a pass took ${r.durationMs} ms`);
    const [failure] = (await rt.store.listEvents({ instanceId: second.id })).filter(
      (e) => e.to === 'failed',
    );
    assert.ok(failure);
    await until(async () => Number(await rt.store.getCursor('notify:cursor')) >= failure.id);

    const t0 = Date.now();
    await notify.stop(100);
    assert.ok(Date.now() - t0 < 5000, 'stop waits a bounded time');
    const pending = JSON.parse((await rt.store.getCursor('notify:pending')) ?? '{}');
    assert.equal(
      pending.deliveries.length,
      2,
      'the hanging alert and the summary of the folded one',
    );

    // The next process sends them: nothing lost.
    const mm = await hook();
    const dep2 = { ...dep, notify: { chat: chat(mm.url) } };
    await started(dep2, rt.store);
    await until(async () => mm.accepted().length === 2);
    assert.match(texts(mm)[0] ?? '', /\*\*bad\*\* for run 1 /);
    assert.match(texts(mm)[1] ?? '', /… and 1 more like it within 60 s: \*\*bad\*\* for run 2 /);
  });

  it('sends each notifier only the events it wants; the webhook gets the alert as JSON', async () => {
    const locks = await hook();
    const all = await hook();
    const dir = tempDir();
    const dep = deployment(dir, [task('pi0-calib', { retries: 2 })], {
      server: { host: '127.0.0.1', port: 0, publicUrl: PUBLIC },
      notify: {
        locks: chat(locks.url, {}, ['lock_timeout']),
        all: notifier('webhook', { url: all.url, headers: { authorization: 'Bearer t' } }),
      },
    });
    const store = await storeIn(dir);
    await started(dep, store);
    const inst = await failedInstance(store, 'pi0-calib', [355100, 355101]);
    const [body] = await until(async () => all.accepted().length === 1 && all.accepted());
    assert.equal(body?.kind, 'instance_failed');
    assert.equal(body?.task, 'pi0-calib');
    assert.equal(body?.campaign, 'prompt');
    assert.deepEqual(body?.runs, [355100, 355101]);
    assert.equal(body?.attempt, 1);
    assert.equal(body?.reason, 'job 0 failed after 1 attempt: exit code 1');
    assert.equal(body?.url, `${PUBLIC}/instances/${inst.id}`);
    assert.equal(body?.folded, null);
    assert.match(String(body?.logPath), /^\/data\/pi0-calib\/\d+\.log$/);
    await sleep(150);
    assert.equal(locks.requests.length, 0, 'a lock_timeout notifier hears nothing of a failure');

    await store.appendEvent({
      at: Date.now(),
      entity: 'instance',
      entityId: String(inst.id),
      campaign: 'prompt',
      task: 'pi0-calib',
      instanceId: inst.id,
      from: null,
      to: null,
      reason: 'tag EcalPedestalsRcd does not cover run 355101',
      by: 'engine',
      configHash: null,
      data: { alert: 'lock_timeout', lock: 'conddb' },
    });
    await until(async () => locks.accepted().length === 1);
    assert.match(
      texts(locks)[0] ?? '',
      /still waiting past its lock timeout: lock `conddb`: tag EcalPedestalsRcd/,
    );
    await until(async () => all.accepted().length === 2);
  });

  it('sends nothing twice across a restart, nothing from before it was set up, and one process sends', async () => {
    const mm = await hook();
    const dir = tempDir();
    const dep = deployment(dir, [], { notify: { chat: chat(mm.url, { fold_window: 0 }) } });
    const store = await storeIn(dir);
    await failedInstance(store, 'history', [1]);
    const first = await started(dep, store, 'a');
    const other = await started(dep, store, 'b');
    await failedInstance(store, 'pi0-calib', [2]);
    await until(async () => mm.accepted().length === 1);
    await first.stop();
    await other.stop();

    const again = await started(dep, store, 'c');
    await sleep(200);
    assert.equal(mm.requests.length, 1);
    await failedInstance(store, 'pi0-calib', [3]);
    await until(async () => mm.accepted().length === 2);
    await again.stop();
    assert.deepEqual(
      texts(mm).map((t) => /for run (\d+)/.exec(t)?.[1]),
      ['2', '3'],
    );
  });
});
