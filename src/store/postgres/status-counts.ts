import type { StatusCounts } from '../contract.ts';
import { type StatusCountRow, toStatusCounts } from '../status-counts.ts';
import type { Db } from './db.ts';

/**
 * Deleted campaigns left the lists, so they leave the counts too; the shards
 * are summed. Ordered by code point, as SQLite orders, whatever the database's collation.
 */
const READ = `
SELECT kind, campaign, name, status, sum(n) AS n FROM status_counts
WHERE campaign NOT IN (SELECT name FROM campaigns WHERE state = 'deleted')
GROUP BY kind, campaign, name, status HAVING sum(n) <> 0
ORDER BY kind, campaign COLLATE "C", name COLLATE "C", status COLLATE "C"`;

export function statusCountOps(db: Db) {
  return {
    statusCounts: async (): Promise<StatusCounts> =>
      toStatusCounts(await db.query<StatusCountRow>('statusCounts', READ)),
  };
}
