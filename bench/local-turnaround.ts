import { join } from 'node:path';
import type { ExecutorJobState } from '../src/executors/contract.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import type { LauncherKind } from '../src/executors/local/launcher.ts';
import { silentLogger } from '../src/logger.ts';
import { type Figure, flags, isMain, median, percentile, report, scratch } from './lib.ts';

/**
 * The local executor alone, without store or engine: `submit()` of
 * `/bin/true` → its `onChange`, one job after the other. That is the
 * executor's share of a handover (`exit-latency.ts`): marker, cgroup, the
 * launcher's spawn, the job's own exec and exit, the exit recorded and told.
 */
const DEFAULTS = { jobs: 60, launcher: 'posix_spawn' };
type Options = typeof DEFAULTS;

/** A third of the 15 ms handover target: the rest is the store's and the engine's. */
const TARGET_MS = 5;

export async function benchLocalTurnaround(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const s = scratch('autoctrl-bench-local-');
  const ex = new LocalExecutor('local', {
    slots: 1,
    logger: silentLogger(),
    launcher: o.launcher as LauncherKind,
  });
  const waiters = new Map<number, (s: ExecutorJobState) => void>();
  ex.onChange((jobId, state) => waiters.get(jobId)?.(state));
  // Jobs do not keep the process alive (they may outlive it): this does, while we wait.
  const keepAlive = setInterval(() => {}, 1000);
  const times: number[] = [];
  try {
    // One more than measured: the first starts the launcher.
    for (let jobId = 0; jobId <= o.jobs; jobId++) {
      const workDir = join(s.dir, `job-${jobId}`);
      const ended = new Promise<ExecutorJobState>((r) => waiters.set(jobId, r));
      const start = performance.now();
      const [answer] = await ex.submit([
        {
          jobId,
          instanceId: jobId,
          attempt: 1,
          name: `bench-${jobId}`,
          argv: ['/bin/true'],
          env: {},
          cwd: s.dir,
          workDir,
          logPath: join(workDir, 'log'),
          timeoutMs: null,
          inputs: { runs: [], outputs: [], input: null },
          resources: {},
        },
      ]);
      if (answer === undefined || 'error' in answer) throw answer?.error ?? new Error('no answer');
      const state = await ended;
      if (state.state !== 'exited' || state.exitCode !== 0)
        throw new Error(`job ${jobId}: ${JSON.stringify(state)}`);
      if (jobId > 0) times.push(performance.now() - start);
    }
  } finally {
    clearInterval(keepAlive);
    await ex.close();
    s.remove();
  }
  const p50 = median(times);
  return [
    report({
      name: `local executor, submit → onChange of /bin/true (${o.jobs} in a row, ${o.launcher} launcher)`,
      value: p50,
      unit: 'ms',
      target: `≤ ${TARGET_MS} ms`,
      ok: p50 <= TARGET_MS,
      detail: `min ${Math.min(...times).toFixed(1)} ms, p90 ${percentile(times, 90).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`,
    }),
  ];
}

if (isMain(import.meta.url)) await benchLocalTurnaround(flags(DEFAULTS));
