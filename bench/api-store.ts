import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { refreshExpectations } from '../src/engine/expectations.ts';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { deployment } from '../test/fixtures.ts';
import {
  type Cell,
  campaignCell,
  FIRST_RUN,
  jobFields,
  jobTimes,
  type Mix,
  promptCell,
  yearCampaigns,
  yearRun,
  yearTasks,
} from './year.ts';
import { checkCounts } from './year-check.ts';

export { FIRST_RUN } from './year.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
/** Bump when the fill writes something else: the cache key holds it beside the schema version. */
const FILL_VERSION = 2;
const SCHEMA = Math.max(...MIGRATIONS.map((m) => m.version));
/** Tables the fill writes in bulk: their secondary indexes are built once at the end. */
const BULK_TABLES = ['instances', 'memberships', 'jobs', 'events', 'instance_attempts'];

/**
 * A year of prompt processing in a SQLite store: `runs` × `tasks`, every
 * instance with one job unless it has not started, plus the reprocessing
 * campaigns of `year.ts` (`mix` says which states: see `Mix`). Cached in
 * bench/out/, keyed by the schema and fill versions.
 *
 * Written in bulk rather than through the engine (which would take the
 * better part of an hour at 3 million instances): the store is created, and
 * so migrated, by `createSqliteStore`, its campaigns by the store's own
 * `createCampaign`; then one transaction inserts the rows with prepared
 * statements, the schema's triggers keeping their derived rows (overview
 * status, campaign counts, search text) as for any writer, and the
 * secondary indexes of the bulk tables are dropped before and rebuilt after
 * from the schema's own definitions. The engine's `refreshExpectations` then
 * sets what the overview expects per run, and the counts are checked
 * against a full count before the file is kept.
 */
export async function apiStore(
  runs = 100_000,
  tasks = 30,
  opts: { mix?: Mix } = {},
): Promise<string> {
  const mix = opts.mix ?? 'live';
  const file = join(OUT, `year-${mix}-${runs}x${tasks}-s${SCHEMA}f${FILL_VERSION}.db`);
  if (existsSync(file)) return file;
  mkdirSync(OUT, { recursive: true });
  // Per process: two bench runs filling at once must not write into each other's file.
  const partial = `${file}.${process.pid}.partial`;
  const d = deployment(OUT, yearTasks(tasks));
  const campaigns = yearCampaigns(runs, tasks);
  const store = await createSqliteStore(partial, { logger: silentLogger() });
  // On the empty store: records which deployment the expectations are for, at no cost.
  await refreshExpectations(store, d);
  for (const c of campaigns) {
    const names = d.tasks.slice(c.workflow * 5, c.workflow * 5 + 5).map((t) => t.name);
    await store.createCampaign({
      name: c.name,
      selection: { runs: { from: c.first, to: c.first + c.count - 1 } },
      runs: Array.from({ length: c.count }, (_, k) => c.first + k),
      tasks: names,
      overrides: [],
      share: 0.5,
      createdAt: Date.now(),
      createdBy: 'bench',
    });
  }
  await store.close();
  bulkInsert(
    partial,
    runs,
    d.tasks.map((t) => t.name),
    mix,
    campaigns,
  );
  const filled = await createSqliteStore(partial, { logger: silentLogger() });
  await refreshExpectations(filled, d);
  await filled.close();
  const db = new Database(partial, { readonly: true });
  try {
    await checkCounts((sql) => db.prepare(sql).all() as Record<string, unknown>[]);
  } finally {
    db.close();
  }
  renameSync(partial, file);
  rmSync(`${partial}-wal`, { force: true });
  rmSync(`${partial}-shm`, { force: true });
  return file;
}

