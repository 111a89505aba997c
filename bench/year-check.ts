/**
 * Checks a bulk-filled store's derived rows against full counts, in SQL both
 * backends speak: the triggers keep `status_counts`, `run_status` and
 * `memberships.status` as rows change, and a fill that bypassed them (or a
 * trigger that missed a path) would leave a store the daemon misreads.
 * Throws with the first disagreements.
 */
/** `status_counts` per (kind, campaign, task or executor, status); PostgreSQL splits each count into shards, which readers sum. */
const STATUS_KEPT =
  '(SELECT kind, campaign, name, status, SUM(n) AS n FROM status_counts GROUP BY kind, campaign, name, status)';

export async function checkCounts(
  query: (sql: string) => Promise<Record<string, unknown>[]> | Record<string, unknown>[],
): Promise<void> {
  const checks: Record<string, string> = {
    'status_counts (instances)': `SELECT i.campaign, i.task, i.status, i.n, c.n AS kept FROM
        (SELECT campaign, task, status, COUNT(*) AS n FROM instances GROUP BY campaign, task, status) i
        LEFT JOIN ${STATUS_KEPT} c ON c.kind = 'instance' AND c.campaign = i.campaign AND c.name = i.task AND c.status = i.status
      WHERE c.n IS NULL OR c.n <> i.n`,
    'status_counts (jobs)': `SELECT j.campaign, j.executor, j.status, j.n, c.n AS kept FROM
        (SELECT campaign, executor, status, COUNT(*) AS n FROM jobs GROUP BY campaign, executor, status) j
        LEFT JOIN ${STATUS_KEPT} c ON c.kind = 'job' AND c.campaign = j.campaign AND c.name = j.executor AND c.status = j.status
      WHERE c.n IS NULL OR c.n <> j.n`,
    'memberships.status': `SELECT m.campaign, m.task, m.run FROM memberships m JOIN instances i ON i.id = m.instance_id
      WHERE m.status <> i.status`,
    run_status: `SELECT s.campaign, s.run, s.total, m.total AS members FROM run_status s LEFT JOIN
        (SELECT campaign, run, COUNT(*) AS total,
           SUM(CASE WHEN status IN ('new', 'waiting', 'processing') THEN 1 ELSE 0 END) AS pending,
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
         FROM memberships GROUP BY campaign, run) m ON m.campaign = s.campaign AND m.run = s.run
      WHERE s.total <> COALESCE(m.total, 0) OR s.pending <> COALESCE(m.pending, 0) OR s.failed <> COALESCE(m.failed, 0)`,
    'run_status.expected': 'SELECT campaign, run FROM run_status WHERE expected IS NULL',
  };
  const wrong: string[] = [];
  for (const [what, sql] of Object.entries(checks)) {
    const rows = await query(`${sql} LIMIT 3`);
    if (rows.length > 0) wrong.push(`${what}: ${JSON.stringify(rows)}`);
  }
  if (wrong.length > 0)
    throw new Error(`the filled store's derived rows disagree with its rows:\n${wrong.join('\n')}`);
}
