import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyJobReport } from '../src/app/report.ts';
import type { JobLaunch } from '../src/executors/contract.ts';
import { refOfLaunch } from '../src/executors/shared/job-ref.ts';
import { createSlurmExecutor } from '../src/executors/slurm/index.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { deployment, task } from '../test/fixtures.ts';
import { SlurmCluster, slurmMissing } from '../test/services/slurm.ts';
import { type Figure, flags, isMain, median, report, scratch } from './lib.ts';

const DEFAULTS = { jobs: 1000, repeat: 3, reports: 300, poll: 1000 };
type Options = typeof DEFAULTS;

const COUNTED = ['sbatch', 'squeue', 'sacct', 'scancel'];

/**
 * Stand-ins on PATH that count each call of a Slurm command in `calls` and
 * run the real one: what the executor asks of Slurm, counted from outside.
 */
function countingPath(dir: string): { path: string; calls: () => Record<string, number> } {
  const bin = join(dir, 'bin');
  const log = join(dir, 'calls');
  mkdirSync(bin);
  writeFileSync(log, '');
  for (const c of COUNTED) {
    writeFileSync(join(bin, c), `#!/bin/sh\necho ${c} >>'${log}'\nexec /usr/bin/${c} "$@"\n`);
    chmodSync(join(bin, c), 0o755);
  }
  return {
    path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    calls: () => {
      const n: Record<string, number> = Object.fromEntries(COUNTED.map((c) => [c, 0]));
      for (const l of readFileSync(log, 'utf8').split('\n')) if (l in n) n[l] = (n[l] ?? 0) + 1;
      return n;
    },
  };
}

/**
 * `jobs` trivial jobs of one instance handed to the Slurm executor as one
 * batch, against the test harness's real single-node Slurm: the time of
 * `submit()` (work areas, task files, one sbatch of an array), then the
 * time and the Slurm calls of one `status()` of them all. The jobs wait for
 * a begin time an hour away, so that running them does not load the
 * machine; each repetition's array is cancelled after.
 */
export async function benchSlurmSubmit(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const missing = slurmMissing();
  if (missing !== null) {
    process.stdout.write(`skip Slurm submission: ${missing}\n`);
    return [];
  }
  const work = scratch('autoctrl-bench-slurm-');
  const counting = countingPath(work.dir);
  const savedPath = process.env.PATH;
  const cluster = await SlurmCluster.start();
  try {
    process.env.PATH = counting.path;
    const ex = await createSlurmExecutor(
      'slurm',
      { slurm_conf: cluster.conf, sbatch_args: ['--begin=now+3600'] },
      {
        logger: silentLogger(),
        dataDir: work.dir,
        host: 'bench',
        maxJobs: null,
        pollIntervalMs: null,
      },
    );
    const submits: number[] = [];
    const statuses: number[] = [];
    let calls: Record<string, number> = {};
    for (let r = 0; r < o.repeat; r++) {
      const launches = Array.from({ length: o.jobs }, (_, i): JobLaunch => {
        const workDir = join(work.dir, `r${r}`, `job-${i}`);
        return {
          jobId: r * o.jobs + i + 1,
          attempt: 1,
          instanceId: r + 1,
          name: `bench-slurm-${r * o.jobs + i + 1}.1`,
          argv: ['/bin/true', String(i)],
          env: { PATH: '/usr/bin:/bin', AUTOCTRL_JOB: String(i) },
          cwd: work.dir,
          workDir,
          inputs: { runs: [], outputs: [], input: `file-${i}.root` },
          logPath: join(workDir, 'log.txt'),
          timeoutMs: 3_600_000,
          resources: {},
        };
      });
      const before = counting.calls();
      let t = performance.now();
      const answers = await ex.submit(launches);
      submits.push(performance.now() - t);
      const ids = answers.map((a) => ('executorId' in a ? a.executorId : null));
      if (ids.some((id) => id === null)) throw new Error(`some jobs were not submitted`);
      const refs = launches.map((l, i) => refOfLaunch(l, ids[i] ?? null, Date.now()));
      t = performance.now();
      const states = await ex.status(refs);
      statuses.push(performance.now() - t);
      if ([...states.values()].some((s) => s.state !== 'queued'))
        throw new Error('a job is not queued');
      const after = counting.calls();
      calls = Object.fromEntries(COUNTED.map((c) => [c, (after[c] ?? 0) - (before[c] ?? 0)]));
      await cluster.run('scancel', [String(ids[0]).split('_')[0] as string]);
    }
    const polls = await pollsUnderReports(cluster, work.dir, counting.calls, o);
    const submit = median(submits);
    const status = median(statuses);
    const detail = (xs: number[]) => `runs ${xs.map((x) => x.toFixed(0)).join(', ')} ms`;
    return [
      report({
        name: `${o.jobs} jobs submitted to Slurm as one array (median of ${o.repeat})`,
        value: submit,
        unit: 'ms',
        target: '≤ 2000 ms',
        ok: submit <= 2000,
        detail: detail(submits),
      }),
      report({
        name: `status() of those ${o.jobs} jobs (median of ${o.repeat})`,
        value: status,
        unit: 'ms',
        target: 'none',
        ok: true,
        detail: `${detail(statuses)}; Slurm calls for submit + status: ${COUNTED.map((c) => `${c} ${calls[c]}`).join(', ')}`,
      }),
      report({
        name: 'Slurm calls per submit() + status() of a batch',
        value: (calls.sbatch ?? 0) + (calls.squeue ?? 0) + (calls.sacct ?? 0),
        unit: 'calls',
        target: '1 sbatch + 1 squeue, no sacct while the jobs are queued',
        ok: calls.sbatch === 1 && calls.squeue === 1 && calls.sacct === 0,
      }),
      report({
        name: `engine's squeue calls while ${o.reports} job reports arrive over ${(polls.elapsedMs / 1000).toFixed(1)} s (poll_interval ${o.poll} ms)`,
        value: polls.squeue,
        unit: 'calls',
        target: `≤ ${polls.windows} (one per interval)`,
        ok: polls.squeue <= polls.windows,
        detail: `sacct ${polls.sacct}`,
      }),
    ];
  } finally {
    process.env.PATH = savedPath;
    await cluster.stop();
    work.remove();
  }
}

