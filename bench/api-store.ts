import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { refreshExpectations } from '../src/engine/expectations.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus } from '../src/model/types.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { deployment } from '../test/fixtures.ts';
import { benchTasks } from './lib.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
export const FIRST_RUN = 300_000;
const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

/**
 * Status of task `t` (position `pos` in its chain of 5) for the run `age`
 * runs from the newest: a year of done work with a sprinkle of failures, and
 * the last few hundred runs still moving through their chains.
 */
function statusOf(age: number, t: number, pos: number): InstanceStatus {
  if (age < 20) return 'new';
  if (age < 150) return pos < 2 ? 'done' : pos === 2 ? 'processing' : 'waiting';
  if ((age * 31 + t * 7) % 997 === 0) return 'failed';
  return 'done';
}

/**
 * A year of prompt processing: `runs` × `tasks`, every instance with one job
 * (with `allDone`, every instance and job done: a store with nothing to do).
 * Filled with direct SQL inserts into a store created (and so migrated) by
 * `createSqliteStore`: going through the store API as the engine does would
 * take the better part of an hour at 3 million instances. The triggers of
 * the schema still run, so the overview's derived rows are exactly what the
 * engine would have left. Cached in bench/out/ between runs.
 */
export async function apiStore(
  runs = 100_000,
  tasks = 30,
  opts: { allDone?: boolean } = {},
): Promise<string> {
  const file = join(OUT, `${opts.allDone ? 'done' : 'api'}-store-${runs}x${tasks}.db`);
  const statusFor: typeof statusOf = opts.allDone ? () => 'done' : statusOf;
  if (existsSync(file)) return file;
  mkdirSync(OUT, { recursive: true });
  // Per process: two bench runs filling at once must not write into each other's file.
  const partial = `${file}.${process.pid}.partial`;
  const store = await createSqliteStore(partial, { logger: silentLogger() });
  await store.close();
  const db = new Database(partial);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  const names = benchTasks(tasks).map((t) => t.name);
  const addRun = db.prepare(
    'INSERT INTO runs (run, fill, start_at, end_at, lumi, type, meta, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const addInstance = db.prepare(
    `INSERT INTO instances (campaign, task, group_key, runs, first_run, status, attempt, config_hash, created_at, updated_at)
     VALUES ('prompt', ?, ?, ?, ?, ?, 1, 'bench', ?, ?)`,
  );
  const addMember = db.prepare(
    "INSERT INTO memberships (campaign, task, run, instance_id, status) VALUES ('prompt', ?, ?, ?, ?)",
  );
  const addJob = db.prepare(
    `INSERT INTO jobs (instance_id, campaign, task, job_index, attempt, instance_attempt, status, executor,
       executor_id, log_path, exit_code, fields, created_at, submitted_at, started_at, ended_at)
     VALUES (?, 'prompt', ?, 0, 1, 1, ?, 'local', ?, NULL, ?, ?, ?, ?, ?, ?)`,
  );
  const addEvent = db.prepare(
    `INSERT INTO events (at, entity, entity_id, campaign, task, instance_id, from_state, to_state, actor)
     VALUES (?, 'instance', ?, 'prompt', ?, ?, 'processing', ?, 'bench')`,
  );
  db.transaction(() => {
    for (let i = 0; i < runs; i++) {
      const type = i % 50 === 7 ? 'cosmics' : 'collisions';
      const meta = {
        global_tag: `140X_dataRun3_Prompt_v${1 + Math.floor(i / 20_000)}`,
        era: 'Run2024',
      };
      addRun.run(
        FIRST_RUN + i,
        8000 + Math.floor(i / 8),
        T0 + i * HOUR,
        T0 + i * HOUR + 3_000_000,
        50 + (i % 100),
        type,
        JSON.stringify(meta),
        i + 1,
      );
    }
  })();
  const fillTask = db.transaction((t: number, name: string) => {
    for (let i = 0; i < runs; i++) {
      const run = FIRST_RUN + i;
      const age = runs - 1 - i;
      const status = statusFor(age, t, t % 5);
      const at = T0 + i * HOUR + 3_600_000;
      const id = Number(
        addInstance.run(name, `run:${run}`, `[${run}]`, run, status, at, at).lastInsertRowid,
      );
      addMember.run(name, run, id, status);
      if (status === 'new' || status === 'waiting') continue;
      const ended = status === 'done' || status === 'failed';
      const response = 1 - 0.02 * Math.sin(i / 300) - (i % 8) * 0.001;
      addJob.run(
        id,
        name,
        ended ? status : 'running',
        String(100_000 + id),
        ended ? (status === 'done' ? 0 : 1) : null,
        JSON.stringify({ response: Number(response.toFixed(5)), n_events: 1000 + (i % 500) }),
        at,
        at + 1000,
        at + 5000 + (i % 60) * 1000,
        ended ? at + 65_000 + (i % 120) * 1000 : null,
      );
      // Settling events of the last week, for the throughput view.
      if (ended && age < 168) addEvent.run(at + 70_000, String(id), name, id, status);
    }
  });
  for (const [t, name] of names.entries()) fillTask(t, name);
  // One change feed: runs took positions 1..runs, the events come after them, and the counter
  // goes on from there (or the store's next run would take a position already taken).
  db.exec(`UPDATE events SET pos = ${runs} + id WHERE pos IS NULL;
    UPDATE feed_counter SET pos = ${runs} + (SELECT COALESCE(MAX(id), 0) FROM events);`);
  db.close();
  const filled = await createSqliteStore(partial, { logger: silentLogger() });
  await refreshExpectations(filled, deployment(OUT, benchTasks(tasks)));
  await filled.close();
  renameSync(partial, file);
  rmSync(`${partial}-wal`, { force: true });
  rmSync(`${partial}-shm`, { force: true });
  return file;
}
