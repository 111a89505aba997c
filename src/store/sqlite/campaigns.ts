import { CampaignExistsError, CampaignStateError, NotFoundError } from '../../errors.ts';
import type {
  Campaign,
  CampaignChange,
  CampaignCounts,
  CampaignHead,
  CampaignState,
  RunSelection,
} from '../../model/campaign.ts';
import { INSTANCE_STATUSES, JOB_STATUSES, type Run } from '../../model/types.ts';
import {
  campaignChangedEvent,
  campaignEvent,
  jobAfter,
  jobChangedEvent,
  runsToAdd,
  unsettledProblem,
} from '../records.ts';
import { JOB_COLUMNS, type JobRow, RUN_COLUMNS, type RunRow, toJob, toRun } from './rows.ts';
import type { Db, NewEvent } from './shared.ts';

interface CampaignRow {
  name: string;
  selection: string;
  runs: string;
  tasks: string;
  overrides: string;
  share: number;
  created_at: number;
  created_by: string;
  state: CampaignState;
  revision: number;
}

const COLUMNS = 'name, selection, runs, tasks, overrides, share, created_at, created_by';
const READ_COLUMNS = `${COLUMNS}, state, revision`;
const LISTED = "state <> 'deleted'";

function toCampaign(r: CampaignRow): Campaign {
  return {
    name: r.name,
    selection: JSON.parse(r.selection) as Campaign['selection'],
    runs: JSON.parse(r.runs) as number[],
    tasks: JSON.parse(r.tasks) as string[],
    overrides: JSON.parse(r.overrides) as Campaign['overrides'],
    share: r.share,
    createdAt: r.created_at,
    createdBy: r.created_by,
    state: r.state,
    revision: r.revision,
  };
}

