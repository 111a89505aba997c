import { InvalidInputError } from '../errors.ts';

/** `A-B`, `A` or `A,B,C` → inclusive bounds (a list gives its min and max). */
export function parseRunRange(text: string, field = '--runs'): { from: number; to: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (m === null)
    throw new InvalidInputError(
      field,
      `"${text}" is not a run range; write A-B or A (e.g. 355100-355120)`,
    );
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to < from) throw new InvalidInputError(field, `"${text}": the range ends before it starts`);
  return { from, to };
}

/** A positive whole number in decimal digits: `0x10`, `1e3` or `16.0` are refused, not read as 16, 1000, 16. */
export function parseRunNumber(text: string, field: string): number {
  const n = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new InvalidInputError(
      field,
      `"${text}" is not a run number: write it in decimal digits, e.g. 355100`,
    );
  return n;
}
