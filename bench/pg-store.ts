import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { refreshExpectations } from '../src/engine/expectations.ts';
import { silentLogger } from '../src/logger.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { MIGRATIONS } from '../src/store/postgres/migrations.ts';
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

const exec = promisify(execFile);
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
/** Bump with `api-store.ts`'s when the year changes. */
const FILL_VERSION = 2;
const SCHEMA = Math.max(...MIGRATIONS.map((m) => m.version));
/** The PostgreSQL schema the year lives in, in the dump and in every copy. */
export const YEAR_SCHEMA = 'year';
const BULK_TABLES = ['instances', 'memberships', 'jobs', 'events', 'instance_attempts'];
const CHUNK = 20_000;

/**
 * The year of `year.ts` on PostgreSQL, as a `pg_dump` archive in bench/out/
 * keyed by the schema and fill versions; `server` is
 * `postgres://USER@HOST:PORT/DB` (password from PGPASSWORD), where a
 * scratch database is filled and dropped.
 *
 * As on SQLite, the store is created and migrated by the backend itself and
 * its campaigns by `createCampaign`; then one transaction writes the rows,
 * 20,000 instances a statement (arrays unnested server-side, with their
 * memberships, attempts and jobs in the same statement), the schema's
 * triggers keeping the derived rows but for the counters (`COUNTS`), the
 * secondary indexes of the bulk tables rebuilt once at the end from their
 * own definitions. The engine's `refreshExpectations` and a full count
 * check follow.
 */
