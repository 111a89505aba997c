import { z } from 'zod';
import { durationSchema } from '../config/duration.ts';
import { expandPlaceholders, type PlaceholderValues } from '../engine/placeholders.ts';
import type { LockTarget } from './contract.ts';

/** Placeholders a lock's strings may use: a lock is checked before any job exists. */
export const LOCK_PLACEHOLDERS = ['run', 'runs', 'fill', 'campaign', 'task'] as const;

const PATTERN = /\{\{|\}\}|\{([a-z]+)\}/g;
const KNOWN = LOCK_PLACEHOLDERS.map((n) => `{${n}}`).join(', ');

/** A string with `{run}`-style placeholders, refused at load time if it names another. */
export const lockTemplate = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    for (const m of text.matchAll(PATTERN)) {
      const name = m[1];
      if (name !== undefined && !(LOCK_PLACEHOLDERS as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {${name}} in a lock: known are ${KNOWN} (write {{ and }} for literal braces)`,
        });
      }
    }
  });

/** `30s`, `2h`, or a number of seconds, to milliseconds (at most 365 days). */
export function lockDuration(min: 'zero' | 'positive' = 'positive') {
  return durationSchema(min);
}

/** The values of a lock's placeholders for one target: `{run}` is its first run, as for jobs. */
export function lockValues(target: LockTarget): PlaceholderValues {
  const first = target.runs[0];
  return {
    run: first === undefined ? '' : String(first.run),
    runs: target.runs.map((r) => r.run).join(','),
    fill: first?.fill == null ? '' : String(first.fill),
    campaign: target.campaign,
    task: target.task,
    // Refused by `lockTemplate`; left as written should a lock be built in code.
    job: '{job}',
    attempt: '{attempt}',
    input: '{input}',
    index: '{index}',
    meta: first?.meta ?? {},
    inputs: [],
  };
}

export function expandFor(text: string, target: LockTarget): string {
  return expandPlaceholders(text, lockValues(target));
}

/** `1h 12m`, `45s`, `300ms`: the largest unit and the next one, for reasons people read. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const sizes: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const total = Math.round(ms / 1000) * 1000;
  const first = sizes.findIndex(([, size]) => total >= size);
  const [unit, size] = sizes[first] as [string, number];
  const text = `${Math.floor(total / size)}${unit}`;
  const next = sizes[first + 1];
  if (next === undefined) return text;
  const more = Math.floor((total % size) / next[1]);
  return more > 0 ? `${text} ${more}${next[0]}` : text;
}

/** The message of anything thrown, with the underlying cause for network errors. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? err.cause.message : null;
    return cause !== null && cause !== err.message ? `${err.message}: ${cause}` : err.message;
  }
  return String(err);
}
