/**
 * InfluxDB line protocol (1.x): `measurement,tag=v field=1i,text="a" <ns>`.
 * Escaping follows the protocol's table: commas and spaces in measurement
 * names; commas, equals signs and spaces in tag keys, tag values and field
 * keys; double quotes and backslashes in string field values.
 */

export type FieldValue = { int: number } | { float: number } | { text: string } | { bool: boolean };

export interface Point {
  measurement: string;
  /** Empty or null values are left out (the protocol has no empty tag value). */
  tags: Record<string, string | null>;
  /** Null values are left out; a point needs at least one field. */
  fields: Record<string, FieldValue | null>;
  /** Nanoseconds since the epoch, as decimal digits (beyond 2^53, so not a number). */
  ns: string;
}

const escapeMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => `\\${c}`);
const escapeKey = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`);
// A line ends at a newline whatever the quoting: they become spaces.
const escapeString = (s: string) => s.replace(/[\r\n]+/g, ' ').replace(/["\\]/g, (c) => `\\${c}`);

function encodeValue(v: FieldValue): string | null {
  if ('int' in v) return Number.isSafeInteger(v.int) ? `${v.int}i` : null;
  if ('float' in v) return Number.isFinite(v.float) ? String(v.float) : null;
  if ('bool' in v) return v.bool ? 'true' : 'false';
  return `"${escapeString(v.text)}"`;
}

/** One line, or null for a point left with no field (nothing to write). */
export function encodeLine(p: Point): string | null {
  let head = escapeMeasurement(p.measurement);
  // Sorted tags: what InfluxDB itself recommends for its index.
  for (const k of Object.keys(p.tags).sort()) {
    const v = p.tags[k];
    if (v === null || v === undefined || v === '') continue;
    head += `,${escapeKey(k)}=${escapeKey(v.replace(/[\r\n]+/g, ' '))}`;
  }
  const fields: string[] = [];
  for (const [k, v] of Object.entries(p.fields)) {
    if (v === null) continue;
    const encoded = encodeValue(v);
    if (encoded !== null) fields.push(`${escapeKey(k)}=${encoded}`);
  }
  if (fields.length === 0) return null;
  return `${head} ${fields.join(',')} ${p.ns}`;
}

/** `ms` milliseconds plus `offset` nanoseconds (0 ≤ offset < 10^6), as line protocol digits. */
export function nanos(ms: number, offset: number): string {
  const whole = Math.max(0, Math.trunc(ms));
  return whole === 0 ? String(offset) : `${whole}${String(offset).padStart(6, '0')}`;
}
