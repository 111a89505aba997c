import type { RunSelection } from '../../model/campaign.ts';
import type { Run, RunInput } from '../../model/types.ts';
import type { CursorWrite, Fence } from '../contract.ts';
import { type NewEvent, runEvent } from '../records.ts';
import { applyRunInput, canonicalMeta, foldRunInputs, runDiff } from '../run-changes.ts';
import { limitOf, runColumns } from './columns.ts';
import { checkFence, writeCursor } from './coordination.ts';
import { type Db, RetryTransaction } from './db.ts';
import { writeEvents } from './writers.ts';

const RUNS = `SELECT ${runColumns('r')} FROM runs r`;

/** Rows for `jsonb_to_recordset`: the columns a run write sets. */
const rowsOf = (runs: readonly Run[]) =>
  JSON.stringify(
    runs.map((r) => ({
      run: r.run,
      fill: r.fill,
      start_at: r.start,
      end_at: r.end,
      lumi: r.lumi,
      type: r.type,
      meta: JSON.parse(canonicalMeta(r.meta)) as unknown,
    })),
  );
const RECORD = `jsonb_to_recordset($1::jsonb) AS x(run bigint, fill bigint, start_at bigint, end_at bigint,
  lumi double precision, type text, meta jsonb)`;

/** Runs, and the run selection that feeds a new campaign. */
export function runOps(db: Db) {
  return {
    upsertRuns: async (
      inputs: readonly RunInput[],
      by: string,
      opts: { cursor?: CursorWrite; fence?: Fence } = {},
    ): Promise<{ added: number[]; changed: number[] }> => {
      const folded = foldRunInputs(inputs);
      return db.tx('upsertRuns', async (sql) => {
        await checkFence(sql, opts.fence);
        await writeCursor(sql, opts.cursor);
        const known = new Map(
          (
            await sql.query<Run>(`${RUNS} WHERE r.run = ANY($1) FOR UPDATE`, [
              folded.map((i) => i.run),
            ])
          ).rows.map((r) => [r.run, r]),
        );
        const added: Run[] = [];
        const changed: Run[] = [];
        const events: NewEvent[] = [];
        const at = Date.now();
        for (const input of folded) {
          const old = known.get(input.run);
          const next = applyRunInput(old, input);
          const changes = old === undefined ? null : runDiff(old, next);
          if (changes !== null && Object.keys(changes).length === 0) continue;
          (changes === null ? added : changed).push(next);
          events.push(runEvent(next.run, changes, by, at));
        }
        if (added.length > 0) {
          const res = await sql.query(
            `INSERT INTO runs (run, fill, start_at, end_at, lumi, type, meta)
             SELECT run, fill, start_at, end_at, lumi, type, meta FROM ${RECORD}
             ON CONFLICT (run) DO NOTHING`,
            [rowsOf(added)],
          );
          // Another writer added one of these runs since the read: read again, as a change.
          if (res.rowCount !== added.length) throw new RetryTransaction();
        }
        if (changed.length > 0) {
          await sql.query(
            `UPDATE runs SET fill = x.fill, start_at = x.start_at, end_at = x.end_at, lumi = x.lumi,
               type = x.type, meta = x.meta
             FROM ${RECORD} WHERE runs.run = x.run`,
            [rowsOf(changed)],
          );
        }
        await writeEvents(sql, events);
        return { added: added.map((r) => r.run), changed: changed.map((r) => r.run) };
      });
    },
    getRun: async (run: number): Promise<Run | null> =>
      (await db.query<Run>('getRun', `${RUNS} WHERE r.run = $1`, [run]))[0] ?? null,
    getRuns: (runs: readonly number[]): Promise<Run[]> =>
      db.prepared<Run>('getRuns', `${RUNS} WHERE r.run = ANY($1) ORDER BY r.run`, [runs]),
    listRuns: (q: { from?: number; to?: number; before?: number; limit?: number }) =>
      db.query<Run>(
        'listRuns',
        `${RUNS} WHERE r.run >= $1 AND r.run <= $2 AND r.run < $3 ORDER BY r.run DESC LIMIT $4`,
        [
          q.from ?? Number.MIN_SAFE_INTEGER,
          q.to ?? Number.MAX_SAFE_INTEGER,
          q.before ?? Number.MAX_SAFE_INTEGER,
          limitOf(q.limit),
        ],
      ),
    countRuns: async (): Promise<number> =>
      (await db.query<{ n: number }>('countRuns', 'SELECT count(*) AS n FROM runs'))[0]?.n ?? 0,
    /** A NULL parameter switches its condition off; the run range stays a plain range for the primary key. */
    selectRuns: (q: RunSelection): Promise<Run[]> =>
      db.query<Run>(
        'selectRuns',
        `${RUNS} WHERE r.end_at IS NOT NULL AND r.run >= $1 AND r.run <= $2
           AND ($3::bigint IS NULL OR r.fill = $3)
           AND ($4::bigint IS NULL OR coalesce(r.start_at, r.end_at) >= $4)
           AND ($5::text IS NULL OR r.type = $5)
         ORDER BY r.run`,
        [
          q.from ?? Number.MIN_SAFE_INTEGER,
          q.to ?? Number.MAX_SAFE_INTEGER,
          q.fill ?? null,
          q.since ?? null,
          q.type ?? null,
        ],
      ),
  };
}
