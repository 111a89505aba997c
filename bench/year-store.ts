import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../src/logger.ts';
import { openStore } from '../src/store/open.ts';
import { CHAIN, type Mix, yearCampaigns, yearTasks } from './year.ts';

/** A cached year (`year.ts`) on one backend, and how a measurement gets its own copy. */
export interface YearStore {
  /** What `withDaemon` takes as `--store`: `sqlite` or the server's URL. */
  store: string;
  /** The SQLite file (for in-process measurements); null on PostgreSQL. */
  file: string | null;
  /** Fills the fresh store `url` (made by `withDaemon` in `dir`) with the year; returns the URL to use. */
  copyTo(dir: string, url: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The year on `flag`: `sqlite`; `postgres` for a throwaway PostgreSQL 15
 * server of the test harness (stopped by `close`); or
 * `postgres://USER@HOST:PORT/DB` of a server of one's own (password in
 * PGPASSWORD), where databases are created and dropped.
 */
export async function openYear(
  flag: string,
  runs: number,
  tasks: number,
  mix: Mix,
): Promise<YearStore> {
  if (flag === 'sqlite') {
    const { apiStore } = await import('./api-store.ts');
    const file = await apiStore(runs, tasks, { mix });
    return {
      store: 'sqlite',
      file,
      copyTo: async (dir, url) => {
        copyFileSync(file, join(dir, 'state.db'));
        await intakeCaughtUp(url, runs, tasks);
        return url;
      },
      close: async () => {},
    };
  }
  const { pgYearDump, restoreYear } = await import('./pg-store.ts');
  let server = flag;
  let stop = async () => {};
  if (flag === 'postgres') {
    const { PostgresServer } = await import('../test/services/postgres.ts');
    const pg = await PostgresServer.start();
    // psql, pg_dump, pg_restore and the daemons all read it.
    process.env.PGPASSWORD = pg.password;
    server = `postgres://${pg.user}@127.0.0.1:${pg.port}/${pg.database}`;
    stop = () => pg.stop();
  }
  try {
    const dump = await pgYearDump(server, runs, tasks, mix);
    return {
      store: server,
      file: null,
      copyTo: async (_dir, url) => {
        const restored = await restoreYear(dump, url);
        await intakeCaughtUp(restored, runs, tasks);
        return restored;
      },
      close: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Intake cursors as a deployment that took in the year as it came would have
 * them (the bulk fill writes instances, not cursors): prompt's at the feed's
 * end, each campaign's past its run list. Without them the daemon's first
 * pass reads every run again, which no real store asks of it.
 */
async function intakeCaughtUp(url: string, runs: number, tasks: number): Promise<void> {
  const store = await openStore(url, silentLogger());
  try {
    const feed = await store.feedHead();
    const state = (seq: number) => JSON.stringify({ seq, feed, pending: [], maxFill: 0 });
    for (const t of yearTasks(tasks)) await store.setCursor(`intake:prompt:${t.name}`, state(0));
    for (const c of yearCampaigns(runs, tasks)) {
      for (const t of yearTasks(tasks).slice(c.workflow * CHAIN, (c.workflow + 1) * CHAIN))
        await store.setCursor(
          `intake:${c.name}:${t.name}`,
          JSON.stringify({ seq: c.count, pending: [], maxFill: 0 }),
        );
    }
  } finally {
    await store.close();
  }
}
