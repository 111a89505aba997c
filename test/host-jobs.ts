import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ENGINE_LEASE } from '../src/engine/engine.ts';
import { hostLeaseName } from '../src/engine/host-jobs.ts';
import type { StateStore } from '../src/store/contract.ts';
import {
  auditLedger,
  awaitChain,
  CLI,
  endedRuns,
  killHard,
  startController,
} from './chain-world.ts';
import { sleep, until } from './helpers.ts';

const LEASE_TTL_MS = 2_000;

/**
 * Each job appends "<job id> <attempt>" to the ledger (what `auditLedger`
 * checks), and "start|end <task> <host>" to a second one as it starts and
 * ends: the host is its controller's `AUTOCTRL_HOSTNAME`, passed to jobs
 * through `env_pass`. One job in seven fails its first attempt, so retries
 * happen on both hosts.
 */
const JOB =
  'echo "$AUTOCTRL_JOB $AUTOCTRL_ATTEMPT" >> "$LEDGER"; echo "start $AUTOCTRL_TASK $AUTOCTRL_HOSTNAME" >> "$HOSTS"; sleep "$PAUSE"; echo "end $AUTOCTRL_TASK $AUTOCTRL_HOSTNAME" >> "$HOSTS"; if [ $((AUTOCTRL_JOB % 7)) -eq 0 ] && [ "$AUTOCTRL_ATTEMPT" = 1 ]; then exit 1; fi';

const SLOTS: Record<string, number> = { 'host-a': 2, 'host-b': 4 };
const HOST_OF: Record<string, string> = { reco: 'host-b', calib: 'host-a', valid: 'host-b' };

/** Lines of the second ledger whose host is not their executor's, and the most jobs seen at once per host. */
function hostAudit(hostsFile: string): { wrong: string[]; most: Record<string, number> } {
  const wrong: string[] = [];
  const now: Record<string, number> = {};
  const most: Record<string, number> = {};
  for (const line of readFileSync(hostsFile, 'utf8').trim().split('\n')) {
    const [edge, task = '', host = ''] = line.split(' ');
    if (HOST_OF[task] !== host) wrong.push(line);
    now[host] = (now[host] ?? 0) + (edge === 'start' ? 1 : -1);
    most[host] = Math.max(most[host] ?? 0, now[host] ?? 0);
  }
  return { wrong, most };
}

/** The chain reco (host B) → calib (host A, long enough to be killed under) → valid (host B). */
function writeHostWorld(dir: string, store: string) {
  const ledger = join(dir, 'ledger.txt');
  const hosts = join(dir, 'hosts.txt');
  writeFileSync(ledger, '');
  writeFileSync(hosts, '');
  const task = (name: string, after: string | null, executor: string, pause: string) =>
    `  ${name}:\n${after ? `    after: [${after}]\n` : ''}    executor: ${executor}\n    command: [sh, -c, '${JOB}']\n    retries: 1\n    retry_delay: 50ms\n    env: { LEDGER: "${ledger}", HOSTS: "${hosts}", PAUSE: "${pause}" }\n`;
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    `store: ${store}\nenv_pass: [AUTOCTRL_HOSTNAME]\nexecutors:\n  on-a: { type: local, host: host-a, slots: ${SLOTS['host-a']} }\n  on-b: { type: local, host: host-b, slots: ${SLOTS['host-b']} }\nengine: { controllers: 3, interval: 1s, lease_ttl: ${LEASE_TTL_MS}ms }\ntasks:\n${task('reco', null, 'on-b', '0.05')}${task('calib', 'reco', 'on-a', '0.4')}${task('valid', 'calib', 'on-b', '0.05')}`,
  );
  return { file, ledger, hosts };
}

const onHost = (file: string, host: string) =>
  startController(file, 'error', { AUTOCTRL_HOSTNAME: host });

async function holder(store: StateStore, lease: string): Promise<string | null> {
  const l = await store.getLease(lease);
  return l === null || l.expiresAt <= (await store.clock()) ? null : l.owner;
}

/**
 * Two hosts, a pinned local executor on each, one controller per host on
 * one store (plus another on A later): the leader is on B, so A's jobs run
 * only because A's standby runs them. A's controller is SIGKILLed while one
 * of its jobs runs; the leader does not fail A's jobs meanwhile, and the
 * next controllers on A (two: the executor's lease decides which) adopt them
 * through their work directories. Every job attempt runs once, on its host,
 * never more at once than its executor's slots.
 */
export function testHostJobs(
  name: string,
  setup: (dir: string) => Promise<{ url: string; store: StateStore }>,
  dir: () => string,
  runs: number,
): void {
  it(`${name}: a standby runs its host's jobs while another host leads, and a successor on that host adopts them`, {
    timeout: 300_000,
  }, async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    const where = dir();
    const { url, store } = await setup(where);
    const world = writeHostWorld(where, url);
    const alive: ChildProcess[] = [];
    try {
      const b = onHost(world.file, 'host-b');
      alive.push(b);
      const led = await until(
        async () => {
          const l = await store.getLease(ENGINE_LEASE);
          return l?.owner.startsWith(`host-b/${b.pid}/`) === true && l;
        },
        60_000,
        'the controller of host B to lead',
      );
      const a1 = onHost(world.file, 'host-a');
      alive.push(a1);
      await until(
        async () => (await holder(store, hostLeaseName('on-a')))?.startsWith(`host-a/${a1.pid}/`),
        60_000,
        'the controller of host A to run on-a',
      );
      await store.upsertRuns(endedRuns(runs), 'test');

      // Killed while one of A's jobs runs and others are done: what A left must be adopted.
      await until(
        async () => {
          const calib = await store.findInstances({ task: 'calib' });
          const jobs = await store.jobsForInstances(calib.map((i) => i.id));
          return (
            jobs.some((j) => j.status === 'running') &&
            jobs.filter((j) => j.status === 'done').length >= 2
          );
        },
        120_000,
        'a job of host A running after two done',
      );
      await killHard(a1);
      alive.splice(alive.indexOf(a1), 1);
      // Longer than a lease's life: the leader, which never opened on-a, leaves A's jobs alone.
      await sleep(2 * LEASE_TTL_MS);
      const calibJobs = await store.jobsForInstances(
        (await store.findInstances({ task: 'calib' })).map((i) => i.id),
      );
      assert.deepEqual(
        calibJobs.filter((j) => j.reason?.startsWith('lost') === true).map((j) => j.id),
        [],
        'no job of host A failed as lost while no controller of A ran',
      );
      assert.ok(
        calibJobs.some((j) => j.status === 'idle' || j.status === 'running'),
        'A’s jobs wait for a controller of A',
      );

      alive.push(onHost(world.file, 'host-a'), onHost(world.file, 'host-a'));
      await awaitChain(store, runs, { stallMs: 60_000, capMs: 240_000 });
      await auditLedger(store, world.ledger);

      const { wrong, most } = hostAudit(world.hosts);
      assert.deepEqual(wrong, [], 'every job ran on the host of its executor');
      for (const [host, slots] of Object.entries(SLOTS))
        assert.ok(
          (most[host] ?? 0) <= slots,
          `${host}: ${most[host]} jobs at once, ${slots} slots`,
        );
      const lease = await store.getLease(ENGINE_LEASE);
      assert.equal(lease?.epoch, led.epoch, 'host B led throughout');
    } finally {
      for (const c of alive) await killHard(c);
      await store.close();
    }
  });
}
