import Database from 'better-sqlite3';
import { cpuMs, getJson, waitFor, withDaemon, writeDeployment } from './harness.ts';
import { type Figure, flags, isMain, load, machine, median, percentile, report } from './lib.ts';
import { yearCampaigns, yearDeployTasks } from './year.ts';
import { openYear } from './year-store.ts';

const DEFAULTS = { store: 'sqlite', runs: 100_000, tasks: 30, reps: 50 };

/**
 * `GET /api/campaigns` as a user's browser or script asks it: over HTTP
 * from a real `autoctrl serve` on a copy of the year (`year.ts`: 100,000
 * runs × 30 tasks, 3 million instances and jobs, plus three reprocessing
 * campaigns of 20,000 runs with their instances and jobs). Each request
 * reads every campaign's progress; the counts are kept by the store's
 * triggers, so the figure must not grow with the store. The first request
 * after the daemon's first pass, then `reps` more; the daemon's CPU time
 * per request beside the wall time. On SQLite, the full count it replaced
 * (GROUP BY over prompt's instances and jobs) is timed once on the cached file.
 */
export async function benchApiCampaigns(opts: Partial<typeof DEFAULTS> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const year = await openYear(o.store, o.runs, o.tasks, 'settled');
  const want = yearCampaigns(o.runs, o.tasks).length + 1;
  try {
    const m = await withDaemon(
      year.store,
      async (dir, where) =>
        writeDeployment(dir, {
          ...where,
          store: await year.copyTo(dir, where.store),
          slots: 2,
          tasks: yearDeployTasks(o.tasks),
          interval: '1s',
        }),
      async (daemon) => {
        // Past its warm-up, as users meet a running daemon: the term's complete pass, then the
        // passes that follow its writes, until three light timer passes in a row.
        let light = 0;
        let last = '';
        await waitFor(
          'three light timer passes',
          async () => {
            const pass = (
              await getJson<{ lastPass: { at: string; light?: boolean } | null }>(
                `${daemon.url}/api/health`,
              ).catch(() => null)
            )?.lastPass;
            if (pass === null || pass === undefined || pass.at === last) return undefined;
            last = pass.at;
            light = pass.light === true ? light + 1 : 0;
            return light >= 3 ? true : undefined;
          },
          1_200_000,
          200,
        );
        const get = async () => {
          const t = performance.now();
          const res = await fetch(`${daemon.url}/api/campaigns`);
          const body = (await res.json()) as { campaigns?: unknown[] };
          if (res.status !== 200 || body.campaigns?.length !== want)
            throw new Error(`/api/campaigns: ${res.status}, ${body.campaigns?.length} campaigns`);
          return performance.now() - t;
        };
        const first = await get();
        const cpu = cpuMs(daemon.pid);
        const times: number[] = [];
        for (let i = 0; i < o.reps; i++) times.push(await get());
        return { first, times, cpu: (cpuMs(daemon.pid) - cpu) / o.reps };
      },
    );
    const before = year.file === null ? null : fullCount(year.file);
    const p95 = percentile(m.times, 95);
    return [
      report({
        name: `GET /api/campaigns over HTTP (${o.runs.toLocaleString('en')} runs × ${o.tasks} tasks + 3 campaigns of 20,000 runs, ${year.store === 'sqlite' ? 'sqlite' : 'postgres'}), p95 of ${o.reps}`,
        value: p95,
        unit: 'ms',
        target: '≤ 50 ms',
        ok: p95 <= 50 && m.first <= 50,
        detail: `median ${median(m.times).toFixed(1)} ms, max ${Math.max(...m.times).toFixed(1)} ms, first ${m.first.toFixed(1)} ms; daemon CPU ${m.cpu.toFixed(1)} ms a request${before === null ? '' : `; the full count it replaced: ${before.toFixed(0)} ms`}; ${load()}`,
      }),
    ];
  } finally {
    await year.close();
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
