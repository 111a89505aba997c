import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPLETE_PASS_EVERY_MS } from '../src/engine/engine.ts';
import { intake } from '../src/engine/intake.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import type { LastPass } from '../src/server/context.ts';
import { deployment } from '../test/fixtures.ts';
import {
  cpuMs,
  followEvents,
  getJson,
  rssMb,
  waitFor,
  withDaemon,
  writeDeployment,
} from './harness.ts';
import { type Figure, flags, isMain, load, median, report, scratch } from './lib.ts';
import { yearDeployTasks, yearTasks } from './year.ts';
import { openYear, type YearStore } from './year-store.ts';

/** A year of prompt processing on one machine (DESIGN.md, Scale); `--runs 10000` for a quick look. */
const DEFAULTS = { store: 'sqlite', runs: 100_000, tasks: 30, passes: 20 };
type Options = typeof DEFAULTS;

interface Health {
  lastPass: LastPass | null;
}

/**
 * A real `autoctrl serve` on a copy of the settled store (`year.ts`: done,
 * failed, the newest runs and a campaign's tail waiting on a closed lock),
 * timer passes every 200 ms: the duration of each pass as the daemon reports
 * it (`/api/health`, `lastPass`, sampled every 100 ms). Warm once it has
 * passed 5 times and its event stream stayed silent over 3 passes (the
 * first passes read every run once, as the fill leaves no intake cursor,
 * and rewrite the lock reasons, which name the deployment's directory);
 * then `passes` light timer passes (the figure: a complete one comes only
 * every `COMPLETE_PASS_EVERY_MS`; the term's first, complete, is given
 * beside it) and whatever passes
 * over what changed come between, the daemon's CPU time meanwhile, and its
 * event stream, which must stay silent. Its resident memory (`VmRSS`) is
 * sampled every 100 ms from its start.
 */
