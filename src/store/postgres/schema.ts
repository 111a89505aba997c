/**
 * The PostgreSQL schema of the store, version 1. Times are bigint
 * milliseconds since the epoch, as in the model; the store's own clock is
 * `now_ms()`, the server's.
 *
 * The change feed (transactional outbox): `runs`, `events` and `job_samples`
 * carry the id of the transaction that last wrote them (`tx`) and a position
 * from one shared sequence (`pos`, a run's `seq`). A reader takes only rows
 * whose transaction is older than the oldest one still running
 * (`pg_snapshot_xmin`), in `(tx, pos)` order: every row it may still meet
 * later has a larger `tx`, so it never passes over one.
 *
 * The overview tables (`memberships.status`, `run_status`) are kept by
 * triggers in the transaction of every change, whoever writes, with the
 * semantics of the SQLite backend (see `sqlite/migration-overview.ts`).
 */
export const SCHEMA_V1 = `
CREATE SEQUENCE feed_pos;

CREATE FUNCTION now_ms() RETURNS bigint LANGUAGE sql VOLATILE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE TABLE runs (
  run bigint PRIMARY KEY,
  fill bigint,
  start_at bigint,
  end_at bigint,
  lumi double precision,
  type text,
  meta jsonb NOT NULL DEFAULT '{}',
  -- What the overview's search box matches: the type and the metadata values.
  search text NOT NULL DEFAULT '',
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  pos bigint NOT NULL DEFAULT nextval('feed_pos')
);
CREATE INDEX runs_feed ON runs (tx, pos);
CREATE INDEX runs_by_fill ON runs (fill, run);

CREATE TABLE cursors (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE leases (
  name text PRIMARY KEY,
  owner text NOT NULL,
  epoch bigint NOT NULL,
  since bigint NOT NULL,
  expires_at bigint NOT NULL
);

CREATE TABLE instances (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign text NOT NULL,
  task text NOT NULL,
  group_key text NOT NULL,
  runs bigint[] NOT NULL,
  first_run bigint NOT NULL,
  status text NOT NULL,
  reason text,
  attempt integer NOT NULL,
  config_hash text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  UNIQUE (campaign, task, group_key)
);
CREATE INDEX instances_by_status ON instances (campaign, task, status);
CREATE INDEX instances_by_campaign_status ON instances (campaign, status, first_run, task);
CREATE INDEX instances_by_first_run ON instances (campaign, first_run, task);

-- The primary key forbids a run in two instances of one task.
CREATE TABLE memberships (
  campaign text NOT NULL,
  task text NOT NULL,
  run bigint NOT NULL,
  instance_id bigint NOT NULL REFERENCES instances (id),
  status text NOT NULL,
  PRIMARY KEY (campaign, task, run)
);
CREATE INDEX memberships_by_status ON memberships (campaign, task, status, run);
CREATE INDEX memberships_by_run ON memberships (campaign, run, task) INCLUDE (status, instance_id);
CREATE INDEX memberships_by_instance ON memberships (instance_id);

CREATE TABLE configs (hash text PRIMARY KEY, json jsonb NOT NULL);

CREATE TABLE jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id bigint NOT NULL REFERENCES instances (id),
  campaign text NOT NULL,
  task text NOT NULL,
  job_index integer NOT NULL,
  attempt integer NOT NULL,
  instance_attempt integer NOT NULL,
  status text NOT NULL,
  executor text NOT NULL,
  executor_id text,
  claimed_by text,
  claimed_at bigint,
  claim_expires_at bigint,
  not_before bigint,
  input text,
  log_path text,
  exit_code integer,
  reason text,
  fields jsonb NOT NULL DEFAULT '{}',
  created_at bigint NOT NULL,
  submitted_at bigint,
  started_at bigint,
  ended_at bigint
);
CREATE INDEX jobs_by_instance ON jobs (instance_id, id);
-- Partial: the per-pass scan of active jobs reads only them, however many finished jobs a year leaves.
CREATE INDEX jobs_active ON jobs (status, executor) WHERE status IN ('idle', 'running');
CREATE INDEX jobs_by_campaign ON jobs (campaign, status);

CREATE TABLE job_samples (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES jobs (id),
  key text NOT NULL,
  num double precision,
  text text,
  at bigint NOT NULL,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  pos bigint NOT NULL DEFAULT nextval('feed_pos')
);
CREATE INDEX job_samples_by_job ON job_samples (job_id, key, at);
CREATE INDEX job_samples_feed ON job_samples (tx, pos);

CREATE TABLE outputs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES jobs (id),
  instance_id bigint NOT NULL REFERENCES instances (id),
  path text NOT NULL,
  kind text,
  meta jsonb NOT NULL DEFAULT '{}',
  created_at bigint NOT NULL
);
CREATE INDEX outputs_by_instance ON outputs (instance_id, id);

CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  entity text NOT NULL,
  entity_id text NOT NULL,
  campaign text,
  task text,
  instance_id bigint,
  from_state text,
  to_state text,
  reason text,
  actor text NOT NULL,
  config_hash text,
  data jsonb,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  pos bigint NOT NULL DEFAULT nextval('feed_pos')
);
CREATE INDEX events_feed ON events (tx, pos);
CREATE INDEX events_by_instance ON events (instance_id, id);
CREATE INDEX events_by_entity ON events (entity, entity_id, id);
-- Throughput over time: instances settling, per task, without reading a year of events.
CREATE INDEX events_settled ON events (campaign, at, task, to_state)
  WHERE entity = 'instance' AND to_state IN ('done', 'failed');

CREATE TABLE campaigns (
  name text PRIMARY KEY,
  selection jsonb NOT NULL,
  runs jsonb NOT NULL,
  tasks jsonb NOT NULL,
  overrides jsonb NOT NULL,
  share double precision NOT NULL,
  created_at bigint NOT NULL,
  created_by text NOT NULL
);

CREATE TABLE run_status (
  campaign text NOT NULL,
  run bigint NOT NULL,
  total integer NOT NULL DEFAULT 0,
  pending integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  expected integer,
  status text GENERATED ALWAYS AS (
    CASE WHEN failed > 0 THEN 'failed'
         WHEN expected >= 0 AND pending = 0 AND total >= expected THEN 'done'
         ELSE 'processing' END) STORED,
  PRIMARY KEY (campaign, run)
);
CREATE INDEX run_status_by_status ON run_status (campaign, status, run);
CREATE INDEX run_status_by_run ON run_status (run);
CREATE INDEX run_status_unknown ON run_status (campaign, run) WHERE expected IS NULL;

-- Trigger functions resolve names in this schema whoever calls them (psql included).
CREATE FUNCTION runs_before_write() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  NEW.search := coalesce(NEW.type, '') || ' '
    || coalesce((SELECT string_agg(value, ' ') FROM jsonb_each_text(NEW.meta)), '');
  IF TG_OP = 'UPDATE' THEN
    -- A changed run moves to the end of the feed, and its seq with it.
    NEW.tx := pg_current_xact_id();
    NEW.pos := nextval('feed_pos');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER runs_before_write BEFORE INSERT OR UPDATE ON runs
  FOR EACH ROW EXECUTE FUNCTION runs_before_write();

CREATE FUNCTION run_status_of_run() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO run_status (campaign, run) VALUES ('prompt', NEW.run) ON CONFLICT DO NOTHING;
  ELSE
    UPDATE run_status SET expected = NULL WHERE run = NEW.run;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER run_status_of_run AFTER INSERT OR UPDATE ON runs
  FOR EACH ROW EXECUTE FUNCTION run_status_of_run();

CREATE FUNCTION run_status_of_campaign() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO run_status (campaign, run)
    SELECT NEW.name, r::bigint FROM jsonb_array_elements_text(NEW.runs) AS r
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER run_status_of_campaign AFTER INSERT ON campaigns
  FOR EACH ROW EXECUTE FUNCTION run_status_of_campaign();

CREATE FUNCTION run_status_of_member() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO run_status AS s (campaign, run, total, pending, failed)
    VALUES (NEW.campaign, NEW.run, 1,
      (NEW.status IN ('new', 'waiting', 'processing'))::int, (NEW.status = 'failed')::int)
    ON CONFLICT (campaign, run) DO UPDATE SET
      total = s.total + 1, pending = s.pending + excluded.pending, failed = s.failed + excluded.failed;
  RETURN NULL;
END $$;
CREATE TRIGGER run_status_of_member AFTER INSERT ON memberships
  FOR EACH ROW EXECUTE FUNCTION run_status_of_member();

CREATE FUNCTION run_status_of_instance() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE memberships SET status = NEW.status WHERE instance_id = NEW.id;
  UPDATE run_status SET
      pending = pending + (NEW.status IN ('new', 'waiting', 'processing'))::int
                        - (OLD.status IN ('new', 'waiting', 'processing'))::int,
      failed = failed + (NEW.status = 'failed')::int - (OLD.status = 'failed')::int
    WHERE campaign = NEW.campaign AND run = ANY (NEW.runs);
  RETURN NULL;
END $$;
CREATE TRIGGER run_status_of_instance AFTER UPDATE OF status ON instances
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION run_status_of_instance();

-- The cross-process wake-up: one notification per transaction (equal ones fold), sent at commit.
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('autoctrl:' || TG_TABLE_SCHEMA, '');
  RETURN NULL;
END $$;
CREATE TRIGGER runs_notify AFTER INSERT OR UPDATE OR DELETE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
CREATE TRIGGER events_notify AFTER INSERT OR UPDATE OR DELETE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
CREATE TRIGGER job_samples_notify AFTER INSERT OR UPDATE OR DELETE ON job_samples
  FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OR DELETE ON jobs
  FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
`;
