import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { StaleStateError } from '../src/errors.ts';
import type { StateStore } from '../src/store/contract.ts';

/**
 * A separate process racing on the same store, as `autoctrl job report` and a
 * second controller do: it opens the store (`STORE_FACTORY` of
 * `STORE_MODULE` on `STORE_TARGET`), adds runs, waits for the go, creates the
 * same instances as its siblings, then tries to wait, start and claim every
 * one of them. It prints what it won as JSON.
 */
const RACER = `
const open = (await import(process.env.STORE_MODULE))[process.env.STORE_FACTORY];
const fs = await import('node:fs');
const { StaleStateError } = await import(process.env.ERRORS_MODULE);
const me = process.env.RACER;
const store = await open(process.env.STORE_TARGET);
const numbers = Array.from({ length: 50 }, (_, i) => i + 1);
await store.upsertRuns(numbers.map((run) => ({ run })), me);
process.stdout.write('ready\\n');
while (!fs.existsSync(process.env.GO_FILE)) await new Promise((r) => setTimeout(r, 5));
const made = await store.createInstances(
  numbers.map((r) => ({ campaign: 'prompt', task: 'reco', groupKey: 'run:' + r, runs: [r] })),
  me,
);
const won = { created: made.length, waited: 0, started: 0, claimed: [] };
const ignoreStale = async (f) => {
  try { await f(); return true; } catch (e) { if (e instanceof StaleStateError) return false; throw e; }
};
for (const inst of await store.findInstances({ task: 'reco' })) {
  if (await ignoreStale(() => store.transitionInstance(inst.id, { from: 'new', to: 'waiting', reason: me, by: me, at: 1 }))) won.waited++;
  const job = { index: 0, attempt: 1, executor: 'local', input: null, notBefore: null };
  const start = { from: 'waiting', configHash: 'h', config: {}, jobs: [job, { ...job, index: 1 }], reason: null, by: me, at: 2 };
  if (await ignoreStale(() => store.startInstance(inst.id, start))) won.started++;
}
won.claimed = await store.claimJobs((await store.activeJobs()).map((j) => j.id), { owner: me, ttlMs: 60000 });
await store.close();
process.stdout.write(JSON.stringify(won) + '\\n');
`;

interface Won {
  created: number;
  waited: number;
  started: number;
  claimed: number[];
}

function racer(env: Record<string, string>): { ready: Promise<void>; done: Promise<Won> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RACER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let signalReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    signalReady = resolve;
  });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) signalReady();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<Won>((resolve, reject) => {
    child.on('close', (code) => {
      signalReady();
      if (code === 0) resolve(JSON.parse(out.split('\n').filter(Boolean).at(-1) ?? '{}') as Won);
      else reject(new Error(`racer exited ${code}: ${err}`));
    });
  });
  return { ready, done };
}

/**
 * Four processes race on one store: every instance is created, waited and
 * started once, every job claimed once, and the history says so.
 * `open` names the backend's factory; `reopen` gives a handle to check with.
 */
export async function raceFourProcesses(
  open: { module: string; factory: string; target: string },
  goFile: string,
  reopen: () => Promise<StateStore>,
): Promise<void> {
  const env = {
    STORE_MODULE: open.module,
    STORE_FACTORY: open.factory,
    STORE_TARGET: open.target,
    ERRORS_MODULE: new URL('../src/errors.ts', import.meta.url).href,
    GO_FILE: goFile,
  };
  const racers = ['p1', 'p2', 'p3', 'p4'].map((name) => racer({ ...env, RACER: name }));
  await Promise.all(racers.map((r) => r.ready));
  fs.writeFileSync(goFile, '');
  const results = await Promise.all(racers.map((r) => r.done));
  const sum = (k: 'created' | 'waited' | 'started') => results.reduce((n, r) => n + r[k], 0);
  assert.deepEqual([sum('created'), sum('waited'), sum('started')], [50, 50, 50]);
  const claimed = results.flatMap((r) => r.claimed);
  assert.equal(claimed.length, 100);
  assert.equal(new Set(claimed).size, 100, 'no job claimed twice');
  const store = await reopen();
  try {
    assert.equal(await store.countRuns(), 50);
    const events = await store.listEvents({ entity: 'instance' });
    assert.equal(events.length, 150, 'new, waiting and processing once per instance');
  } finally {
    await store.close();
  }
}

/**
 * Two handles on one store (two controllers) race for the same transition
 * and the same claims: each is won once.
 */
export async function oneOfTwoHandlesWins(a: StateStore, b: StateStore): Promise<void> {
  await a.upsertRuns([{ run: 1 }], 'a');
  const [inst] = await b.createInstances(
    [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
    'b',
  );
  assert.ok(inst);
  const results = await Promise.allSettled(
    [a, b, a, b].map((s, i) =>
      s.transitionInstance(inst.id, {
        from: 'new',
        to: 'waiting',
        reason: `r${i}`,
        by: `c${i}`,
        at: 1,
      }),
    ),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof StaleStateError));
  const { jobs } = await a.startInstance(inst.id, {
    from: 'waiting',
    configHash: 'h',
    config: {},
    jobs: [0, 1, 2].map((index) => ({
      index,
      attempt: 1,
      executor: 'local',
      input: null,
      notBefore: null,
    })),
    reason: null,
    by: 'a',
    at: 2,
  });
  const ids = jobs.map((j) => j.id);
  const claims = await Promise.all([
    a.claimJobs(ids, { owner: 'a', ttlMs: 60_000 }),
    b.claimJobs(ids, { owner: 'b', ttlMs: 60_000 }),
  ]);
  assert.deepEqual(
    claims.flat().sort((x, y) => x - y),
    ids,
  );
}
