import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { intake } from '../src/engine/intake.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { deployment } from '../test/fixtures.ts';
import { apiStore } from './api-store.ts';
import { followEvents, getJson, rssMb, waitFor, withDaemon, writeDeployment } from './harness.ts';
import { benchTasks, type Figure, flags, isMain, median, report, scratch } from './lib.ts';

/** A year of prompt processing on one machine (DESIGN.md, Scale); `--runs 10000` for a quick look. */
const DEFAULTS = { store: 'sqlite', runs: 100_000, tasks: 30, passes: 20 };
type Options = typeof DEFAULTS;

interface Health {
  lastPass: { at: string; durationMs: number; skipped: boolean } | null;
}

/**
 * A real `autoctrl serve` on a copy of the all-done store, passes every
 * 200 ms: the duration of each pass as the daemon reports it
 * (`/api/health`, `lastPass`), after 5 warm-up passes (the first ones read
 * every run once: the fill leaves no intake cursor); its resident memory
 * (`VmRSS`) sampled every 100 ms from its start; its event stream, which
 * must stay silent (nothing to do).
 */
async function daemonPasses(db: string, o: Options): Promise<Figure[]> {
  const durations: number[] = [];
  const rss: number[] = [];
  let skipped = 0;
  let firstAnswer = 0;
  let warm = 0;
  await withDaemon(
    'sqlite',
    (dir, where) => {
      copyFileSync(db, join(dir, 'state.db'));
      const tasks = benchTasks(o.tasks).map((t) => ({ name: t.name, after: t.after }));
      return writeDeployment(dir, { ...where, slots: 2, tasks, interval: '200ms' });
    },
    async (daemon) => {
      const seen = new Set<string>();
      const watch: { stream?: Awaited<ReturnType<typeof followEvents>> } = {};
      const listening = Date.now();
      const sampler = setInterval(() => rss.push(rssMb(daemon.pid)), 100);
      try {
        await waitFor(
          `${o.passes} passes after 5 warm-up passes`,
          async () => {
            // Opening a big store may hold the daemon for a while: a request that times out is no news.
            const health = await getJson<Health>(`${daemon.url}/api/health`).catch(() => null);
            if (health !== null) firstAnswer ||= Date.now() - listening;
            const lastPass = health?.lastPass ?? null;
            if (lastPass === null || seen.has(lastPass.at)) return undefined;
            seen.add(lastPass.at);
            if (seen.size === 5) {
              warm = rss.length;
              watch.stream = await followEvents(daemon.url);
            }
            if (seen.size <= 5) return undefined;
            if (lastPass.skipped) skipped++;
            else durations.push(lastPass.durationMs);
            return durations.length >= o.passes ? true : undefined;
          },
          600_000,
          100,
        );
        // What the measured passes wrote reaches the stream within its 25 ms poll.
        await new Promise((r) => setTimeout(r, 100));
        const written = watch.stream?.pending ?? 0;
        if (written > 0)
          throw new Error(`the daemon wrote ${written} events in passes with nothing to do`);
      } finally {
        clearInterval(sampler);
        await watch.stream?.close();
      }
    },
  );
  const size = `${o.runs.toLocaleString('en')} runs × ${o.tasks} tasks, all done`;
  const pass = median(durations);
  const peak = Math.max(...rss);
  return [
    report({
      name: `pass with nothing to do (${size}), as \`autoctrl serve\` reports it, median of ${durations.length}`,
      value: pass,
      unit: 'ms',
      target: '≤ 50 ms',
      ok: pass <= 50,
      detail: `min ${Math.min(...durations)} ms, max ${Math.max(...durations)} ms${skipped ? `; ${skipped} passes skipped` : ''}; first answer to /api/health ${(firstAnswer / 1000).toFixed(1)} s after it listened`,
    }),
    report({
      name: `daemon resident memory on that store (peak of ${rss.length} samples from its start, passes every 200 ms)`,
      value: peak,
      unit: 'MB',
      target: '≤ 250 MB',
      ok: peak <= 250,
      detail: `peak after the warm-up passes ${Math.max(...rss.slice(warm)).toFixed(0)} MB`,
    }),
  ];
}

/** The engine's intake step (in-process) for 1,000 new ended runs into every task. */
async function intakeThousand(db: string, o: Options): Promise<Figure> {
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const s = scratch('autoctrl-bench-scale-');
    try {
      copyFileSync(db, join(s.dir, 'state.db'));
      const rt = await openRuntime(deployment(s.dir, benchTasks(o.tasks)), {
        logger: silentLogger(),
      });
      // Once over the filled runs first: the fill leaves no intake cursor.
      for (const task of rt.deployment.tasks) await intake(rt.engine.ctx, 'prompt', task);
      await rt.store.upsertRuns(
        Array.from({ length: 1000 }, (_, i) => ({
          run: 900_000 + i,
          fill: 90_000,
          lumi: 80,
          start: 1,
          end: 2,
        })),
        'bench',
      );
      const t = performance.now();
      let created = 0;
      for (const task of rt.deployment.tasks)
        created += (await intake(rt.engine.ctx, 'prompt', task)).length;
      times.push(performance.now() - t);
      if (created !== 1000 * o.tasks) throw new Error(`intake created ${created}`);
      await rt.close();
    } finally {
      s.remove();
    }
  }
  const v = median(times);
  return report({
    name: `intake of 1,000 new runs into ${o.tasks} tasks (store of ${o.runs.toLocaleString('en')} runs), median of 3`,
    value: v,
    unit: 'ms',
    target: '≤ 1000 ms',
    ok: v <= 1000,
  });
}

/**
 * A year-like store, `runs` × `tasks`, every instance done with one done job,
 * filled with direct SQL (`api-store.ts`: the store API would take hours at
 * 3 million instances) and kept in bench/out/.
 */
export async function benchStoreScale(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  if (o.store !== 'sqlite') {
    process.stdout.write(
      `skip store-scale on ${o.store}: the ${o.runs}-run fill writes SQLite directly; a PostgreSQL fill comes with that backend\n`,
    );
    return [];
  }
  const t = Date.now();
  const db = await apiStore(o.runs, o.tasks, { allDone: true });
  if (Date.now() - t > 1000)
    process.stdout.write(`  filled ${db} in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
  return [...(await daemonPasses(db, o)), await intakeThousand(db, o)];
}

if (isMain(import.meta.url)) await benchStoreScale(flags(DEFAULTS));
