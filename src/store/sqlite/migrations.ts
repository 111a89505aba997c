import type Database from 'better-sqlite3';
import { StoreSchemaNewerError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { QUEUE_INDEXES_NAME, QUEUE_INDEXES_SQL } from '../queue-indexes.ts';
import { CAMPAIGN_CONTROL_MIGRATION_SQL } from './migration-campaign-control.ts';
import { OVERVIEW_MIGRATION_SQL } from './migration-overview.ts';
import { STATUS_COUNTS_MIGRATION_SQL } from './migration-status-counts.ts';
import { V2_MIGRATION_SQL } from './migration-v2.ts';

/**
 * Numbered schema migrations. A released migration is never edited: a change
 * is a new entry, so every store file reaches the same schema by the same path.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE runs (
  run INTEGER PRIMARY KEY,
  fill INTEGER,
  start_at INTEGER,
  end_at INTEGER,
  lumi REAL,
  type TEXT,
  meta TEXT NOT NULL DEFAULT '{}',
  seq INTEGER NOT NULL UNIQUE
);

CREATE TABLE cursors (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE instances (
  id INTEGER PRIMARY KEY,
  campaign TEXT NOT NULL,
  task TEXT NOT NULL,
  group_key TEXT NOT NULL,
  runs TEXT NOT NULL,
  first_run INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  attempt INTEGER NOT NULL,
  config_hash TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (campaign, task, group_key)
);
-- The engine's per-task scan, people's searches by status, and browsing in run order.
CREATE INDEX instances_by_status ON instances (campaign, task, status);
CREATE INDEX instances_by_campaign_status ON instances (campaign, status, first_run, task);
CREATE INDEX instances_by_first_run ON instances (campaign, first_run, task);

-- One row per (campaign, task, run): the primary key is what forbids a run in
-- two instances of one task; the second index serves the overview grid.
CREATE TABLE memberships (
  campaign TEXT NOT NULL,
  task TEXT NOT NULL,
  run INTEGER NOT NULL,
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  PRIMARY KEY (campaign, task, run)
) WITHOUT ROWID;
CREATE INDEX memberships_by_run ON memberships (campaign, run, instance_id);

CREATE TABLE configs (
  hash TEXT PRIMARY KEY,
  json TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  campaign TEXT NOT NULL,
  task TEXT NOT NULL,
  job_index INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  instance_attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  executor TEXT NOT NULL,
  executor_id TEXT,
  claimed_by TEXT,
  not_before INTEGER,
  input TEXT,
  log_path TEXT,
  exit_code INTEGER,
  reason TEXT,
  fields TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  submitted_at INTEGER,
  started_at INTEGER,
  ended_at INTEGER
);
CREATE INDEX jobs_by_instance ON jobs (instance_id, id);
-- Partial, with status first: the per-pass scan of active jobs reads only them,
-- however many finished jobs a year leaves behind.
CREATE INDEX jobs_active ON jobs (status, executor) WHERE status IN ('idle', 'running');

CREATE TABLE job_samples (
  job_id INTEGER NOT NULL REFERENCES jobs (id),
  key TEXT NOT NULL,
  num REAL,
  text TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX job_samples_by_job ON job_samples (job_id, key, at);

CREATE TABLE outputs (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES jobs (id),
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  path TEXT NOT NULL,
  kind TEXT,
  meta TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX outputs_by_instance ON outputs (instance_id, id);

-- AUTOINCREMENT: ids are never reused, so an event id is a safe resume point.
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  entity TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  campaign TEXT,
  task TEXT,
  instance_id INTEGER,
  from_state TEXT,
  to_state TEXT,
  reason TEXT,
  actor TEXT NOT NULL,
  config_hash TEXT,
  data TEXT
);
CREATE INDEX events_by_instance ON events (instance_id, id);
CREATE INDEX events_by_entity ON events (entity, entity_id, id);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'campaigns',
    sql: `
-- Reprocessing campaigns; prompt is implicit. Runs, tasks and overrides are
-- JSON: written once at creation, read whole by the engine.
CREATE TABLE campaigns (
  name TEXT PRIMARY KEY,
  selection TEXT NOT NULL,
  runs TEXT NOT NULL,
  tasks TEXT NOT NULL,
  overrides TEXT NOT NULL,
  share REAL NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) WITHOUT ROWID;
-- Progress counts per campaign without scanning a year of jobs.
CREATE INDEX jobs_by_campaign ON jobs (campaign, status);
`,
  },
  { version: 3, name: 'overview index', sql: OVERVIEW_MIGRATION_SQL },
  { version: 4, name: 'change feed, fenced leases, expiring claims', sql: V2_MIGRATION_SQL },
  {
    version: 5,
    name: 'where a job waits in its batch system',
    sql: `
ALTER TABLE jobs ADD COLUMN queue_state TEXT CHECK (queue_state IN ('queued', 'held', 'suspended'));
ALTER TABLE jobs ADD COLUMN queue_since INTEGER;
`,
  },
  {
    version: 6,
    name: 'the configuration each instance attempt ran with',
    // Earlier attempts are not known any more; the current one is (its start time approximated).
    sql: `
CREATE TABLE instance_attempts (
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  attempt INTEGER NOT NULL,
  config_hash TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  PRIMARY KEY (instance_id, attempt)
) WITHOUT ROWID;
INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at)
  SELECT id, attempt, config_hash, updated_at FROM instances WHERE config_hash IS NOT NULL;
`,
  },
  { version: 7, name: 'campaign control and counts', sql: CAMPAIGN_CONTROL_MIGRATION_SQL },
  {
    version: 8,
    name: 'samples read as time series, and pruned by age',
    sql: `
CREATE INDEX job_samples_by_key ON job_samples (key, at, pos);
CREATE INDEX job_samples_by_at ON job_samples (at);
`,
  },
  { version: 9, name: 'counts by status for /metrics', sql: STATUS_COUNTS_MIGRATION_SQL },
  { version: 10, name: QUEUE_INDEXES_NAME, sql: QUEUE_INDEXES_SQL },
  {
    version: 11,
    name: "a campaign's counts summed from status_counts",
    // The same changes were counted twice, by two triggers per insert and status change.
    sql: `
DROP TRIGGER campaign_counts_new_instance;
DROP TRIGGER campaign_counts_instance;
DROP TRIGGER campaign_counts_new_job;
DROP TRIGGER campaign_counts_job;
DROP TABLE campaign_counts;
`,
  },
];

/**
 * Applies pending migrations, each in its own `BEGIN IMMEDIATE` transaction
 * that re-checks the version: controllers starting together on one file take
 * turns, and the second finds nothing left to do.
 */
export function migrate(
  db: Database.Database,
  logger: Logger,
  label: string,
): { from: number; to: number } {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = db
    .prepare<[number], 1>('SELECT 1 FROM schema_migrations WHERE version = ?')
    .pluck();
  const record = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const apply = db.transaction((m: (typeof MIGRATIONS)[number]): boolean => {
    if (applied.get(m.version) !== undefined) return false;
    db.exec(m.sql);
    record.run(m.version, m.name, Date.now());
    return true;
  });
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  const found = db
    .prepare<[], number | null>('SELECT MAX(version) FROM schema_migrations')
    .pluck()
    .get();
  // An older autoctrl would misread a schema it does not know: refuse before touching anything.
  if (found != null && found > known) throw new StoreSchemaNewerError(label, found, known);
  for (const m of MIGRATIONS) {
    if (apply.immediate(m))
      logger.info({ version: m.version, name: m.name }, 'applied store migration');
  }
  return { from: found ?? 0, to: known };
}
