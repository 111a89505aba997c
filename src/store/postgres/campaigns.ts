import { CampaignExistsError } from '../../errors.ts';
import type { Campaign, CampaignCounts } from '../../model/campaign.ts';
import { INSTANCE_STATUSES, JOB_STATUSES } from '../../model/types.ts';
import { campaignEvent } from '../records.ts';
import type { Db } from './db.ts';
import { writeEvents } from './writers.ts';

const COLUMNS = `name, selection, runs, tasks, overrides, share, created_at AS "createdAt", created_by AS "createdBy"`;

/** Campaigns and their progress counts. */
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
        return c;
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
        `SELECT ${COLUMNS} FROM campaigns ORDER BY created_at, name`,
      ),
    campaignNames: async (): Promise<string[]> =>
      (
        await db.query<{ name: string }>(
          'campaignNames',
          'SELECT name FROM campaigns ORDER BY created_at, name',
        )
      ).map((r) => r.name),
    campaignCounts: async (name: string): Promise<CampaignCounts> => {
      const rows = await db.query<{ kind: 'instance' | 'job'; status: string; n: number }>(
        'campaignCounts',
        `SELECT 'instance' AS kind, status, count(*) AS n FROM instances WHERE campaign = $1 GROUP BY status
         UNION ALL
         SELECT 'job', status, count(*) FROM jobs WHERE campaign = $1 GROUP BY status`,
        [name],
      );
      const instances: Record<string, number> = Object.fromEntries(
        INSTANCE_STATUSES.map((s) => [s, 0]),
      );
      const jobs: Record<string, number> = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
      for (const r of rows) (r.kind === 'instance' ? instances : jobs)[r.status] = r.n;
      return { instances, jobs } as CampaignCounts;
    },
  };
}
