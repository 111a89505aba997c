const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const PATTERN = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$/;

/**
 * Milliseconds of a duration written `500ms`, `30s`, `1.5h`, `2d`, or a plain
 * number of seconds (YAML gives `30` as a number); null for anything else,
 * negatives included. Rounded to whole milliseconds, what timers take.
 */
export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') {
    return Number.isFinite(text) && text >= 0 ? Math.round(text * 1_000) : null;
  }
  const m = PATTERN.exec(text.trim());
  if (m === null) return null;
  const unit = (m[2] ?? 's') as keyof typeof UNIT_MS;
  return Math.round(Number(m[1]) * UNIT_MS[unit]);
}
