import pg from 'pg';
import { StoreSchemaNewerError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { QUEUE_INDEXES_NAME, QUEUE_INDEXES_SQL } from '../queue-indexes.ts';
import type { Db, Sql } from './db.ts';
import { CAMPAIGN_CONTROL_MIGRATION_SQL } from './migration-campaign-control.ts';
import { STATUS_COUNTS_MIGRATION_SQL } from './migration-status-counts.ts';
import { SCHEMA_V1 } from './schema.ts';

/**
 * Numbered schema migrations. A released migration is never edited: a change
 * is a new entry, so every store reaches the same schema by the same path.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: 'initial schema', sql: SCHEMA_V1 },
  {
    version: 2,
    name: 'where a job waits in its batch system',
    sql: `ALTER TABLE jobs ADD COLUMN queue_state text CHECK (queue_state IN ('queued', 'held', 'suspended')),
                      ADD COLUMN queue_since bigint;`,
  },
  {
    version: 3,
    name: 'the configuration each instance attempt ran with',
    // Earlier attempts are not known any more; the current one is (its start time approximated).
    sql: `CREATE TABLE instance_attempts (
  instance_id bigint NOT NULL REFERENCES instances (id),
  attempt integer NOT NULL,
  config_hash text NOT NULL,
  started_at bigint NOT NULL,
  PRIMARY KEY (instance_id, attempt)
);
INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at)
  SELECT id, attempt, config_hash, updated_at FROM instances WHERE config_hash IS NOT NULL;`,
  },
  { version: 4, name: 'campaign control and counts', sql: CAMPAIGN_CONTROL_MIGRATION_SQL },
  {
    version: 5,
    name: 'samples read as time series, and pruned by age',
    sql: `CREATE INDEX job_samples_by_key ON job_samples (key, at, id);
          CREATE INDEX job_samples_by_at ON job_samples (at);`,
  },
  { version: 6, name: 'counts by status for /metrics', sql: STATUS_COUNTS_MIGRATION_SQL },
  { version: 7, name: QUEUE_INDEXES_NAME, sql: QUEUE_INDEXES_SQL },
  {
    version: 8,
    name: "a campaign's counts summed from status_counts",
    // The same changes were counted twice, by two triggers per insert and status change.
    sql: `DROP TRIGGER campaign_counts_new_instance ON instances;
          DROP TRIGGER campaign_counts_instance ON instances;
          DROP TRIGGER campaign_counts_new_job ON jobs;
          DROP TRIGGER campaign_counts_job ON jobs;
          DROP FUNCTION campaign_counts_of();
          DROP FUNCTION campaign_count_add(text, text, text, smallint, integer);
          DROP TABLE campaign_counts;`,
  },
];

const KNOWN = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Applies pending migrations in one transaction under a database-wide
 * advisory lock: controllers starting together take turns (also those of
 * other schemas, which may be creating the shared pg_trgm extension), and
 * the later ones find nothing left to do.
 */
export async function migrate(db: Db, logger: Logger): Promise<{ from: number; to: number }> {
  const { schema, host, port, database } = db.target;
  return db.tx('migrate', async (sql) => {
    await sql.query("SELECT pg_advisory_xact_lock(hashtext('autoctrl:migrate'))");
    await sql.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
    await sql.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
    );
    const found =
      (await sql.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations'))
        .rows[0]?.v ?? 0;
    // An older autoctrl would misread a schema it does not know: refuse before touching anything.
    if (found > KNOWN) {
      throw new StoreSchemaNewerError(`${host}:${port}/${database} schema ${schema}`, found, KNOWN);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue;
      await sql.query(m.sql);
      await sql.query(
        'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now_ms())',
        [m.version, m.name],
      );
      logger.info({ version: m.version, name: m.name, schema }, 'applied store migration');
    }
    await indexSearchText(sql, logger);
    return { from: found, to: KNOWN };
  });
}

/**
 * The overview's search box is a case-insensitive substring match. A trigram
 * index (pg_trgm, a trusted extension) keeps it fast at a year of runs; where
 * the extension cannot be created the match still works, by scanning.
 */
async function indexSearchText(sql: Sql, logger: Logger): Promise<void> {
  const exists = await sql.query(
    "SELECT 1 FROM pg_indexes WHERE indexname = 'runs_search_trgm' AND schemaname = current_schema()",
  );
  if (exists.rows.length > 0) return;
  await sql.query('SAVEPOINT trgm');
  try {
    // In public, not in this store's schema: dropping one store must not drop other stores' indexes.
    await sql.query('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
    const ext = await sql.query<{ schema: string }>(
      "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pg_trgm'",
    );
    const where = ext.rows[0]?.schema ?? 'public';
    await sql.query(
      `CREATE INDEX runs_search_trgm ON runs USING gin (search ${where}.gin_trgm_ops)`,
    );
    await sql.query('RELEASE SAVEPOINT trgm');
  } catch (err) {
    await sql.query('ROLLBACK TO SAVEPOINT trgm');
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'PostgreSQL store: no pg_trgm extension; the overview search scans runs instead of using an index',
    );
  }
}
