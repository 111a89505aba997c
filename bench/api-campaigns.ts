import { copyFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { deployment } from '../test/fixtures.ts';
import { apiStore, FIRST_RUN } from './api-store.ts';
import {
  benchTasks,
  type Figure,
  flags,
  isMain,
  machine,
  median,
  percentile,
  report,
  scratch,
} from './lib.ts';

const DEFAULTS = { runs: 100_000, tasks: 30, campaigns: 3, reps: 50 };

/**
 * `GET /api/campaigns` at a year of prompt processing (100,000 runs × 30
 * tasks, 3 million instances and jobs) plus reprocessing campaigns of 20,000
 * runs each, through the app's in-process request function: each request
 * reads every campaign's progress. The counts are kept by the store as
 * instances and jobs change, so the figure must not grow with the store.
 * For comparison, the full count it replaced (GROUP BY over instances and
 * jobs of prompt) is timed once on the same file.
 */
export async function benchApiCampaigns(o = DEFAULTS): Promise<Figure[]> {
  const file = await apiStore(o.runs, o.tasks);
  const s = scratch('autoctrl-bench-');
  try {
    const db = join(s.dir, 'state.db');
    copyFileSync(file, db);
    const d = deployment(s.dir, benchTasks(o.tasks));
    const rt = await openRuntime(
      { ...d, executors: {}, tasks: d.tasks.map((t) => ({ ...t, executor: 'none' })) },
      { logger: silentLogger() },
    );
    const tasks = d.tasks.map((t) => t.name);
    for (let c = 0; c < o.campaigns; c++) {
      const first = FIRST_RUN + c * 20_000;
      await rt.store.createCampaign({
        name: `rereco-${c}`,
        selection: { runs: { from: first, to: first + 19_999 } },
        runs: Array.from({ length: 20_000 }, (_, i) => first + i),
        tasks,
        overrides: [],
        share: 0.5,
        createdAt: Date.now(),
        createdBy: 'bench',
      });
    }
    const { app, close } = createServerApp(rt, { trigger: () => {}, health: () => null });
    try {
      const get = async () => {
        const t = performance.now();
        const res = await app.request('/api/campaigns');
        const body = (await res.json()) as { campaigns?: unknown[] };
        if (res.status !== 200 || body.campaigns?.length !== o.campaigns + 1)
          throw new Error(`/api/campaigns: ${res.status}`);
        return performance.now() - t;
      };
      const cold = await get();
      const times: number[] = [];
      for (let i = 0; i < o.reps; i++) times.push(await get());
      const before = fullCount(db);
      const p95 = percentile(times, 95);
      return [
        report({
          name: `GET /api/campaigns (${o.runs.toLocaleString('en')} runs × ${o.tasks} tasks, prompt + ${o.campaigns} campaigns of 20,000 runs), p95 of ${o.reps}`,
          value: p95,
          unit: 'ms',
          target: '≤ 50 ms',
          ok: p95 <= 50 && cold <= 50,
          detail: `median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms, first ${cold.toFixed(1)} ms; the full count it replaced: ${before.toFixed(0)} ms; load ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
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

/** The per-request count before counters were kept: prompt's instances and jobs grouped by status. */
function fullCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const t = performance.now();
    db.prepare(
      "SELECT status, COUNT(*) FROM instances WHERE campaign = 'prompt' GROUP BY status",
    ).all();
    db.prepare("SELECT status, COUNT(*) FROM jobs WHERE campaign = 'prompt' GROUP BY status").all();
    return performance.now() - t;
  } finally {
    db.close();
  }
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${new Date().toISOString()} — ${machine()}\n`);
  await benchApiCampaigns(flags(DEFAULTS));
}