/** Campaigns, their progress counts, and the run selection that feeds a new one. */
export function campaignOps(db: Db, writeEvent: (e: NewEvent) => number) {
  const byName = db.prepare<[string], CampaignRow>(
    `SELECT ${READ_COLUMNS} FROM campaigns WHERE name = ?`,
  );
  const all = db.prepare<[], CampaignRow>(
    `SELECT ${READ_COLUMNS} FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`,
  );
  const names = db
    .prepare<[], string>(`SELECT name FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`)
    .pluck();
  const heads = db.prepare<[], CampaignHead>(
    `SELECT name, state, revision FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`,
  );
  const setState = db.prepare<[CampaignState, string]>(
    'UPDATE campaigns SET state = ?, revision = revision + 1 WHERE name = ?',
  );
  const setRuns = db.prepare<[string, string]>(
    'UPDATE campaigns SET runs = ?, revision = revision + 1 WHERE name = ?',
  );
  // Idle and claimed by nobody: no executor has them, and once failed no process may claim them.
  const unclaimedIdle = db.prepare<[string], JobRow & { config_hash: string | null }>(
    `SELECT ${JOB_COLUMNS}, (SELECT i.config_hash FROM instances i WHERE i.id = jobs.instance_id) AS config_hash
     FROM jobs WHERE campaign = ? AND status = 'idle' AND claimed_by IS NULL ORDER BY id`,
  );
  const failJob = db.prepare<[string, number, number]>(
    `UPDATE jobs SET status = 'failed', reason = ?, ended_at = ?, queue_state = NULL, queue_since = NULL
     WHERE id = ? AND status = 'idle' AND claimed_by IS NULL`,
  );
  const insert = db.prepare<[string, string, string, string, string, number, number, string]>(
    `INSERT INTO campaigns (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
  );
  const countRows = db.prepare<[string], { kind: 'instance' | 'job'; status: string; n: number }>(
    `SELECT kind, status, SUM(n) AS n FROM status_counts
     WHERE kind IN ('instance', 'job') AND campaign = ? GROUP BY kind, status`,
  );
  // A NULL parameter switches its condition off, so one statement serves every combination;
  // the run range stays a plain range so the primary key bounds the scan.
  const select = db.prepare<
    [
      number,
      number,
      number | null,
      number | null,
      number | null,
      number | null,
      string | null,
      string | null,
    ],
    RunRow
  >(
    `SELECT ${RUN_COLUMNS} FROM runs
     WHERE end_at IS NOT NULL
       AND run >= ? AND run <= ?
       AND (? IS NULL OR fill = ?)
       AND (? IS NULL OR COALESCE(start_at, end_at) >= ?)
       AND (? IS NULL OR type = ?)
     ORDER BY run`,
  );

  const create = db.transaction((c: Campaign): Campaign => {
    const res = insert.run(
      c.name,
      JSON.stringify(c.selection),
      JSON.stringify(c.runs),
      JSON.stringify(c.tasks),
      JSON.stringify(c.overrides),
      c.share,
      c.createdAt,
      c.createdBy,
    );
    if (res.changes === 0) throw new CampaignExistsError(c.name);
    writeEvent(campaignEvent(c));
    return { ...c, state: 'active', revision: 1 } satisfies Campaign;
  });

  function counts(name: string): CampaignCounts {
    const instances = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, 0]));
    const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
    for (const r of countRows.all(name)) (r.kind === 'instance' ? instances : jobs)[r.status] = r.n;
    return { instances, jobs } as CampaignCounts;
  }

  /** The campaign as stored, unless unknown or deleted. */
  function listed(name: string): Campaign {
    const row = byName.get(name);
    if (row === undefined || row.state === 'deleted') throw new NotFoundError('campaign', name);
    return toCampaign(row);
  }

  const cancel = db.transaction((name: string, change: CampaignChange) => {
    const c = listed(name);
    if (c.state === 'cancelled') return { campaign: c, failedJobs: [] as number[] };
    setState.run('cancelled', name);
    writeEvent(campaignChangedEvent(name, 'cancelled', change, null));
    const jobChange = {
      from: 'idle' as const,
      to: 'failed' as const,
      reason: `campaign ${name} cancelled`,
      by: change.by,
      at: change.at,
    };
    const failedJobs: number[] = [];
    for (const row of unclaimedIdle.all(name)) {
      if (failJob.run(jobChange.reason, change.at, row.id).changes === 0) continue;
      writeEvent(jobChangedEvent(jobAfter(toJob(row), jobChange), jobChange, row.config_hash));
      failedJobs.push(row.id);
    }
    return { campaign: listed(name), failedJobs };
  });

  const extend = db.transaction((name: string, runs: readonly number[], change: CampaignChange) => {
    const c = listed(name);
    const added = runsToAdd(c, runs);
    if (added.length === 0) return { campaign: c, added };
    setRuns.run(JSON.stringify([...c.runs, ...added]), name);
    writeEvent(
      campaignChangedEvent(name, 'extended', change, { added: added.length, runs: added }),
    );
    return { campaign: listed(name), added };
  });

  const remove = db.transaction((name: string, change: CampaignChange) => {
    const c = listed(name);
    const problem = unsettledProblem(c.state ?? 'active', counts(name), name);
    if (problem !== null) throw new CampaignStateError(name, c.state ?? 'active', problem);
    setState.run('deleted', name);
    writeEvent(campaignChangedEvent(name, 'deleted', change, null));
    return toCampaign(byName.get(name) as CampaignRow);
  });

  return {
    selectRuns: (q: RunSelection): Run[] =>
      select
        .all(
          q.from ?? Number.MIN_SAFE_INTEGER,
          q.to ?? Number.MAX_SAFE_INTEGER,
          q.fill ?? null,
          q.fill ?? null,
          q.since ?? null,
          q.since ?? null,
          q.type ?? null,
          q.type ?? null,
        )
        .map(toRun),
    createCampaign: (c: Campaign): Campaign => create.immediate(c),
    getCampaign: (name: string): Campaign | null => {
      const row = byName.get(name);
      return row === undefined ? null : toCampaign(row);
    },
    listCampaigns: (): Campaign[] => all.all().map(toCampaign),
    campaignNames: (): string[] => names.all(),
    campaignHeads: (): CampaignHead[] => heads.all(),
    campaignCounts: counts,
    cancelCampaign: (name: string, change: CampaignChange) => cancel.immediate(name, change),
    extendCampaign: (name: string, runs: readonly number[], change: CampaignChange) =>
      extend.immediate(name, runs, change),
    deleteCampaign: (name: string, change: CampaignChange): Campaign =>
      remove.immediate(name, change),
  };
}