async function daemonPasses(year: YearStore, o: Options): Promise<Figure[]> {
  /** The timer's passes (light ones: `COMPLETE_PASS_EVERY_MS`): the figure. */
  const timer: number[] = [];
  const complete: number[] = [];
  const changed: number[] = [];
  const rss: number[] = [];
  let firstAnswer = 0;
  let warm = 0;
  let warmAfter = 0;
  let cpu = { at: 0, ms: 0 };
  let alerts = 0;
  await withDaemon(
    year.store,
    async (dir, where) => {
      const store = await year.copyTo(dir, where.store);
      const tasks = yearDeployTasks(o.tasks);
      return writeDeployment(dir, { ...where, store, slots: 2, tasks, interval: '200ms' });
    },
    async (daemon) => {
      const seen = new Set<string>();
      const watch: { stream?: Awaited<ReturnType<typeof followEvents>> } = {};
      const listening = Date.now();
      const sampler = setInterval(() => rss.push(rssMb(daemon.pid)), 100);
      // The watchdog's alerts (entity `controller`: a pass slower than 3 intervals) are about
      // the passes' duration, which the figure gives; anything else is a write by a pass.
      const drain = async () => {
        const out = [];
        while ((watch.stream?.pending ?? 0) > 0) {
          const e = await watch.stream?.next(() => true, 1000);
          if (e?.entity === 'controller') alerts++;
          else out.push(e);
        }
        return out;
      };
      let quiet = 0;
      try {
        await waitFor(
          `${o.passes} timer passes once warm`,
          async () => {
            // Opening a big store may hold the daemon for a while: a request that times out is no news.
            const health = await getJson<Health>(`${daemon.url}/api/health`).catch(() => null);
            if (health === null) return undefined;
            if (firstAnswer === 0) {
              firstAnswer = Date.now() - listening;
              watch.stream = await followEvents(daemon.url);
            }
            const lastPass = health.lastPass;
            if (lastPass === null || lastPass.skipped || seen.has(lastPass.at)) return undefined;
            seen.add(lastPass.at);
            if (lastPass.full === true) complete.push(lastPass.durationMs);
            if (warm === 0) {
              quiet = (await drain()).length > 0 ? 0 : quiet + 1;
              if (seen.size < 5 || quiet < 3) return undefined;
              warm = rss.length;
              warmAfter = Date.now() - listening;
              cpu = { at: Date.now(), ms: cpuMs(daemon.pid) };
              alerts = 0;
              return undefined;
            }
            if (lastPass.light === true) timer.push(lastPass.durationMs);
            else if (lastPass.full === false) changed.push(lastPass.durationMs);
            return timer.length >= o.passes ? true : undefined;
          },
          1_200_000,
          100,
        );
        cpu = { at: Date.now() - cpu.at, ms: cpuMs(daemon.pid) - cpu.ms };
        // What the measured passes wrote reaches the stream within its 25 ms poll.
        await new Promise((r) => setTimeout(r, 100));
        const written = await drain();
        if (written.length > 0)
          throw new Error(
            `the daemon wrote ${written.length} events in passes with nothing to do, from ${JSON.stringify(written.slice(0, 3))}`,
          );
      } finally {
        clearInterval(sampler);
        await watch.stream?.close();
      }
    },
  );
  const size = `${o.runs.toLocaleString('en')} runs × ${o.tasks} tasks + 3 campaigns, settled`;
  const pass = median(timer);
  const peak = Math.max(...rss);
  const target = year.store === 'sqlite' ? 50 : 100;
  return [
    report({
      name: `timer pass with nothing to do (${size}, ${year.store === 'sqlite' ? 'sqlite' : 'postgres'}), as \`autoctrl serve\` reports it, median of ${timer.length}`,
      value: pass,
      unit: 'ms',
      target: `≤ ${target} ms`,
      ok: pass <= target,
      detail: `min ${Math.min(...timer)} ms, max ${Math.max(...timer)} ms; complete passes (the term's first, then one per ${COMPLETE_PASS_EVERY_MS / 60_000} min) seen: ${complete.length === 0 ? 'none' : `${complete.join(', ')} ms`}; passes over what changed between them: ${changed.length}, median ${median(changed)} ms; daemon CPU ${cpu.ms} ms in those ${(cpu.at / 1000).toFixed(1)} s (${((100 * cpu.ms) / cpu.at).toFixed(0)} % of a core; ${(cpu.ms / timer.length).toFixed(0)} ms per timer pass at most, /api/health polls included); watchdog alerts meanwhile ${alerts}; first answer to /api/health ${(firstAnswer / 1000).toFixed(1)} s after it listened, warm after ${(warmAfter / 1000).toFixed(1)} s; ${load()}`,
    }),
    report({
      name: `daemon resident memory on that store (${year.store}; peak of ${rss.length} samples from its start, passes every 200 ms)`,
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
  const cpu: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const s = scratch('autoctrl-bench-scale-');
    try {
      copyFileSync(db, join(s.dir, 'state.db'));
      const rt = await openRuntime(deployment(s.dir, yearTasks(o.tasks)), {
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
      const c = process.cpuUsage();
      let created = 0;
      for (const task of rt.deployment.tasks)
        created += (await intake(rt.engine.ctx, 'prompt', task)).length;
      times.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
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
    detail: `CPU ${median(cpu).toFixed(0)} ms (median; ${cpu.map((x) => x.toFixed(0)).join(', ')}); ${load()}`,
  });
}

/**
 * The year of `year.ts` (settled) on `--store` (`sqlite`, `postgres` for a
 * throwaway server, or a server's URL), filled in bulk and kept in
 * bench/out/: the no-op pass and memory through a real daemon, and on
 * SQLite the intake step.
 */
export async function benchStoreScale(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const t = Date.now();
  const year = await openYear(o.store, o.runs, o.tasks, 'settled');
  try {
    if (Date.now() - t > 1000)
      process.stdout.write(`  year ready in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
    const figures = await daemonPasses(year, o);
    if (year.file !== null) figures.push(await intakeThousand(year.file, o));
    return figures;
  } finally {
    await year.close();
  }
}

if (isMain(import.meta.url)) await benchStoreScale(flags(DEFAULTS));
