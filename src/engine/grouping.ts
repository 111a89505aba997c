import type { Grouping } from '../config/types.ts';
import type { Run } from '../model/types.ts';
import type { NewInstance } from '../store/contract.ts';

/**
 * Intake state of one (campaign, task), kept in a store cursor: the last run
 * `seq` looked at, the runs seen but not yet in a group (open fills, luminosity
 * still below the threshold), and the highest fill seen.
 */
export interface IntakeState {
  seq: number;
  /**
   * `prompt` only: where intake is in the store's change feed. Absent in a
   * state saved before the feed existed: intake then reads every run once
   * more, which creates nothing twice (groups and memberships are unique).
   */
  feed?: string;
  pending: PendingRun[];
  maxFill: number;
}

export interface PendingRun {
  run: number;
  fill: number | null;
  lumi: number;
  fillEnd: boolean;
}

export const EMPTY_INTAKE: IntakeState = { seq: 0, pending: [], maxFill: 0 };

/**
 * Turns newly seen runs into groups. Pure: the same state and runs give the
 * same groups, so a pass interrupted before its cursor was saved redoes the
 * same work.
 *
 * - `run`: one group per ended run.
 * - `fill`: one group per fill once it has ended, i.e. a run of a later fill
 *   was seen or a run is marked `fill_end` by its source. Runs without a fill
 *   are not grouped.
 * - `lumi`: consecutive ended runs, by run number, until their recorded
 *   luminosity reaches the threshold; the rest waits for more runs.
 *
 * Only runs that `accept` (the task's run filter) join a group, but every run
 * still tells that its fill has begun. With `final` (a campaign's fixed run
 * list, last batch) nothing waits: open fills and a luminosity remainder
 * become groups too.
 */
export function groupRuns(
  grouping: Grouping,
  state: IntakeState,
  runs: readonly Run[],
  target: { campaign: string; task: string },
  opts: { accept?: (run: Run) => boolean; final?: boolean } = {},
): { groups: NewInstance[]; state: IntakeState } {
  const seq = runs.reduce((m, r) => Math.max(m, r.seq), state.seq);
  const accept = opts.accept ?? (() => true);
  const ended = runs.filter((r) => r.end !== null && accept(r));
  const mk = (groupKey: string, members: number[]): NewInstance => ({
    ...target,
    groupKey,
    runs: members,
  });

  if (grouping.by === 'run') {
    return {
      groups: ended.map((r) => mk(`run:${r.run}`, [r.run])),
      state: { ...state, seq },
    };
  }

  const known = new Set(state.pending.map((p) => p.run));
  const pending = [...state.pending];
  let maxFill = state.maxFill;
  for (const r of runs) {
    if (r.fill !== null) maxFill = Math.max(maxFill, r.fill);
  }
  for (const r of ended) {
    if (known.has(r.run)) continue;
    if (grouping.by === 'fill' && r.fill === null) continue;
    pending.push({
      run: r.run,
      fill: r.fill,
      lumi: r.lumi ?? 0,
      fillEnd: r.meta.fill_end === true,
    });
  }
  pending.sort((a, b) => a.run - b.run);

  if (grouping.by === 'fill') {
    const byFill = new Map<number, PendingRun[]>();
    for (const p of pending) {
      const fill = p.fill as number;
      byFill.set(fill, [...(byFill.get(fill) ?? []), p]);
    }
    const groups: NewInstance[] = [];
    const rest: PendingRun[] = [];
    for (const [fill, members] of byFill) {
      const over = opts.final === true || fill < maxFill || members.some((m) => m.fillEnd);
      if (over)
        groups.push(
          mk(
            `fill:${fill}`,
            members.map((m) => m.run),
          ),
        );
      else rest.push(...members);
    }
    return { groups, state: { seq, pending: rest, maxFill } };
  }

  const groups: NewInstance[] = [];
  let acc: PendingRun[] = [];
  let sum = 0;
  for (const p of pending) {
    acc.push(p);
    sum += p.lumi;
    if (sum >= grouping.lumi) {
      const first = acc[0]?.run;
      groups.push(
        mk(
          `lumi:${first}-${p.run}`,
          acc.map((a) => a.run),
        ),
      );
      acc = [];
      sum = 0;
    }
  }
  const last = acc.at(-1);
  if (opts.final === true && last !== undefined) {
    groups.push(
      mk(
        `lumi:${acc[0]?.run}-${last.run}`,
        acc.map((a) => a.run),
      ),
    );
    acc = [];
  }
  return { groups, state: { seq, pending: acc, maxFill } };
}

export function parseIntakeState(text: string | null): IntakeState {
  if (text === null) return EMPTY_INTAKE;
  const parsed = JSON.parse(text) as Partial<IntakeState>;
  return {
    seq: parsed.seq ?? 0,
    ...(parsed.feed !== undefined ? { feed: parsed.feed } : {}),
    pending: parsed.pending ?? [],
    maxFill: parsed.maxFill ?? 0,
  };
}
