import { InvalidInputError } from '../../errors.ts';
import type { Meta, Run, RunInput } from '../../model/types.ts';
import type { CursorWrite, Fence } from '../contract.ts';
import type { Coordination } from './coordination.ts';
import { RUN_COLUMNS, type RunRow, toRun } from './rows.ts';
import { type Db, jsonList, limitOf, type NewEvent } from './shared.ts';

type RunField = Exclude<keyof Run, 'run' | 'seq'>;
const RUN_FIELDS: readonly RunField[] = ['fill', 'start', 'end', 'lumi', 'type', 'meta'];

/** Meta with sorted keys, so that the same content always compares equal. */
function canonicalMeta(meta: Meta): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : 1))),
  );
}

/** Inputs for one run folded together (later values win), runs ascending. */
function fold(inputs: readonly RunInput[]): RunInput[] {
  const byRun = new Map<number, RunInput>();
  for (const input of inputs) {
    if (!Number.isSafeInteger(input.run)) {
      throw new InvalidInputError('run', `${String(input.run)} is not an integer run number`);
    }
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    byRun.set(input.run, { ...byRun.get(input.run), ...defined } as RunInput);
  }
  return [...byRun.values()].sort((a, b) => a.run - b.run);
}

/**
 * The run after applying `input`: an absent (undefined) field keeps the known
 * value, an explicit null clears it.
 */
function apply(old: Run | undefined, input: RunInput): Run {
  const pick = <K extends RunField>(k: K): Run[K] =>
    (input[k] === undefined ? (old?.[k] ?? null) : input[k]) as Run[K];
  return {
    run: input.run,
    fill: pick('fill'),
    start: pick('start'),
    end: pick('end'),
    lumi: pick('lumi'),
    type: pick('type'),
    meta: input.meta ?? old?.meta ?? {},
    seq: old?.seq ?? 0,
  };
}

function diff(old: Run, next: Run): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const k of RUN_FIELDS) {
    const same =
      k === 'meta' ? canonicalMeta(old.meta) === canonicalMeta(next.meta) : old[k] === next[k];
    if (!same) changes[k] = [old[k], next[k]];
  }
  return changes;
}

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
    for (const input of fold(inputs)) {
      const row = one.get(input.run);
      const old = row === undefined ? undefined : toRun(row);
      const next = apply(old, input);
      const changes = old === undefined ? null : diff(old, next);
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
      writeEvent({
        at,
        entity: 'run',
        entityId: String(next.run),
        campaign: null,
        task: null,
        instanceId: null,
        from: null,
        to: changes === null ? 'added' : 'changed',
        reason: null,
        by,
        configHash: null,
        data: changes,
      });
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
