import type { Run, RunInput } from '../../model/types.ts';
import type { CursorWrite, Fence } from '../contract.ts';
import { type NewEvent, runEvent } from '../records.ts';
import { applyRunInput, canonicalMeta, foldRunInputs, runDiff } from '../run-changes.ts';
import type { Coordination } from './coordination.ts';
import { RUN_COLUMNS, type RunRow, toRun } from './rows.ts';
import { type Db, jsonList, limitOf } from './shared.ts';

/** Runs. */
export function runOps(
  db: Db,
  writeEvent: (e: NewEvent) => number,
  nextPos: () => number,
  coord: Coordination,
) {
  const one = db.prepare<[number], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE run = ?`);
  const many = db.prepare<[string], RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE run IN (SELECT value FROM json_each(?)) ORDER BY run`,
  );
  const range = db.prepare<[number, number, number, number], RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE run >= ? AND run <= ? AND run < ? ORDER BY run DESC LIMIT ?`,
  );
  const count = db.prepare<[], number>('SELECT COUNT(*) FROM runs').pluck();
  const write = db.prepare<
    [
      number,
      number | null,
      number | null,
      number | null,
      number | null,
      string | null,
      string,
      number,
    ]
  >(
    `INSERT INTO runs (run, fill, start_at, end_at, lumi, type, meta, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run) DO UPDATE SET fill = excluded.fill, start_at = excluded.start_at, end_at = excluded.end_at,
       lumi = excluded.lumi, type = excluded.type, meta = excluded.meta, seq = excluded.seq`,
  );
  type Opts = { cursor?: CursorWrite; fence?: Fence };
  const upsert = db.transaction((inputs: readonly RunInput[], by: string, at: number, o: Opts) => {
    coord.checkFence(o.fence);
    coord.writeCursor(o.cursor);
    const added: number[] = [];
    const changed: number[] = [];
    for (const input of foldRunInputs(inputs)) {
      const row = one.get(input.run);
      const old = row === undefined ? undefined : toRun(row);
      const next = applyRunInput(old, input);
      const changes = old === undefined ? null : runDiff(old, next);
      if (changes !== null && Object.keys(changes).length === 0) continue;
      write.run(
        next.run,
        next.fill,
        next.start,
        next.end,
        next.lumi,
        next.type,
        canonicalMeta(next.meta),
        nextPos(),
      );
      (changes === null ? added : changed).push(next.run);
      writeEvent(runEvent(next.run, changes, by, at));
    }
    return { added, changed };
  });

  return {
    upsertRuns: (runs: readonly RunInput[], by: string, opts: Opts = {}) =>
      upsert.immediate(runs, by, Date.now(), opts),
    getRun: (run: number): Run | null => {
      const row = one.get(run);
      return row === undefined ? null : toRun(row);
    },
    getRuns: (runs: readonly number[]): Run[] => many.all(jsonList(runs)).map(toRun),
    listRuns: (q: { from?: number; to?: number; before?: number; limit?: number }): Run[] =>
      range
        .all(
          q.from ?? Number.MIN_SAFE_INTEGER,
          q.to ?? Number.MAX_SAFE_INTEGER,
          q.before ?? Number.MAX_SAFE_INTEGER,
          limitOf(q.limit),
        )
        .map(toRun),
    countRuns: (): number => count.get() ?? 0,
  };
}
