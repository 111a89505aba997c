import type { Run, RunStatus } from '../../model/types.ts';
import type {
  OverviewQuery,
  OverviewRun,
  RunExpectation,
  SettledCount,
  SettledQuery,
  TaskJob,
  TaskJobsQuery,
} from '../overview-contract.ts';
import { JOB_COLUMNS, type JobRow, RUN_COLUMNS, type RunRow, toJob, toRun } from './rows.ts';
import { type Db, StatementCache } from './shared.ts';

const RUN_SELECT = RUN_COLUMNS.split(', ')
  .map((c) => `r.${c}`)
  .join(', ');

/**
 * Ranges of the run numbers that start with `prefix`, ascending: `35` is
 * 35, 350–359, 3500–3599... up to the largest safe integer.
 */
export function runPrefixRanges(prefix: string): Array<[number, number]> {
  if (!/^\d+$/.test(prefix)) return [];
  if (prefix.startsWith('0')) return /^0+$/.test(prefix) && prefix.length === 1 ? [[0, 0]] : [];
  const p = Number(prefix);
  const ranges: Array<[number, number]> = [];
  for (let scale = 1; p * scale <= Number.MAX_SAFE_INTEGER; scale *= 10) {
    ranges.push([p * scale, Math.min((p + 1) * scale - 1, Number.MAX_SAFE_INTEGER)]);
  }
  return ranges;
}

type Driver = 'fill' | 'task' | 'status' | 'text' | 'plain';

/**
 * The index that drives the page: the most selective filter given. `done`
 * is what nearly every run and instance of a year ends as, so a filter on
 * another status narrows far more than one on done. Every driving index ends
 * with the run number, so run bounds (range, prefix, cursor) and the order
 * come from the index itself, whichever drives.
 */
function driverOf(q: OverviewQuery): Driver {
  if (q.fill !== undefined) return 'fill';
  if (q.task !== undefined && q.task.status !== 'done') return 'task';
  if (q.status !== undefined && q.status !== 'done') return 'status';
  if (q.text !== undefined && q.text.length >= 3) return 'text';
  if (q.task !== undefined) return 'task';
  if (q.status !== undefined) return 'status';
  return 'plain';
}

