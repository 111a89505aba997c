import { InvalidInputError } from '../errors.ts';
import type { Meta, Run, RunInput } from '../model/types.ts';

/**
 * How a run input changes a stored run, for every backend: inputs folded per
 * run, absent fields kept, and the field-by-field difference an `upsertRuns`
 * records in its `run` event.
 */

type RunField = Exclude<keyof Run, 'run' | 'seq'>;
const RUN_FIELDS: readonly RunField[] = ['fill', 'start', 'end', 'lumi', 'type', 'meta'];

/** Meta with sorted keys, so that the same content always compares equal. */
export function canonicalMeta(meta: Meta): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : 1))),
  );
}

/** Inputs for one run folded together (later values win), runs ascending. */
export function foldRunInputs(inputs: readonly RunInput[]): RunInput[] {
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
export function applyRunInput(old: Run | undefined, input: RunInput): Run {
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

/** Fields that differ, as `[old, new]`; empty when the run is unchanged. */
export function runDiff(old: Run, next: Run): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const k of RUN_FIELDS) {
    const same =
      k === 'meta' ? canonicalMeta(old.meta) === canonicalMeta(next.meta) : old[k] === next[k];
    if (!same) changes[k] = [old[k], next[k]];
  }
  return changes;
}
