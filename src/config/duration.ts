import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const PATTERN = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$/;

/**
 * The longest duration autoctrl takes anywhere (a timeout, a delay, an
 * interval): 365 days. Longer is a typo (`30000d`), and far beyond what
 * a calibration chain waits for. Timers longer than Node's limit are
 * chained (`src/timers.ts`), so everything up to this bound works.
 */
export const MAX_DURATION_MS = 365 * UNIT_MS.d;

/**
 * Milliseconds of a duration written `500ms`, `30s`, `1.5h`, `2d`, or a plain
 * number of seconds (YAML gives `30` as a number); null for anything else,
 * negatives and durations beyond `MAX_DURATION_MS` included (use
 * `checkDuration` for a message saying which). Rounded to whole
 * milliseconds, what timers take.
 */
export function parseDuration(text: string | number): number | null {
  const ms = readMs(text);
  return ms !== null && ms <= MAX_DURATION_MS ? ms : null;
}

function readMs(text: string | number): number | null {
  if (typeof text === 'number') {
    return Number.isFinite(text) && text >= 0 ? Math.round(text * 1_000) : null;
  }
  const m = PATTERN.exec(text.trim());
  if (m === null) return null;
  const unit = (m[2] ?? 's') as keyof typeof UNIT_MS;
  const ms = Math.round(Number(m[1]) * UNIT_MS[unit]);
  return Number.isFinite(ms) ? ms : null;
}

/** A checked duration, or what is wrong with it in words that say how to write it. */
export type DurationCheck = { ok: true; ms: number } | { ok: false; problem: string };

/**
 * Checks a duration as a person wrote it (file, `--set`, CLI option):
 * readable, longer than 0 when `min` is `positive`, at most 365 days.
 */
export function checkDuration(value: unknown, min: 'zero' | 'positive'): DurationCheck {
  const ms = typeof value === 'string' || typeof value === 'number' ? readMs(value) : null;
  if (ms === null) {
    return {
      ok: false,
      problem: `bad duration ${JSON.stringify(value) ?? String(value)}: write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h`,
    };
  }
  if (min === 'positive' && ms === 0) return { ok: false, problem: 'must be longer than 0' };
  if (ms > MAX_DURATION_MS) {
    return {
      ok: false,
      problem: `${JSON.stringify(value)} is longer than the longest duration autoctrl takes (365d): write at most 365d`,
    };
  }
  return { ok: true, ms };
}

/** A zod schema for a duration option, in milliseconds; `prefix` names the option in the message. */
export function durationSchema(min: 'zero' | 'positive', prefix = '') {
  return z.unknown().transform((value, ctx) => {
    const checked = checkDuration(value, min);
    if (checked.ok) return checked.ms;
    ctx.addIssue({ code: 'custom', message: `${prefix}${checked.problem}` });
    return z.NEVER;
  });
}
