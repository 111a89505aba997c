/**
 * Instances per (campaign, task, status) and jobs per (campaign, executor,
 * status), kept by triggers (see `sqlite/migration-status-counts.ts` for the
 * semantics; migration 8 dropped `campaign_counts`). Sharded by record id, so several
 * controllers changing one task's instances at once mostly update different
 * rows; within one change the two rows are taken in status order, so two
 * transactions never take them crosswise.
 */
export const STATUS_COUNTS_MIGRATION_SQL = `
CREATE TABLE status_counts (
  kind text NOT NULL CHECK (kind IN ('instance', 'job')),
  campaign text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (kind, campaign, name, status, shard)
);
INSERT INTO status_counts (kind, campaign, name, status, shard, n)
  SELECT 'instance', campaign, task, status, 0, count(*) FROM instances GROUP BY campaign, task, status;
INSERT INTO status_counts (kind, campaign, name, status, shard, n)
  SELECT 'job', campaign, executor, status, 0, count(*) FROM jobs GROUP BY campaign, executor, status;

CREATE FUNCTION status_count_add(k text, c text, nm text, s text, sh smallint, d integer)
  RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
  INSERT INTO status_counts AS x (kind, campaign, name, status, shard, n) VALUES (k, c, nm, s, sh, d)
    ON CONFLICT (kind, campaign, name, status, shard) DO UPDATE SET n = x.n + d;
$$;

CREATE FUNCTION status_counts_of() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  k text := CASE TG_TABLE_NAME WHEN 'instances' THEN 'instance' ELSE 'job' END;
  nm text;
  sh smallint := (NEW.id % 16)::smallint;
BEGIN
  -- Separate statements: a field of the other table would not resolve.
  IF TG_TABLE_NAME = 'instances' THEN nm := NEW.task; ELSE nm := NEW.executor; END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM status_count_add(k, NEW.campaign, nm, NEW.status, sh, 1);
  ELSIF OLD.status < NEW.status THEN
    PERFORM status_count_add(k, OLD.campaign, nm, OLD.status, sh, -1);
    PERFORM status_count_add(k, NEW.campaign, nm, NEW.status, sh, 1);
  ELSE
    PERFORM status_count_add(k, NEW.campaign, nm, NEW.status, sh, 1);
    PERFORM status_count_add(k, OLD.campaign, nm, OLD.status, sh, -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER status_counts_new_instance AFTER INSERT ON instances
  FOR EACH ROW EXECUTE FUNCTION status_counts_of();
CREATE TRIGGER status_counts_instance AFTER UPDATE OF status ON instances
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION status_counts_of();
CREATE TRIGGER status_counts_new_job AFTER INSERT ON jobs
  FOR EACH ROW EXECUTE FUNCTION status_counts_of();
CREATE TRIGGER status_counts_job AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION status_counts_of();
`;