/**
 * A running instance of 20 Slurm jobs, a stream of job reports each followed
 * by a pass (as the daemon does on each report): the squeue calls the
 * engine makes, against the intervals that passed.
 */
async function pollsUnderReports(
  cluster: SlurmCluster,
  dir: string,
  calls: () => Record<string, number>,
  o: Options,
) {
  const go = join(dir, 'go');
  const d = deployment(dir, [
    task('farm', {
      executor: 'slurm',
      jobs: 20,
      command: ['/bin/sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.2; done', go],
    }),
  ]);
  d.executors.slurm = {
    type: 'slurm',
    maxJobs: null,
    pollIntervalMs: o.poll,
    lostAfterMs: 600_000,
    options: { slurm_conf: cluster.conf },
  };
  const rt = await openRuntime(d, { logger: silentLogger() });
  try {
    await rt.store.upsertRuns([{ run: 1, fill: 1, lumi: 10, start: 1, end: 2 }], 'bench');
    let jobs: Awaited<ReturnType<typeof rt.store.jobsForInstance>> = [];
    for (
      let i = 0;
      i < 600 && !(jobs.length === 20 && jobs.every((j) => j.status === 'running'));
      i++
    ) {
      await rt.engine.pass();
      const [inst] = await rt.store.instancesForRuns('prompt', 'farm', [1]);
      jobs = inst === undefined ? [] : await rt.store.jobsForInstance(inst.id);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (jobs.length !== 20) throw new Error('the Slurm jobs did not start');
    const before = calls();
    const started = Date.now();
    for (let i = 0; i < o.reports; i++) {
      const j = jobs[i % jobs.length];
      if (j === undefined) continue;
      await applyJobReport(rt.engine.ctx, j.id, { fields: { n: i } }, 'bench');
      await rt.engine.pass({ full: i % 10 === 0 });
    }
    const elapsedMs = Date.now() - started;
    const after = calls();
    writeFileSync(go, '');
    return {
      elapsedMs,
      windows: Math.ceil(elapsedMs / o.poll) + 1,
      squeue: (after.squeue ?? 0) - (before.squeue ?? 0),
      sacct: (after.sacct ?? 0) - (before.sacct ?? 0),
    };
  } finally {
    await rt.close();
  }
}

if (isMain(import.meta.url)) await benchSlurmSubmit(flags(DEFAULTS));