export async function pgYearDump(
  server: string,
  runs: number,
  tasks: number,
  mix: Mix,
): Promise<string> {
  const file = join(OUT, `pg-year-${mix}-${runs}x${tasks}-s${SCHEMA}f${FILL_VERSION}.dump`);
  if (existsSync(file)) return file;
  mkdirSync(OUT, { recursive: true });
  const name = `autoctrl_year_fill_${process.pid}`;
  await psql(server, `CREATE DATABASE ${name}`);
  try {
    const url = new URL(server);
    url.pathname = `/${name}`;
    const d = deployment(OUT, yearTasks(tasks));
    const campaigns = yearCampaigns(runs, tasks);
    const storeUrl = `${url.href}?schema=${YEAR_SCHEMA}`;
    const store = await createPostgresStore(storeUrl, { logger: silentLogger() });
    try {
      await refreshExpectations(store, d);
      for (const c of campaigns) {
        await store.createCampaign({
          name: c.name,
          selection: { runs: { from: c.first, to: c.first + c.count - 1 } },
          runs: Array.from({ length: c.count }, (_, k) => c.first + k),
          tasks: d.tasks.slice(c.workflow * 5, c.workflow * 5 + 5).map((t) => t.name),
          overrides: [],
          share: 0.5,
          createdAt: Date.now(),
          createdBy: 'bench',
        });
      }
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: url.href });
    await client.connect();
    try {
      await client.query(`SET search_path = ${YEAR_SCHEMA}`);
      await bulkInsert(
        client,
        runs,
        d.tasks.map((t) => t.name),
        mix,
        campaigns,
      );
      const filled = await createPostgresStore(storeUrl, { logger: silentLogger() });
      try {
        await refreshExpectations(filled, d);
      } finally {
        await filled.close();
      }
      await checkCounts(async (sql) => (await client.query(sql)).rows);
    } finally {
      await client.end();
    }
    const partial = `${file}.${process.pid}.partial`;
    await exec('pg_dump', ['-Fc', '-Z', '1', '-n', YEAR_SCHEMA, '-f', partial, url.href]);
    renameSync(partial, file);
  } finally {
    await psql(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return file;
}

/**
 * Restores the dump into the (new, empty) database at `db` and returns the
 * store URL of the copy. Then `VACUUM ANALYZE`: a year-old production
 * database has statistics and a visibility map from autovacuum, which a
 * fresh restore lacks until autovacuum comes round.
 */
export async function restoreYear(dump: string, db: string): Promise<string> {
  // The dump holds the store's schema only; the extension its search index uses lives in public.
  await psql(db, 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
  await exec('pg_restore', ['-j', '2', '--no-owner', '-d', db, dump]);
  await psql(db, 'VACUUM ANALYZE');
  return `${db}${db.includes('?') ? '&' : '?'}schema=${YEAR_SCHEMA}`;
}

function psql(url: string, sql: string): Promise<unknown> {
  return exec('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]);
}

interface Chunk {
  campaign: string[];
  task: string[];
  run: number[];
  status: string[];
  reason: (string | null)[];
  at: number[];
  job: (string | null)[];
  fields: string[];
  submitted: number[];
  started: number[];
  ended: (number | null)[];
  exit: (number | null)[];
}

/**
 * The row triggers that add one to a counter per row inserted cost about
 * 0.2 ms each on PostgreSQL, 80 % of the fill: they are off during the bulk
 * insert (only they: every other trigger, foreign keys included, still
 * runs) and their counts are added after in one statement each, with the
 * triggers' own rules (the status counts' shard is the row id modulo 16).
 * `checkCounts` then compares every counter with a full count.
 */
const COUNTING_TRIGGERS = [
  ['memberships', 'run_status_of_member'],
  // Each row's upsert rewrites one of a few hot rows, whose versions pile up within the one
  // transaction: a 20,000-instance chunk took 2 minutes after 45 minutes of filling.
  ['instances', 'status_counts_new_instance'],
  ['jobs', 'status_counts_new_job'],
] as const;

const COUNTS = [
  ...(
    [
      ['instance', 'task', 'instances'],
      ['job', 'executor', 'jobs'],
    ] as const
  ).map(
    ([
      kind,
      name,
      table,
    ]) => `INSERT INTO status_counts AS x (kind, campaign, name, status, shard, n)
       SELECT '${kind}', campaign, ${name}, status, (id % 16)::smallint, count(*) FROM ${table} GROUP BY 2, 3, 4, 5
       ON CONFLICT (kind, campaign, name, status, shard) DO UPDATE SET n = x.n + excluded.n`,
  ),
  `INSERT INTO run_status AS s (campaign, run, total, pending, failed)
     SELECT campaign, run, count(*), count(*) FILTER (WHERE status IN ('new', 'waiting', 'processing')),
       count(*) FILTER (WHERE status = 'failed')
     FROM memberships GROUP BY campaign, run
     ON CONFLICT (campaign, run) DO UPDATE SET
       total = s.total + excluded.total, pending = s.pending + excluded.pending, failed = s.failed + excluded.failed`,
];

const INSERT_CHUNK = `
WITH src AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
      $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::int[])
    AS s (campaign, task, run, status, reason, at, job, fields, submitted, started, ended, exit_code)
), ins AS (
  INSERT INTO instances (campaign, task, group_key, runs, first_run, status, reason, attempt, config_hash, created_at, updated_at)
  SELECT campaign, task, 'run:' || run, ARRAY[run], run, status, reason, 1, 'bench', at, at FROM src
  RETURNING id, campaign, task, first_run, status
), matched AS (
  SELECT ins.id, src.* FROM ins JOIN src
    ON src.campaign = ins.campaign AND src.task = ins.task AND src.run = ins.first_run
), mem AS (
  INSERT INTO memberships (campaign, task, run, instance_id, status)
  SELECT campaign, task, run, id, status FROM matched
), att AS (
  INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at)
  SELECT id, 1, 'bench', at FROM matched WHERE job IS NOT NULL
)
INSERT INTO jobs (instance_id, campaign, task, job_index, attempt, instance_attempt, status, executor,
  executor_id, exit_code, fields, created_at, submitted_at, started_at, ended_at)
SELECT id, campaign, task, 0, 1, 1, job, 'local', (100000 + id)::text, exit_code, fields::jsonb,
  at, submitted, started, ended
FROM matched WHERE job IS NOT NULL`;

async function bulkInsert(
  client: pg.Client,
  runs: number,
  tasks: readonly string[],
  mix: Mix,
  campaigns: ReturnType<typeof yearCampaigns>,
): Promise<void> {
  await client.query('BEGIN');
  await client.query("SET LOCAL maintenance_work_mem = '512MB'");
  // The chunk's CTEs have no statistics: a nested loop over 20,000 × 20,000 rows would take hours.
  await client.query('SET LOCAL enable_nestloop = off');
  const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2)
       AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = $1::regnamespace)`,
    [YEAR_SCHEMA, BULK_TABLES],
  );
  for (const { indexname } of indexes) await client.query(`DROP INDEX ${indexname}`);
  for (const [table, trigger] of COUNTING_TRIGGERS)
    await client.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
  const list = Array.from({ length: runs }, (_, i) => yearRun(i));
  await client.query(
    `INSERT INTO runs (run, fill, start_at, end_at, lumi, type, meta)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::text[], $7::text[]::jsonb[])`,
    [
      list.map((r) => r.run),
      list.map((r) => r.fill),
      list.map((r) => r.start),
      list.map((r) => r.end),
      list.map((r) => r.lumi),
      list.map((r) => r.type),
      list.map((r) => JSON.stringify(r.meta)),
    ],
  );
  let chunk = emptyChunk();
  const flush = async () => {
    if (chunk.run.length === 0) return;
    const c = chunk;
    await client.query(INSERT_CHUNK, [
      c.campaign,
      c.task,
      c.run,
      c.status,
      c.reason,
      c.at,
      c.job,
      c.fields,
      c.submitted,
      c.started,
      c.ended,
      c.exit,
    ]);
    chunk = emptyChunk();
  };
  const add = async (campaign: string, task: string, i: number, cell: Cell) => {
    const t = jobTimes(i, cell.job ?? 'idle');
    chunk.campaign.push(campaign);
    chunk.task.push(task);
    chunk.run.push(FIRST_RUN + i);
    chunk.status.push(cell.status);
    chunk.reason.push(cell.reason);
    chunk.at.push(t.at);
    chunk.job.push(cell.job);
    chunk.fields.push(jobFields(i));
    chunk.submitted.push(t.submitted);
    chunk.started.push(t.started);
    chunk.ended.push(t.ended);
    chunk.exit.push(t.exitCode);
    if (chunk.run.length >= CHUNK) await flush();
  };
  for (const [t, name] of tasks.entries())
    for (let i = 0; i < runs; i++)
      await add('prompt', name, i, promptCell(mix, runs - 1 - i, t, FIRST_RUN + i));
  for (const c of campaigns)
    for (let t = c.workflow * 5; t < c.workflow * 5 + 5; t++) {
      const name = tasks[t];
      if (name === undefined) continue;
      for (let k = 0; k < c.count; k++) {
        const i = c.first - FIRST_RUN + k;
        await add(c.name, name, i, campaignCell(c, k, t, FIRST_RUN + i));
      }
    }
  await flush();
  // Settling events of the last week, for the throughput view (as on SQLite).
  await client.query(
    `INSERT INTO events (at, entity, entity_id, campaign, task, instance_id, from_state, to_state, actor)
     SELECT j.ended_at, 'instance', i.id::text, i.campaign, i.task, i.id, 'processing', i.status, 'bench'
     FROM instances i JOIN jobs j ON j.instance_id = i.id
     WHERE i.campaign = 'prompt' AND i.first_run >= $1 AND j.ended_at IS NOT NULL ORDER BY i.id`,
    [FIRST_RUN + runs - 168],
  );
  for (const sql of COUNTS) await client.query(sql);
  for (const [table, trigger] of COUNTING_TRIGGERS)
    await client.query(`ALTER TABLE ${table} ENABLE TRIGGER ${trigger}`);
  for (const { indexdef } of indexes) await client.query(indexdef);
  await client.query('COMMIT');
}

function emptyChunk(): Chunk {
  return {
    campaign: [],
    task: [],
    run: [],
    status: [],
    reason: [],
    at: [],
    job: [],
    fields: [],
    submitted: [],
    started: [],
    ended: [],
    exit: [],
  };
}