/** SQL and parameters of one page over one run range, driven by one index. */
function pageSql(q: OverviewQuery, lo: number, hi: number): { sql: string; params: unknown[] } {
  const driver = driverOf(q);
  const params: unknown[] = [];
  const where: string[] = [];
  let from: string;
  let k: string;
  // CROSS JOIN fixes the join order, so SQLite cannot pick another driver.
  if (driver === 'task' && q.task !== undefined) {
    from = `memberships m INDEXED BY memberships_by_status
      CROSS JOIN run_status s ON s.campaign = m.campaign AND s.run = m.run
      CROSS JOIN runs r ON r.run = m.run`;
    where.push('m.campaign = ?', 'm.task = ?', 'm.status = ?');
    params.push(q.campaign, q.task.name, q.task.status);
    k = 'm.run';
  } else if (driver === 'text') {
    from = `run_text x CROSS JOIN runs r ON r.run = x.rowid
      CROSS JOIN run_status s ON s.campaign = ? AND s.run = x.rowid`;
    where.push('run_text MATCH ?');
    params.push(q.campaign, `"${(q.text ?? '').replace(/"/g, '""')}"`);
    k = 'x.rowid';
  } else if (driver === 'fill') {
    from = `runs r INDEXED BY runs_by_fill
      CROSS JOIN run_status s ON s.campaign = ? AND s.run = r.run`;
    where.push('r.fill = ?');
    params.push(q.campaign, q.fill);
    k = 'r.run';
  } else {
    // Without a status, the primary key (campaign, run) is the driver.
    const hint = driver === 'status' ? ' INDEXED BY run_status_by_status' : '';
    from = `run_status s${hint} CROSS JOIN runs r ON r.run = s.run`;
    where.push('s.campaign = ?');
    params.push(q.campaign);
    if (driver === 'status') {
      where.push('s.status = ?');
      params.push(q.status);
    }
    k = 's.run';
  }
  if (q.status !== undefined && driver !== 'status') {
    where.push('+s.status = ?');
    params.push(q.status);
  }
  if (q.task !== undefined && driver !== 'task') {
    where.push(
      'EXISTS (SELECT 1 FROM memberships t WHERE t.campaign = s.campaign AND t.task = ? AND t.run = s.run AND t.status = ?)',
    );
    params.push(q.task.name, q.task.status);
  }
  if (q.fill !== undefined && driver !== 'fill') {
    where.push('+r.fill = ?');
    params.push(q.fill);
  }
  if (q.text !== undefined && driver !== 'text') {
    // The same text the trigram index holds; a trigram needs three characters, LIKE does not.
    where.push("(SELECT t.text FROM run_text t WHERE t.rowid = r.run) LIKE ? ESCAPE '\\'");
    params.push(`%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  where.push(`${k} >= ?`, `${k} <= ?`);
  params.push(lo, hi);
  const sql = `SELECT ${RUN_SELECT}, s.status AS run_status FROM ${from}
    WHERE ${where.join(' AND ')} ORDER BY ${k} ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ?`;
  return { sql, params };
}

/** The run ranges a page may take rows from, in the page's order. */
function boundsOf(q: OverviewQuery): Array<[number, number]> {
  let lo = q.from ?? Number.MIN_SAFE_INTEGER;
  let hi = q.to ?? Number.MAX_SAFE_INTEGER;
  if (q.after !== undefined) {
    if (q.order === 'asc') lo = Math.max(lo, q.after + 1);
    else hi = Math.min(hi, q.after - 1);
  }
  const ranges =
    q.runPrefix === undefined ? [[lo, hi] as [number, number]] : runPrefixRanges(q.runPrefix);
  const clipped = ranges
    .map(([a, b]): [number, number] => [Math.max(a, lo), Math.min(b, hi)])
    .filter(([a, b]) => a <= b);
  return q.order === 'asc' ? clipped : clipped.reverse();
}

/** The overview grid's queries and the page's plots over the SQLite schema of migration 3. */
export function overviewOps(db: Db) {
  const cache = new StatementCache(db);
  const unknown = db.prepare<[number], RunRow & { campaign_name: string }>(
    `SELECT s.campaign AS campaign_name, ${RUN_SELECT}
     FROM run_status s INDEXED BY run_status_unknown CROSS JOIN runs r ON r.run = s.run
     WHERE s.expected IS NULL LIMIT ?`,
  );
  const expect = db.prepare<[number, string, number, number, number]>(
    `UPDATE run_status SET expected = ?
     WHERE campaign = ? AND run = ? AND expected IS NULL AND (SELECT seq FROM runs WHERE run = ?) = ?`,
  );
  const reset = db.prepare('UPDATE run_status SET expected = NULL WHERE expected IS NOT NULL');
  const jobs = db.prepare<[string, string, number, number, number], JobRow & { first_run: number }>(
    `SELECT i.first_run, ${JOB_COLUMNS.split(', ')
      .map((c) => `j.${c}`)
      .join(', ')}
     FROM instances i JOIN jobs j ON j.instance_id = i.id AND j.instance_attempt = i.attempt
     WHERE i.id IN (SELECT m.instance_id FROM memberships m
       WHERE m.campaign = ? AND m.task = ? AND m.run >= ? AND m.run <= ? ORDER BY m.run DESC LIMIT ?)
     ORDER BY i.first_run DESC, j.job_index, j.attempt`,
  );
  // The literal entity and to_state conditions are what select the partial index; numbers
  // arrive as REAL, hence the CAST to floor into buckets.
  const settled = db.prepare<
    [number, number, number, number, string, number, number],
    { bucket: number; task: string; status: 'done' | 'failed'; count: number }
  >(
    `SELECT ? + CAST((at - ?) / ? AS INTEGER) * ? AS bucket, task, to_state AS status, COUNT(*) AS count
     FROM events INDEXED BY events_settled
     WHERE entity = 'instance' AND to_state IN ('done', 'failed') AND campaign = ? AND at >= ? AND at < ?
     GROUP BY bucket, task, to_state ORDER BY bucket, task, to_state`,
  );

  const setExpectations = db.transaction((list: readonly RunExpectation[]) => {
    for (const e of list) expect.run(e.expected, e.campaign, e.run, e.run, e.seq);
  });

  function overviewRuns(q: OverviewQuery): OverviewRun[] {
    const out: OverviewRun[] = [];
    for (const [lo, hi] of boundsOf(q)) {
      if (out.length >= q.limit) break;
      const { sql, params } = pageSql(q, lo, hi);
      const rows = cache
        .get<RunRow & { run_status: RunStatus }>(sql)
        .all(...params, q.limit - out.length);
      for (const r of rows) out.push({ run: toRun(r), status: r.run_status });
    }
    return out;
  }

  return {
    overviewRuns,
    runsWithoutExpectation: (limit: number): Array<{ campaign: string; run: Run }> =>
      unknown.all(limit).map((r) => ({ campaign: r.campaign_name, run: toRun(r) })),
    setRunExpectations: (list: readonly RunExpectation[]): void => {
      setExpectations.immediate(list);
    },
    resetRunExpectations: (): void => {
      reset.run();
    },
    taskJobs: (q: TaskJobsQuery): TaskJob[] =>
      jobs
        .all(
          q.campaign,
          q.task,
          q.from ?? Number.MIN_SAFE_INTEGER,
          q.to ?? Number.MAX_SAFE_INTEGER,
          q.limit,
        )
        .map((r) => ({ run: r.first_run, job: toJob(r) })),
    settledCounts: (q: SettledQuery): SettledCount[] =>
      settled.all(q.since, q.since, q.bucketMs, q.bucketMs, q.campaign, q.since, q.until),
  };
}
