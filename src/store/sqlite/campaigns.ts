import { CampaignExistsError } from '../../errors.ts';
import type { Campaign, CampaignCounts, RunSelection } from '../../model/campaign.ts';
import { INSTANCE_STATUSES, JOB_STATUSES, type Run } from '../../model/types.ts';
import { campaignEvent } from '../records.ts';
import { RUN_COLUMNS, type RunRow, toRun } from './rows.ts';
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
}

const COLUMNS = 'name, selection, runs, tasks, overrides, share, created_at, created_by';

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
  };
}

/** Campaigns, their progress counts, and the run selection that feeds a new one. */
export function campaignOps(db: Db, writeEvent: (e: NewEvent) => number) {
  const byName = db.prepare<[string], CampaignRow>(
    `SELECT ${COLUMNS} FROM campaigns WHERE name = ?`,
  );
  const all = db.prepare<[], CampaignRow>(
    `SELECT ${COLUMNS} FROM campaigns ORDER BY created_at, name`,
  );
  const names = db
    .prepare<[], string>('SELECT name FROM campaigns ORDER BY created_at, name')
    .pluck();
  const insert = db.prepare<[string, string, string, string, string, number, number, string]>(
    `INSERT INTO campaigns (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
  );
  const instanceCounts = db.prepare<[string], { status: string; n: number }>(
    'SELECT status, COUNT(*) AS n FROM instances WHERE campaign = ? GROUP BY status',
  );
  const jobCounts = db.prepare<[string], { status: string; n: number }>(
    'SELECT status, COUNT(*) AS n FROM jobs WHERE campaign = ? GROUP BY status',
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
    return c;
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
    campaignCounts: (name: string): CampaignCounts => {
      const instances = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, 0]));
      for (const r of instanceCounts.all(name)) instances[r.status] = r.n;
      const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
      for (const r of jobCounts.all(name)) jobs[r.status] = r.n;
      return { instances, jobs } as CampaignCounts;
    },
  };
}
