import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { deployment } from '../test/fixtures.ts';
import { apiStore, FIRST_RUN } from './api-store.ts';
import { benchTasks, type Figure, median, percentile, report, scratch } from './lib.ts';

const RUNS = 100_000;
const TASKS = 30;
const REPS = 40;

/** Filters people use, alone and combined, over a year of runs. */
const QUERIES = [
  '',
  'sort=run_asc',
  'status=failed',
  'status=processing',
  'status=done',
  'task=t03&task_status=failed',
  'task=t07&task_status=waiting',
  'task=t12&task_status=done',
  `fill=${8000 + 6000}`,
  `q=${String(FIRST_RUN + 51_2).slice(0, 4)}`,
  'q=Prompt_v3',
  'q=no-such-text',
  'q=cosmics&status=done',
  `from=${FIRST_RUN + 20_000}&to=${FIRST_RUN + 30_000}&status=failed`,
  'status=done&task=t05&task_status=done&q=Run2024',
  'status=processing&task=t02&task_status=processing&sort=run_asc',
];

/**
 * The overview API (validation, store query, cells, JSON) for one page of 100
 * rows at 100,000 runs × 30 tasks, through the app's in-process request
 * function; each filter REPS times after one warm-up request, page 2 via the
 * cursor included.
 */
export async function benchApiOverview(): Promise<Figure[]> {
  const file = await apiStore(RUNS, TASKS);
  const s = scratch('autoctrl-bench-');
  try {
    copyFileSync(file, join(s.dir, 'state.db'));
    const d = deployment(s.dir, benchTasks(TASKS));
    const rt = await openRuntime(
      { ...d, executors: {}, tasks: d.tasks.map((t) => ({ ...t, executor: 'none' })) },
      {
        logger: silentLogger(),
      },
    );
    const { app, close } = createServerApp(rt, { trigger: () => {}, health: () => null });
    const all: number[] = [];
    let worst = { q: '', p95: 0 };
    for (const q of QUERIES) {
      const first = (await (await app.request(`/api/overview?${q}`)).json()) as {
        next: string | null;
      };
      const times: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const url =
          i % 4 === 3 && first.next
            ? `/api/overview?${q}&cursor=${first.next}`
            : `/api/overview?${q}`;
        const t = performance.now();
        const res = await app.request(url);
        const body = (await res.json()) as { rows?: unknown[] };
        times.push(performance.now() - t);
        if (res.status !== 200 || body.rows === undefined) throw new Error(`${url}: ${res.status}`);
      }
      all.push(...times);
      const p95 = percentile(times, 95);
      if (p95 > worst.p95) worst = { q: q || '(no filter)', p95 };
    }
    close();
    await rt.close();
    const p95 = percentile(all, 95);
    return [
      report({
        name: `overview API, page of 100 rows, ${QUERIES.length} filter sets × ${REPS} (${RUNS.toLocaleString('en')} runs × ${TASKS} tasks), p95`,
        value: p95,
        unit: 'ms',
        target: '≤ 30 ms',
        ok: p95 <= 30 && worst.p95 <= 30,
        detail: `median ${median(all).toFixed(1)} ms; worst filter ${worst.q} p95 ${worst.p95.toFixed(1)} ms`,
      }),
    ];
  } finally {
    s.remove();
  }
}
