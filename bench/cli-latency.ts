import { join } from 'node:path';
import {
  autoctrl,
  chain,
  followEvents,
  getJson,
  waitFor,
  withDaemon,
  writeDeployment,
} from './harness.ts';
import { type Figure, flags, isMain, median, report } from './lib.ts';

const DEFAULTS = { store: 'sqlite', waiting: 20_000, steps: 10, reps: 5, warmup: 2 };
type Options = typeof DEFAULTS;

const BLOCKED = 'blocked';

/**
 * A run added from the CLI (`autoctrl runs add`, a separate process) to a
 * running daemon → the last task of a `steps`-task chain of trivial jobs
 * done, while `waiting` instances of another task wait on a closed `file`
 * lock in the same store (their runs handed over in bulk by a command source
 * before the measurement). From the CLI's output (printed once the run is
 * stored) to the last task's `done` event read from the daemon's live event
 * stream (which polls the store every 25 ms: up to 25 ms too long); the time
 * from starting the CLI process, its start-up included, is printed beside it.
 */
export async function benchCliLatency(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const tasks = chain('c', o.steps, { type: 'bench' });
  const last = tasks.at(-1)?.name;
  const times: number[] = [];
  const fromSpawn: number[] = [];
  const t0 = Date.now();
  let fillMs = 0;
  await withDaemon(
    o.store,
    (dir, where) =>
      writeDeployment(dir, {
        ...where,
        slots: 2,
        tasks: [
          { name: BLOCKED, type: 'backlog', locks: [{ kind: 'file', path: join(dir, 'never') }] },
          ...tasks,
        ],
        runs: Array.from({ length: o.waiting }, (_, i) => ({ run: 1 + i, type: 'backlog' })),
      }),
    async (daemon, config) => {
      // Filled: the last backlog run's instance waits, and none is left `new`.
      const page = (q: string) =>
        getJson<{ rows: unknown[] }>(`${daemon.url}/api/overview?task=${BLOCKED}&${q}`);
      await waitFor(
        `${o.waiting} instances of ${BLOCKED} waiting`,
        async () =>
          (await page(`task_status=waiting&from=${o.waiting}&to=${o.waiting}`)).rows.length === 1 &&
          (await page('task_status=new&limit=1')).rows.length === 0
            ? true
            : undefined,
        Math.max(120_000, o.waiting * 30),
        1000,
      );
      fillMs = Date.now() - t0;
      const events = await followEvents(daemon.url);
      try {
        for (let rep = 0; rep < o.warmup + o.reps; rep++) {
          const run = 1_000_000 + rep;
          const done = events.next(
            (e) => e.entity === 'instance' && e.task === last && e.to === 'done',
            60_000,
          );
          done.catch(() => {}); // awaited below, unless the CLI fails first
          const spawned = Date.now();
          const cli = await autoctrl(config, ['runs', 'add', String(run), '--type', 'bench']);
          const { receivedAt } = await done;
          if (rep < o.warmup) continue;
          times.push(receivedAt - cli.firstOutputAt);
          fromSpawn.push(receivedAt - spawned);
        }
      } finally {
        await events.close();
      }
    },
  );
  const sqlite = o.store === 'sqlite';
  const limit = sqlite ? 1000 : 1500;
  const v = median(times);
  const all = times.map((x) => x.toFixed(0)).join(', ');
  return [
    report({
      name: `${o.steps}-task chain, run added from the CLI → last done, ${o.waiting.toLocaleString('en')} instances waiting on a closed lock, ${sqlite ? 'SQLite' : 'PostgreSQL'}, median of ${o.reps} (after ${o.warmup} warm-up)`,
      value: v,
      unit: 'ms',
      target: `≤ ${limit} ms`,
      ok: v <= limit,
      detail: `all: ${all}; from starting the CLI process: median ${median(fromSpawn).toFixed(0)} ms; filling took ${(fillMs / 1000).toFixed(0)} s`,
    }),
  ];
}

if (isMain(import.meta.url)) await benchCliLatency(flags(DEFAULTS));
