/**
 * Instances per (campaign, task, status) and jobs per (campaign, executor,
 * status), kept by triggers in the transaction of every insert and status
 * change: `/metrics` reads a few hundred rows at each scrape instead of
 * grouping a year of instances and jobs, which took seconds at 3 million and
 * held the process, and a campaign's counts are their sum over its tasks
 * (migration 11 dropped the `campaign_counts` that migration 7 kept beside). `name` is the task
 * of an instance row, the executor of a job row (a job's executor never
 * changes once created).
 */
export const STATUS_COUNTS_MIGRATION_SQL = `
CREATE TABLE status_counts (
  kind TEXT NOT NULL CHECK (kind IN ('instance', 'job')),
  campaign TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (kind, campaign, name, status)
) WITHOUT ROWID;
INSERT INTO status_counts (kind, campaign, name, status, n)
  SELECT 'instance', campaign, task, status, COUNT(*) FROM instances GROUP BY campaign, task, status;
INSERT INTO status_counts (kind, campaign, name, status, n)
  SELECT 'job', campaign, executor, status, COUNT(*) FROM jobs GROUP BY campaign, executor, status;

CREATE TRIGGER status_counts_new_instance AFTER INSERT ON instances BEGIN
  INSERT INTO status_counts (kind, campaign, name, status, n) VALUES ('instance', NEW.campaign, NEW.task, NEW.status, 1)
    ON CONFLICT (kind, campaign, name, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER status_counts_instance AFTER UPDATE OF status ON instances
  WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE status_counts SET n = n - 1
    WHERE kind = 'instance' AND campaign = OLD.campaign AND name = OLD.task AND status = OLD.status;
  INSERT INTO status_counts (kind, campaign, name, status, n) VALUES ('instance', NEW.campaign, NEW.task, NEW.status, 1)
    ON CONFLICT (kind, campaign, name, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER status_counts_new_job AFTER INSERT ON jobs BEGIN
  INSERT INTO status_counts (kind, campaign, name, status, n) VALUES ('job', NEW.campaign, NEW.executor, NEW.status, 1)
    ON CONFLICT (kind, campaign, name, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER status_counts_job AFTER UPDATE OF status ON jobs
  WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE status_counts SET n = n - 1
    WHERE kind = 'job' AND campaign = OLD.campaign AND name = OLD.executor AND status = OLD.status;
  INSERT INTO status_counts (kind, campaign, name, status, n) VALUES ('job', NEW.campaign, NEW.executor, NEW.status, 1)
    ON CONFLICT (kind, campaign, name, status) DO UPDATE SET n = n + 1;
END;
`;

/** What `statusCounts` reads: deleted campaigns left the lists, so they leave the counts too. */
export const STATUS_COUNTS_READ_SQL = `
SELECT kind, campaign, name, status, n FROM status_counts
WHERE n <> 0 AND campaign NOT IN (SELECT name FROM campaigns WHERE state = 'deleted')
ORDER BY kind, campaign, name, status`;
