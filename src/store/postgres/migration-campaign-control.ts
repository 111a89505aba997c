/**
 * Campaign control and progress counts kept as they change (see
 * `sqlite/migration-campaign-control.ts` for the semantics).
 *
 * `campaign_counts` is split in 16 shards by record id: several controllers
 * changing jobs of one campaign at once then mostly update different rows,
 * instead of all queueing on one counter row's lock. Readers sum the shards.
 * Within one change the two rows are taken in status order, so two
 * transactions never take them crosswise.
 */
export const CAMPAIGN_CONTROL_MIGRATION_SQL = `
ALTER TABLE campaigns ADD COLUMN state text NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'cancelled', 'deleted')),
  ADD COLUMN revision integer NOT NULL DEFAULT 1;

CREATE TRIGGER run_status_of_extended_campaign AFTER UPDATE OF runs ON campaigns
  FOR EACH ROW WHEN (OLD.runs IS DISTINCT FROM NEW.runs)
  EXECUTE FUNCTION run_status_of_campaign();

CREATE TABLE campaign_counts (
  campaign text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('instance', 'job')),
  status text NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (campaign, kind, status, shard)
);
INSERT INTO campaign_counts (campaign, kind, status, shard, n)
  SELECT campaign, 'instance', status, 0, count(*) FROM instances GROUP BY campaign, status;
INSERT INTO campaign_counts (campaign, kind, status, shard, n)
  SELECT campaign, 'job', status, 0, count(*) FROM jobs GROUP BY campaign, status;

CREATE FUNCTION campaign_count_add(c text, k text, s text, sh smallint, d integer)
  RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
  INSERT INTO campaign_counts AS x (campaign, kind, status, shard, n) VALUES (c, k, s, sh, d)
    ON CONFLICT (campaign, kind, status, shard) DO UPDATE SET n = x.n + d;
$$;

CREATE FUNCTION campaign_counts_of() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  k text := CASE TG_TABLE_NAME WHEN 'instances' THEN 'instance' ELSE 'job' END;
  sh smallint := (NEW.id % 16)::smallint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM campaign_count_add(NEW.campaign, k, NEW.status, sh, 1);
  ELSIF OLD.status < NEW.status THEN
    PERFORM campaign_count_add(OLD.campaign, k, OLD.status, sh, -1);
    PERFORM campaign_count_add(NEW.campaign, k, NEW.status, sh, 1);
  ELSE
    PERFORM campaign_count_add(NEW.campaign, k, NEW.status, sh, 1);
    PERFORM campaign_count_add(OLD.campaign, k, OLD.status, sh, -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER campaign_counts_new_instance AFTER INSERT ON instances
  FOR EACH ROW EXECUTE FUNCTION campaign_counts_of();
CREATE TRIGGER campaign_counts_instance AFTER UPDATE OF status ON instances
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION campaign_counts_of();
CREATE TRIGGER campaign_counts_new_job AFTER INSERT ON jobs
  FOR EACH ROW EXECUTE FUNCTION campaign_counts_of();
CREATE TRIGGER campaign_counts_job AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION campaign_counts_of();
`;
