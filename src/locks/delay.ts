import { z } from 'zod';
import type { Run } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';
import { type LockResult, type LockTarget, lockKind } from './contract.ts';
import { humanDuration, lockDuration } from './options.ts';

/**
 * Runs of one fill are consecutive in run number (fills and runs both count
 * up), so the rest of a fill lies within this many run numbers after a run.
 */
const FILL_SPAN = 2000;

/**
 * `delay`: not before `after` has passed since the instance's last run ended
 * (`from: run_end`, the default) or since its fill's last known run ended
 * (`from: fill_end`: the latest end among the store's runs of that fill). A
 * run that has not ended keeps it closed.
 */
export const delayLock = lockKind({
  kind: 'delay',
  options: z.strictObject({
    after: lockDuration('zero'),
    from: z.enum(['run_end', 'fill_end']).optional(),
  }),
  create(options, ctx) {
    const fromFill = options.from === 'fill_end';
    return {
      key: (target) =>
        fromFill
          ? `fill:${fillsOf(target).join(',')}:${lastRun(target)}`
          : `runs:${target.runs.map((r) => r.run).join(',')}`,
      async check(target) {
        const ended = fromFill ? await fillEnd(ctx.store, target) : runEnd(target.runs);
        if ('open' in ended) return ended;
        const opensAt = ended.at + options.after;
        const since = `${humanDuration(options.after)} after ${ended.what} ended`;
        if (target.now >= opensAt) return { open: true, reason: since };
        return {
          open: false,
          // No countdown: a reason that changed at every pass would add an event at every pass.
          reason: `${since}: opens at ${new Date(opensAt).toISOString()}`,
        };
      },
    };
  },
});

type Ended = { at: number; what: string } | LockResult;

function runEnd(runs: readonly Run[]): Ended {
  let last: Run | undefined;
  for (const r of runs) {
    if (r.end === null) return { open: false, reason: `run ${r.run} has not ended` };
    if (last === undefined || r.end > (last.end as number)) last = r;
  }
  if (last === undefined) return { open: false, reason: 'the instance has no runs' };
  return { at: last.end as number, what: `run ${last.run}` };
}

async function fillEnd(store: StateStore, target: LockTarget): Promise<Ended> {
  const fills = fillsOf(target);
  const noFill = target.runs.find((r) => r.fill === null);
  if (noFill !== undefined) return { open: false, reason: `run ${noFill.run} has no fill` };
  const last = lastRun(target);
  const later = await store.listRuns({ from: last, to: last + FILL_SPAN });
  const inFills = later.filter((r) => r.fill !== null && fills.includes(r.fill));
  const ended = runEnd([...inFills, ...target.runs]);
  if ('open' in ended) return ended;
  const fill = inFills.find((r) => r.end === ended.at)?.fill ?? fills.at(-1);
  return { at: ended.at, what: `fill ${fill} (${ended.what})` };
}

function fillsOf(target: LockTarget): number[] {
  return [...new Set(target.runs.flatMap((r) => (r.fill === null ? [] : [r.fill])))];
}

function lastRun(target: LockTarget): number {
  return target.runs.at(-1)?.run ?? 0;
}
