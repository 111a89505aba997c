/**
 * Schema for the overview grid at a year of data (100,000 runs × 30 tasks):
 * a filter on a run's global status or on one task's status must be an index
 * range, never a scan of every run. Triggers keep the derived rows in the
 * transaction of every change, so they never disagree with the instances,
 * whichever code path (or process) wrote them.
 *
 * - `memberships.status` mirrors its instance's status: `(campaign, task,
 *   status, run)` answers "runs where task X failed", in run order, and
 *   `(campaign, run, task, status, instance_id)` gives a page's cells.
 * - `run_status` has one row per (campaign, run): the prompt campaign gets
 *   every run, a reprocessing campaign its selected runs, and any run an
 *   instance covers. It counts the instances covering the run (`total`, of
 *   which `pending` are new/waiting/processing and `failed`), and `expected`,
 *   the number of tasks that apply to the run. Which tasks apply depends on
 *   the deployment, which the store does not know: the overview computes it
 *   (`setRunExpectations`) for rows where it is NULL, and a change to the run
 *   sets it back to NULL. -1 means "none applies yet" (a run still going on).
 * - The global status is a generated column of these counts: failed when any
 *   instance failed, done when every applicable task has a done instance,
 *   processing otherwise (also while `expected` is unknown).
 */
export const OVERVIEW_MIGRATION_SQL = `
ALTER TABLE memberships ADD COLUMN status TEXT NOT NULL DEFAULT 'new';
UPDATE memberships SET status = (SELECT i.status FROM instances i WHERE i.id = memberships.instance_id);
CREATE INDEX memberships_by_status ON memberships (campaign, task, status, run);
-- The cells of a page of runs straight from the index (status included), with no
-- lookup per cell; it serves every query the index it replaces served.
DROP INDEX memberships_by_run;
CREATE INDEX memberships_by_run ON memberships (campaign, run, task, status, instance_id);

CREATE TABLE run_status (
  campaign TEXT NOT NULL,
  run INTEGER NOT NULL,
  total INTEGER NOT NULL DEFAULT 0,
  pending INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  expected INTEGER,
  status TEXT GENERATED ALWAYS AS (
    CASE WHEN failed > 0 THEN 'failed'
         WHEN expected >= 0 AND pending = 0 AND total >= expected THEN 'done'
         ELSE 'processing' END) VIRTUAL,
  PRIMARY KEY (campaign, run)
) WITHOUT ROWID;
CREATE INDEX run_status_by_status ON run_status (campaign, status, run);
CREATE INDEX run_status_by_run ON run_status (run);
CREATE INDEX run_status_unknown ON run_status (campaign, run) WHERE expected IS NULL;
CREATE INDEX runs_by_fill ON runs (fill, run);

INSERT INTO run_status (campaign, run) SELECT 'prompt', run FROM runs;
INSERT INTO run_status (campaign, run, total, pending, failed)
  SELECT campaign, run, COUNT(*), SUM(status IN ('new', 'waiting', 'processing')), SUM(status = 'failed')
  FROM memberships GROUP BY campaign, run
  ON CONFLICT (campaign, run) DO UPDATE SET
    total = excluded.total, pending = excluded.pending, failed = excluded.failed;
INSERT INTO run_status (campaign, run)
  SELECT c.name, j.value FROM campaigns c, json_each(c.runs) j WHERE true
  ON CONFLICT (campaign, run) DO NOTHING;

CREATE TRIGGER run_status_new_run AFTER INSERT ON runs BEGIN
  INSERT INTO run_status (campaign, run) VALUES ('prompt', NEW.run)
    ON CONFLICT (campaign, run) DO NOTHING;
END;
CREATE TRIGGER run_status_changed_run AFTER UPDATE ON runs BEGIN
  UPDATE run_status SET expected = NULL WHERE run = NEW.run;
END;
CREATE TRIGGER run_status_new_campaign AFTER INSERT ON campaigns BEGIN
  INSERT INTO run_status (campaign, run) SELECT NEW.name, value FROM json_each(NEW.runs) WHERE true
    ON CONFLICT (campaign, run) DO NOTHING;
END;
CREATE TRIGGER run_status_new_member AFTER INSERT ON memberships BEGIN
  INSERT INTO run_status (campaign, run, total, pending, failed)
    VALUES (NEW.campaign, NEW.run, 1, NEW.status IN ('new', 'waiting', 'processing'), NEW.status = 'failed')
    ON CONFLICT (campaign, run) DO UPDATE SET
      total = total + 1, pending = pending + excluded.pending, failed = failed + excluded.failed;
END;
CREATE TRIGGER run_status_instance AFTER UPDATE OF status ON instances
  WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE memberships SET status = NEW.status
    WHERE campaign = NEW.campaign AND task = NEW.task AND run IN (SELECT value FROM json_each(NEW.runs));
  UPDATE run_status SET
      pending = pending + (NEW.status IN ('new', 'waiting', 'processing')) - (OLD.status IN ('new', 'waiting', 'processing')),
      failed = failed + (NEW.status = 'failed') - (OLD.status = 'failed')
    WHERE campaign = NEW.campaign AND run IN (SELECT value FROM json_each(NEW.runs));
END;

-- The search box: case-insensitive substring of a run's type and metadata
-- values, by trigrams, so rare text is found without reading every run.
CREATE VIRTUAL TABLE run_text USING fts5(text, tokenize = 'trigram');
INSERT INTO run_text (rowid, text)
  SELECT run, COALESCE(type, '') || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(meta)), '') FROM runs;
CREATE TRIGGER run_text_new_run AFTER INSERT ON runs BEGIN
  INSERT INTO run_text (rowid, text) VALUES (NEW.run,
    COALESCE(NEW.type, '') || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(NEW.meta)), ''));
END;
CREATE TRIGGER run_text_changed_run AFTER UPDATE OF type, meta ON runs BEGIN
  DELETE FROM run_text WHERE rowid = OLD.run;
  INSERT INTO run_text (rowid, text) VALUES (NEW.run,
    COALESCE(NEW.type, '') || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(NEW.meta)), ''));
END;

-- Throughput over time: instances settling, per task, without reading a year of events.
CREATE INDEX events_settled ON events (campaign, at, task, to_state)
  WHERE entity = 'instance' AND to_state IN ('done', 'failed');
`;
