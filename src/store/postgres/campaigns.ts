import { CampaignExistsError, CampaignStateError, NotFoundError } from '../../errors.ts';
import type {
  Campaign,
  CampaignChange,
  CampaignCounts,
  CampaignHead,
} from '../../model/campaign.ts';
import { INSTANCE_STATUSES, JOB_STATUSES, type Job } from '../../model/types.ts';
import {
  campaignChangedEvent,
  campaignEvent,
  jobChangedEvent,
  runsToAdd,
  unsettledProblem,
} from '../records.ts';
import { jobColumns } from './columns.ts';
import type { Db, Sql } from './db.ts';
import { writeEvents } from './writers.ts';

const COLUMNS = `name, selection, runs, tasks, overrides, share, created_at AS "createdAt", created_by AS "createdBy", state, revision`;
const LISTED = "state <> 'deleted'";

// Summed over tasks (executors for jobs) and shards: a few dozen rows per campaign.
const COUNTS = `SELECT kind, status, sum(n) AS n FROM status_counts
  WHERE kind IN ('instance', 'job') AND campaign = $1 GROUP BY kind, status`;

function toCounts(rows: readonly { kind: 'instance' | 'job'; status: string; n: number }[]) {
  const instances: Record<string, number> = Object.fromEntries(
    INSTANCE_STATUSES.map((s) => [s, 0]),
  );
  const jobs: Record<string, number> = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
  for (const r of rows) (r.kind === 'instance' ? instances : jobs)[r.status] = r.n;
  return { instances, jobs } as CampaignCounts;
}

/** The campaign's row locked for a change, unless unknown or deleted. */
async function locked(sql: Sql, name: string): Promise<Campaign> {
  const row = (
    await sql.query<Campaign>(`SELECT ${COLUMNS} FROM campaigns WHERE name = $1 FOR UPDATE`, [name])
  ).rows[0];
  if (row === undefined || row.state === 'deleted') throw new NotFoundError('campaign', name);
  return row;
}

async function setState(sql: Sql, name: string, state: Campaign['state']): Promise<Campaign> {
  const res = await sql.query<Campaign>(
    `UPDATE campaigns SET state = $2, revision = revision + 1 WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, state],
  );
  return res.rows[0] as Campaign;
}

/** Campaigns, their control and their progress counts. */
export function campaignOps(db: Db) {
  return {
    createCampaign: (c: Campaign): Promise<Campaign> =>
      db.tx('createCampaign', async (sql) => {
        const res = await sql.query(
          `INSERT INTO campaigns (name, selection, runs, tasks, overrides, share, created_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING`,
          [
            c.name,
            JSON.stringify(c.selection),
            JSON.stringify(c.runs),
            JSON.stringify(c.tasks),
            JSON.stringify(c.overrides),
            c.share,
            c.createdAt,
            c.createdBy,
          ],
        );
        if (res.rowCount === 0) throw new CampaignExistsError(c.name);
        await writeEvents(sql, [campaignEvent(c)]);
        return { ...c, state: 'active', revision: 1 } satisfies Campaign;
      }),
    getCampaign: async (name: string): Promise<Campaign | null> =>
      (
        await db.query<Campaign>(
          'getCampaign',
          `SELECT ${COLUMNS} FROM campaigns WHERE name = $1`,
          [name],
        )
      )[0] ?? null,
    listCampaigns: (): Promise<Campaign[]> =>
      db.query<Campaign>(
        'listCampaigns',
        `SELECT ${COLUMNS} FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`,
      ),
    campaignNames: async (): Promise<string[]> =>
      (
        await db.query<{ name: string }>(
          'campaignNames',
          `SELECT name FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`,
        )
      ).map((r) => r.name),
    campaignHeads: (): Promise<CampaignHead[]> =>
      db.prepared<CampaignHead>(
        'campaignHeads',
        `SELECT name, state, revision FROM campaigns WHERE ${LISTED} ORDER BY created_at, name`,
      ),
    campaignCounts: async (name: string): Promise<CampaignCounts> =>
      toCounts(await db.query('campaignCounts', COUNTS, [name])),
    cancelCampaign: (name: string, change: CampaignChange) =>
      db.tx('cancelCampaign', async (sql) => {
        const c = await locked(sql, name);
        if (c.state === 'cancelled') return { campaign: c, failedJobs: [] as number[] };
        const campaign = await setState(sql, name, 'cancelled');
        const jobChange = {
          from: 'idle' as const,
          to: 'failed' as const,
          reason: `campaign ${name} cancelled`,
          by: change.by,
          at: change.at,
        };
        // Idle and claimed by nobody: no executor has them, and once failed no process may claim them.
        const failed = (
          await sql.query<Job & { configHash: string | null }>(
            `UPDATE jobs j SET status = 'failed', reason = $2, ended_at = $3, queue_state = NULL, queue_since = NULL
             FROM instances i WHERE i.id = j.instance_id
               AND j.campaign = $1 AND j.status = 'idle' AND j.claimed_by IS NULL
             RETURNING ${jobColumns('j')}, i.config_hash AS "configHash"`,
            [name, jobChange.reason, change.at],
          )
        ).rows.sort((a, b) => a.id - b.id);
        await writeEvents(sql, [
          campaignChangedEvent(name, 'cancelled', change, null),
          ...failed.map(({ configHash, ...job }) => jobChangedEvent(job, jobChange, configHash)),
        ]);
        return { campaign, failedJobs: failed.map((j) => j.id) };
      }),
    extendCampaign: (name: string, runs: readonly number[], change: CampaignChange) =>
      db.tx('extendCampaign', async (sql) => {
        const c = await locked(sql, name);
        const added = runsToAdd(c, runs);
        if (added.length === 0) return { campaign: c, added };
        const res = await sql.query<Campaign>(
          `UPDATE campaigns SET runs = $2, revision = revision + 1 WHERE name = $1 RETURNING ${COLUMNS}`,
          [name, JSON.stringify([...c.runs, ...added])],
        );
        await writeEvents(sql, [
          campaignChangedEvent(name, 'extended', change, { added: added.length, runs: added }),
        ]);
        return { campaign: res.rows[0] as Campaign, added };
      }),
    deleteCampaign: (name: string, change: CampaignChange): Promise<Campaign> =>
      db.tx('deleteCampaign', async (sql) => {
        const c = await locked(sql, name);
        // Counters are read after the lock: a job created later belongs to a campaign no engine runs.
        const counts = toCounts((await sql.query(COUNTS, [name])).rows);
        const problem = unsettledProblem(c.state ?? 'active', counts, name);
        if (problem !== null) throw new CampaignStateError(name, c.state ?? 'active', problem);
        const campaign = await setState(sql, name, 'deleted');
        await writeEvents(sql, [campaignChangedEvent(name, 'deleted', change, null)]);
        return campaign;
      }),
  };
}
