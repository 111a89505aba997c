/**
 * Campaign control and progress counts kept as they change.
 *
 * - A campaign has a `state` (active, cancelled, deleted) and a `revision`
 *   that grows at each change after creation, so the engine re-reads only
 *   campaigns that changed. An extended run list gets its overview rows as a
 *   new campaign's does.
 * - `campaign_counts` holds, per campaign, the number of instances and of
 *   jobs in each status. Triggers keep it in the transaction of every insert
 *   and status change, whichever code path (or process) wrote them, so
 *   reading a campaign's progress costs a few rows at any store size
 *   instead of a count over a year of instances and jobs.
 */
export const CAMPAIGN_CONTROL_MIGRATION_SQL = `
ALTER TABLE campaigns ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
  CHECK (state IN ('active', 'cancelled', 'deleted'));
ALTER TABLE campaigns ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER run_status_extended_campaign AFTER UPDATE OF runs ON campaigns BEGIN
  INSERT INTO run_status (campaign, run) SELECT NEW.name, value FROM json_each(NEW.runs) WHERE true
    ON CONFLICT (campaign, run) DO NOTHING;
END;

CREATE TABLE campaign_counts (
  campaign TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('instance', 'job')),
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (campaign, kind, status)
) WITHOUT ROWID;
INSERT INTO campaign_counts (campaign, kind, status, n)
  SELECT campaign, 'instance', status, COUNT(*) FROM instances GROUP BY campaign, status;
INSERT INTO campaign_counts (campaign, kind, status, n)
  SELECT campaign, 'job', status, COUNT(*) FROM jobs GROUP BY campaign, status;

CREATE TRIGGER campaign_counts_new_instance AFTER INSERT ON instances BEGIN
  INSERT INTO campaign_counts (campaign, kind, status, n) VALUES (NEW.campaign, 'instance', NEW.status, 1)
    ON CONFLICT (campaign, kind, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER campaign_counts_instance AFTER UPDATE OF status ON instances
  WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE campaign_counts SET n = n - 1 WHERE campaign = OLD.campaign AND kind = 'instance' AND status = OLD.status;
  INSERT INTO campaign_counts (campaign, kind, status, n) VALUES (NEW.campaign, 'instance', NEW.status, 1)
    ON CONFLICT (campaign, kind, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER campaign_counts_new_job AFTER INSERT ON jobs BEGIN
  INSERT INTO campaign_counts (campaign, kind, status, n) VALUES (NEW.campaign, 'job', NEW.status, 1)
    ON CONFLICT (campaign, kind, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER campaign_counts_job AFTER UPDATE OF status ON jobs
  WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE campaign_counts SET n = n - 1 WHERE campaign = OLD.campaign AND kind = 'job' AND status = OLD.status;
  INSERT INTO campaign_counts (campaign, kind, status, n) VALUES (NEW.campaign, 'job', NEW.status, 1)
    ON CONFLICT (campaign, kind, status) DO UPDATE SET n = n + 1;
END;
`;
