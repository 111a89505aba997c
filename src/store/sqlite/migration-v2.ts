/**
 * The store contract's second version on SQLite.
 *
 * - One change-feed order over runs, events and job-field samples: every row
 *   takes its `pos` (a run: its `seq`) from `feed_counter` inside its write
 *   transaction. SQLite has one writer at a time, so this order is commit
 *   order and a reader past a position never misses a later item. Existing
 *   rows are numbered events first, then runs, then samples.
 * - Leases carry an epoch (fencing token) and the time the holder took them.
 * - Claims carry when they were taken and until when they hold;
 *   `submitted_at` is now set when the executor accepted the job.
 */
export const V2_MIGRATION_SQL = `
CREATE TABLE feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), pos INTEGER NOT NULL);

ALTER TABLE events ADD COLUMN pos INTEGER;
UPDATE events SET pos = id;
CREATE UNIQUE INDEX events_by_pos ON events (pos);

UPDATE runs SET seq = seq + (SELECT COALESCE(MAX(id), 0) FROM events);

ALTER TABLE job_samples ADD COLUMN pos INTEGER;
UPDATE job_samples SET pos = rowid
  + (SELECT COALESCE(MAX(id), 0) FROM events) + (SELECT COALESCE(MAX(seq), 0) FROM runs);
CREATE UNIQUE INDEX job_samples_by_pos ON job_samples (pos);

INSERT INTO feed_counter (id, pos) VALUES (1,
  (SELECT COALESCE(MAX(id), 0) FROM events) + (SELECT COALESCE(MAX(seq), 0) FROM runs)
  + (SELECT COALESCE(MAX(rowid), 0) FROM job_samples));

DROP TABLE leases;
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  since INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE jobs ADD COLUMN claimed_at INTEGER;
ALTER TABLE jobs ADD COLUMN claim_expires_at INTEGER;
-- Claims of the first version never expired and named a host: they count as expired now.
UPDATE jobs SET claimed_at = submitted_at, claim_expires_at = 0 WHERE claimed_by IS NOT NULL;
`;
