import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { deployment } from '../test/fixtures.ts';
import { apiStore } from './api-store.ts';
import {
  benchTasks,
  type Figure,
  flags,
  isMain,
  median,
  percentile,
  report,
  scratch,
} from './lib.ts';

const DEFAULTS = { runs: 100_000, tasks: 30, reps: 200 };

/**
 * `GET /metrics` at a year of prompt processing (100,000 runs × 30 tasks, a
 * mix of statuses, one job per instance: `api-store.ts`), through the app's
 * in-process request function, `reps` times after the first scrape. Every
 * scrape reads the counts by status the store keeps (`statusCounts`): no
 * count over the instances and jobs themselves, cached or not.
 */
export async function benchMetrics(opts: Partial<typeof DEFAULTS> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const file = await apiStore(o.runs, o.tasks);
  const s = scratch('autoctrl-bench-metrics-');
  try {
    copyFileSync(file, join(s.dir, 'state.db'));
    const rt = await openRuntime(deployment(s.dir, benchTasks(o.tasks)), {
      logger: silentLogger(),
    });
    const { app, close } = createServerApp(rt, { trigger: () => {}, health: () => null });
    try {
      let t = performance.now();
      const first = await app.request('/metrics');
      const cold = performance.now() - t;
      const text = await first.text();
      if (first.status !== 200 || !text.includes('autoctrl_instances{'))
        throw new Error(`/metrics answered ${first.status}: ${text.slice(0, 200)}`);
      const times: number[] = [];
      for (let i = 0; i < o.reps; i++) {
        t = performance.now();
        const res = await app.request('/metrics');
        await res.text();
        times.push(performance.now() - t);
      }
      const size = `${o.runs.toLocaleString('en')} runs × ${o.tasks} tasks`;
      const warm = median(times);
      return [
        report({
          name: `GET /metrics (${size}; ${text.split('\n').length} lines), median of ${o.reps}`,
          value: warm,
          unit: 'ms',
          target: '≤ 50 ms',
          ok: warm <= 50,
          detail: `p95 ${percentile(times, 95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms; first scrape (a fresh process: cold caches) ${cold.toFixed(0)} ms`,
        }),
      ];
    } finally {
      close();
      await rt.close();
    }
  } finally {
    s.remove();
  }
}

if (isMain(import.meta.url)) await benchMetrics(flags(DEFAULTS));
