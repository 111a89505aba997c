import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobRef } from '../src/executors/contract.ts';
import { createHTCondorExecutor, type HTCondorExecutor } from '../src/executors/htcondor/index.ts';
import { silentLogger } from '../src/logger.ts';
import { type Figure, flags, isMain, median, report, scratch } from './lib.ts';

/**
 * Status of 10,000 HTCondor jobs from recorded outputs: 20 batches of 500,
 * each with an event log made of the recorded events of
 * test/fixtures/htcondor (ids renumbered), and a queue of the unfinished
 * ones for the stand-in condor_q (its recorded ad, renumbered). Figures:
 * status() of all jobs on a fresh instance (a restarted controller: every
 * marker and log read, one condor_q), then on a warm one (nothing new, and
 * 1 % of the jobs with a new event); and condor_q calls while status() is
 * called as often as a busy engine might (every report), to show the
 * schedd is asked at most once per interval.
 */
const DEFAULTS = { jobs: 10_000, batch: 500, repeat: 5, polls: 100 };
type Options = typeof DEFAULTS;

const FIXTURES = fileURLToPath(new URL('../test/fixtures/htcondor/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** The recorded events of one job, each ending with its sync line. */
function recordedEvents(name: string, id: string): string[] {
  return fixture(name)
    .split(/^\.\.\.\n/m)
    .filter((e) => e.startsWith('0'))
    .map((e) => `${e.replace(`(${id})`, '(CLUSTER.PROC.000)')}...\n`);
}

interface World {
  dataDir: string;
  bin: string;
  refs: JobRef[];
  logs: string[];
  clusterOf: (batch: number) => number;
  remove(): void;
}

export function buildWorld(o: Options): World {
  const s = scratch('autoctrl-bench-condor-');
  const dataDir = join(s.dir, 'data');
  // condor_q and condor_history replay their recorded output, scaled up: no stand-in's own cost.
  const bin = join(s.dir, 'bin');
  mkdirSync(bin);
  const queueFile = join(s.dir, 'condor_q.json');
  writeFileSync(join(bin, 'condor_q'), `#!/bin/sh\nexec cat ${queueFile}\n`, { mode: 0o755 });
  writeFileSync(join(bin, 'condor_history'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const queue: string[] = [];
  const normal = recordedEvents('events-normal.log', '984.000.000');
  const held = recordedEvents('events-held.log', '2001.000.000');
  const [queueAd] = JSON.parse(fixture('condor_q-autoctrl.json')) as Array<Record<string, unknown>>;
  // Done 60 %, running 20 %, held 10 %, idle 10 %: a busy prompt-processing farm.
  const kinds = [...Array(6).fill('done'), 'running', 'running', 'held', 'idle'];
  const refs: JobRef[] = [];
  const logs: string[] = [];
  const clusterOf = (b: number) => 5_000_000 + b;
  for (let b = 0; b * o.batch < o.jobs; b++) {
    const cluster = clusterOf(b);
    const batchName = `bench-prod-${b}`;
    const log = join(dataDir, `${batchName}.log`);
    mkdirSync(dataDir, { recursive: true });
    const chunks: string[] = [];
    for (let p = 0; p < o.batch && b * o.batch + p < o.jobs; p++) {
      const jobId = b * o.batch + p + 1;
      const name = `bench-prod-${jobId}.1`;
      const workDir = join(s.dir, 'jobs', String(jobId));
      mkdirSync(workDir, { recursive: true });
      writeFileSync(
        join(workDir, 'htcondor.json'),
        JSON.stringify({ log, batchName, proc: p, name }),
      );
      const kind = kinds[jobId % kinds.length];
      const events =
        kind === 'done'
          ? normal
          : kind === 'running'
            ? normal.slice(0, 2)
            : kind === 'held'
              ? held.slice(0, 2)
              : normal.slice(0, 1);
      const id = (e: string) =>
        e.replace('(CLUSTER.PROC.000)', `(${cluster}.${String(p).padStart(3, '0')}.000)`);
      chunks.push(...events.map(id));
      if (kind !== 'done') {
        const ad: Record<string, unknown> = {
          ...queueAd,
          ClusterId: cluster,
          ProcId: p,
          AutoctrlJob: name,
          JobBatchName: batchName,
        };
        ad.JobStatus = kind === 'running' ? 2 : kind === 'held' ? 5 : 1;
        queue.push(JSON.stringify(ad, null, 2));
      }
      refs.push({
        jobId,
        attempt: 1,
        name,
        executorId: `${cluster}.${p}`,
        workDir,
        logPath: join(workDir, 'log'),
        submittedAt: Date.now(),
        timeoutMs: null,
      });
    }
    writeFileSync(log, chunks.join(''));
    logs.push(log);
  }
  // As CondorClassAdListWriter prints them.
  writeFileSync(queueFile, `[\n${queue.join('\n,\n')}\n]\n`);
  return { dataDir, bin, refs, logs, clusterOf, remove: s.remove };
}

export async function open(dataDir: string, queueCheck: number): Promise<HTCondorExecutor> {
  const ctx = {
    logger: silentLogger(),
    dataDir,
    host: 'bench',
    maxJobs: null,
    pollIntervalMs: 1000,
  };
  return (await createHTCondorExecutor(
    'condor',
    { queue_check: queueCheck },
    ctx,
  )) as HTCondorExecutor;
}

/** Wall ms of `fn`; its CPU ms (user + system) go to `cpu`: the machine is shared and noisy. */
async function timed(fn: () => Promise<unknown>, cpu: number[]): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return performance.now() - t0;
}

export async function benchHTCondorStatus(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const world = buildWorld(o);
  const oldPath = process.env.PATH;
  process.env.PATH = `${world.bin}${delimiter}${oldPath ?? ''}`;
  try {
    const cold: number[] = [];
    const warm: number[] = [];
    const fresh: number[] = [];
    const cpu = { cold: [] as number[], warm: [] as number[], fresh: [] as number[] };
    let condorQ = 0;
    for (let r = 0; r < o.repeat; r++) {
      // HTCondor's default check interval: a poll reads the event logs only.
      const ex = await open(world.dataDir, 300);
      cold.push(await timed(() => ex.status(world.refs), cpu.cold));
      condorQ += ex.calls.get('condor_q') ?? 0;
      // A few polls: the first ones after a restart still warm V8 up.
      for (let k = 0; k < 4; k++) await ex.status(world.refs);
      warm.push(await timed(() => ex.status(world.refs), cpu.warm));
      // 1 % of the jobs (the running ones first) get an event: read incrementally.
      const moving = world.refs.filter((_, i) => i % 100 === 0);
      for (const ref of moving) {
        const [cluster, proc] = (ref.executorId ?? '').split('.');
        const batch = Number(cluster) - world.clusterOf(0);
        appendFileSync(
          world.logs[batch] ?? '',
          `006 (${cluster}.${String(proc).padStart(3, '0')}.000) 2026-01-01 00:00:00 Image size of job updated: 150\n...\n`,
        );
      }
      fresh.push(await timed(() => ex.status(world.refs), cpu.fresh));
      await ex.close();
    }
    // A busy engine: status() after every report, for 2 s, with condor_q allowed once a second.
    const ex = await open(world.dataDir, 1);
    await ex.status(world.refs);
    const before = ex.calls.get('condor_q') ?? 0;
    const t0 = performance.now();
    let polls = 0;
    while (performance.now() - t0 < 2000 && polls < o.polls) {
      await ex.status(world.refs);
      polls++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const qCalls = (ex.calls.get('condor_q') ?? 0) - before;
    await ex.close();
    const n = world.refs.length.toLocaleString('en');
    return [
      report({
        name: `htcondor status of ${n} jobs, warm (nothing new)`,
        value: median(warm),
        unit: 'ms',
        target: '≤ 200 ms',
        ok: median(warm) <= 200,
        detail: `median of ${o.repeat}; CPU ${median(cpu.warm).toFixed(0)} ms`,
      }),
      report({
        name: `htcondor status of ${n} jobs, 1 % with a new event`,
        value: median(fresh),
        unit: 'ms',
        target: '≤ 200 ms',
        ok: median(fresh) <= 200,
        detail: `median of ${o.repeat}; CPU ${median(cpu.fresh).toFixed(0)} ms`,
      }),
      report({
        name: `htcondor status of ${n} jobs, fresh instance (all markers and logs read, one condor_q)`,
        value: median(cold),
        unit: 'ms',
        target: 'none (a restart)',
        ok: true,
        detail: `median of ${o.repeat}; CPU ${median(cpu.cold).toFixed(0)} ms; condor_q calls ${condorQ / o.repeat}`,
      }),
      report({
        name: 'htcondor condor_q calls while status() runs back to back',
        value: qCalls,
        unit: 'calls',
        target: `≤ 1 per 1 s interval (${Math.ceil(seconds)} in ${seconds.toFixed(1)} s)`,
        ok: qCalls <= Math.ceil(seconds),
        detail: `${polls} status() calls of ${n} jobs`,
      }),
    ];
  } finally {
    world.remove();
    process.env.PATH = oldPath;
  }
}

if (isMain(import.meta.url)) await benchHTCondorStatus(flags(DEFAULTS));