function bulkInsert(
  file: string,
  runs: number,
  tasks: readonly string[],
  mix: Mix,
  campaigns: ReturnType<typeof yearCampaigns>,
): void {
  const db = new Database(file);
  // A half-written partial file is thrown away, so no journal and no syncs.
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('temp_store = MEMORY');
  const indexes = db
    .prepare<[], { name: string; sql: string }>(
      `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
       AND tbl_name IN (${BULK_TABLES.map((t) => `'${t}'`).join(', ')})`,
    )
    .all();
  const addRun = db.prepare(
    'INSERT INTO runs (run, fill, start_at, end_at, lumi, type, meta, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const addInstance = db.prepare(
    `INSERT INTO instances (campaign, task, group_key, runs, first_run, status, reason, attempt, config_hash, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'bench', ?, ?)`,
  );
  const addAttempt = db.prepare(
    "INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at) VALUES (?, 1, 'bench', ?)",
  );
  const addMember = db.prepare(
    'INSERT INTO memberships (campaign, task, run, instance_id, status) VALUES (?, ?, ?, ?, ?)',
  );
  const addJob = db.prepare(
    `INSERT INTO jobs (instance_id, campaign, task, job_index, attempt, instance_attempt, status, executor,
       executor_id, log_path, exit_code, fields, created_at, submitted_at, started_at, ended_at)
     VALUES (?, ?, ?, 0, 1, 1, ?, 'local', ?, NULL, ?, ?, ?, ?, ?, ?)`,
  );
  const addEvent = db.prepare(
    `INSERT INTO events (at, entity, entity_id, campaign, task, instance_id, from_state, to_state, actor, pos)
     VALUES (?, 'instance', ?, ?, ?, ?, 'processing', ?, 'bench', ?)`,
  );
  const nextPos = db.prepare('UPDATE feed_counter SET pos = pos + ? WHERE id = 1 RETURNING pos');
  const take = (n: number) => Number(nextPos.pluck().get(n)) - n;

  const instance = (campaign: string, task: string, i: number, age: number, cell: Cell) => {
    const run = FIRST_RUN + i;
    const times = jobTimes(i, cell.job ?? 'idle');
    const id = Number(
      addInstance.run(
        campaign,
        task,
        `run:${run}`,
        `[${run}]`,
        run,
        cell.status,
        cell.reason,
        times.at,
        times.at,
      ).lastInsertRowid,
    );
    addMember.run(campaign, task, run, id, cell.status);
    if (cell.job === null) return;
    addAttempt.run(id, times.at);
    addJob.run(
      id,
      campaign,
      task,
      cell.job,
      String(100_000 + id),
      times.exitCode,
      jobFields(i),
      times.at,
      times.submitted,
      times.started,
      times.ended,
    );
    // Settling events of the last week, for the throughput view.
    if (times.ended !== null && age < 168)
      addEvent.run(times.ended, String(id), campaign, task, id, cell.status, take(1));
  };

  db.transaction(() => {
    for (const { name } of indexes) db.exec(`DROP INDEX ${name}`);
    const first = take(runs);
    for (let i = 0; i < runs; i++) {
      const r = yearRun(i);
      addRun.run(
        r.run,
        r.fill,
        r.start,
        r.end,
        r.lumi,
        r.type,
        JSON.stringify(r.meta),
        first + i + 1,
      );
    }
    for (const [t, name] of tasks.entries())
      for (let i = 0; i < runs; i++)
        instance('prompt', name, i, runs - 1 - i, promptCell(mix, runs - 1 - i, t, FIRST_RUN + i));
    for (const c of campaigns)
      for (let t = c.workflow * 5; t < c.workflow * 5 + 5; t++) {
        const name = tasks[t];
        if (name === undefined) continue;
        for (let k = 0; k < c.count; k++) {
          const i = c.first - FIRST_RUN + k;
          instance(c.name, name, i, Number.POSITIVE_INFINITY, campaignCell(c, k, t, FIRST_RUN + i));
        }
      }
    for (const { sql } of indexes) db.exec(sql);
  })();
  db.close();
}
