import { startDaemon } from '../src/daemon.ts';
import { silentLogger } from '../src/logger.ts';
import { deployment } from '../test/fixtures.ts';
import { benchTasks, type Figure, median, report, scratch } from './lib.ts';

const STEPS = 10;

/** From a run's arrival to the last task of a 10-step chain of `true` jobs being done, through the daemon. */
export async function benchChainLatency(): Promise<Figure[]> {
  const s = scratch('autoctrl-bench-chain-');
  const tasks = benchTasks(STEPS, STEPS);
  const daemon = await startDaemon(deployment(s.dir, tasks), {
    logger: silentLogger(),
    listen: { host: '127.0.0.1', port: 0 },
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < 7; i++) {
      const run = 500_000 + i;
      const done = new Promise<void>((resolve) => {
        const onSettled = (inst: { task: string; runs: number[]; status: string }) => {
          if (inst.task === tasks.at(-1)?.name && inst.runs.includes(run)) {
            daemon.runtime.engine.off('settled', onSettled);
            resolve();
          }
        };
        daemon.runtime.engine.on('settled', onSettled);
      });
      const t = performance.now();
      // What `autoctrl runs add` does: store the run, then poke the daemon.
      await daemon.runtime.store.upsertRuns([{ run, fill: 1, lumi: 1, start: 1, end: 2 }], 'bench');
      daemon.controller.trigger();
      await done;
      times.push(performance.now() - t);
    }
  } finally {
    await daemon.stop();
    s.remove();
  }
  const v = median(times.slice(2));
  return [
    report({
      name: `${STEPS}-task sequential chain of \`true\`, run added → last done, median of 5 (after 2 warm-up)`,
      value: v,
      unit: 'ms',
      target: '≤ 1000 ms',
      ok: v <= 1000,
      detail: `${(v / STEPS).toFixed(1)} ms per step; all: ${times.map((x) => x.toFixed(0)).join(', ')}`,
    }),
  ];
}
