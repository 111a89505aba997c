/**
 * InfluxDB line protocol (1.x): `measurement,tag=v field=1i,text="a" <ns>`.
 * Escaping follows the protocol's table: commas and spaces in measurement
 * names; commas, equals signs and spaces in tag keys, tag values and field
 * keys; double quotes and backslashes in string field values. Lines are
 * written straight from the records, with no object per point.
 */

const MEASUREMENT = /[, \\\r\n]/;
const KEY = /[,= \\\r\n]/;
const STRING = /["\\\r\n]/;

const escapeMeasurement = (s: string) =>
  MEASUREMENT.test(s) ? s.replace(/[\r\n]+/g, ' ').replace(/[, \\]/g, (c) => `\\${c}`) : s;
/** A tag value, or a field key made of data (run metadata keys); keys written in code need none. */
export const escapeKey = (s: string) =>
  KEY.test(s) ? s.replace(/[\r\n]+/g, ' ').replace(/[,= \\]/g, (c) => `\\${c}`) : s;
// A line ends at a newline whatever the quoting: they become spaces.
const escapeString = (s: string) =>
  STRING.test(s) ? s.replace(/[\r\n]+/g, ' ').replace(/["\\]/g, (c) => `\\${c}`) : s;

/**
 * Builds lines one point at a time: `point`, its tags in key order (what
 * InfluxDB recommends for its index), its fields, then `end`. Empty or null
 * tag values and null fields are left out; keys are taken as written (see
 * `escapeKey` for keys made of data); a point left with no field is
 * dropped (the protocol needs one). Each finished line goes at once into
 * one buffer outside the JavaScript heap, reused from batch to batch: a
 * catch-up that kept a hundred thousand lines as strings spent most of its
 * time in garbage collection.
 */
export class Lines {
  #buf = Buffer.allocUnsafe(1 << 20);
  #length = 0;
  /** Where each line ends, for cutting the text into requests. */
  #ends: number[] = [];
  #head = '';
  #fields = '';

  /** Empties the buffer: the chunks handed out before are overwritten from now on. */
  reset(): this {
    this.#length = 0;
    this.#ends = [];
    return this;
  }

  get count(): number {
    return this.#ends.length;
  }

  /** The text so far in pieces of at most `lines` lines each, as views of the buffer. */
  chunks(lines: number): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    for (let i = lines - 1; start < this.#length; i += lines) {
      const end = this.#ends[Math.min(i, this.#ends.length - 1)] ?? this.#length;
      out.push(this.#buf.subarray(start, end));
      start = end;
    }
    return out;
  }

  /** Every line so far, for tests. */
  get written(): string {
    return this.#buf.toString('utf8', 0, this.#length);
  }

  point(measurement: string): this {
    this.#head = escapeMeasurement(measurement);
    this.#fields = '';
    return this;
  }

  tag(key: string, value: string | null | undefined): this {
    if (value !== null && value !== undefined && value !== '')
      this.#head += `,${key}=${escapeKey(value)}`;
    return this;
  }

  int(key: string, n: number | null | undefined): this {
    return n === null || n === undefined || !Number.isSafeInteger(n)
      ? this
      : this.#field(key, `${n}i`);
  }

  float(key: string, n: number | null | undefined): this {
    return n === null || n === undefined || !Number.isFinite(n)
      ? this
      : this.#field(key, String(n));
  }

  /** An empty string is left out unless `keepEmpty` (a value a job reported as such). */
  text(key: string, s: string | null | undefined, keepEmpty = false): this {
    if (s === null || s === undefined || (s === '' && !keepEmpty)) return this;
    return this.#field(key, `"${escapeString(s)}"`);
  }

  bool(key: string, b: boolean): this {
    return this.#field(key, b ? 'true' : 'false');
  }

  /** Ends the point at `ns` (see `nanos`). */
  end(ns: string): void {
    if (this.#fields === '') return;
    const line = `${this.#head} ${this.#fields} ${ns}\n`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.#length + line.length * 3 > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, line.length * 3));
      this.#buf.copy(bigger, 0, 0, this.#length);
      this.#buf = bigger;
    }
    this.#length += this.#buf.write(line, this.#length);
    this.#ends.push(this.#length);
  }

  #field(key: string, value: string): this {
    this.#fields += `${this.#fields === '' ? '' : ','}${key}=${value}`;
    return this;
  }
}

/** `ms` milliseconds plus `offset` nanoseconds (0 ≤ offset < 10^6), as line protocol digits. */
export function nanos(ms: number, offset: number): string {
  const whole = Math.max(0, Math.trunc(ms));
  return whole === 0 ? String(offset) : `${whole}${String(offset).padStart(6, '0')}`;
}
