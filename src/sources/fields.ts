import { z } from 'zod';
import { durationSchema } from '../config/duration.ts';
import { InvalidInputError } from '../errors.ts';
import type { Meta, RunInput } from '../model/types.ts';

/*
 * What the sources share: reading a JSON record as a `RunInput`. A field that
 * is absent stays absent (unknown: the store keeps what it knew), an explicit
 * null is kept (upstream says "not known yet", e.g. the end of a running run).
 */

/** A record a source cannot use; the message says what is wrong with it. */
export class RecordError extends Error {
  override name = 'RecordError';
}

/** The value at a dotted path (`data.runs`, `attributes.run_number`, `items.0`); '' is the value itself. */
export function valueAt(value: unknown, path: string): unknown {
  if (path === '') return value;
  let v = value;
  for (const seg of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

/** A date-time without a zone (`2022-10-03 14:52:08`): run registries write UTC. */
const NO_ZONE = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const NUMERIC = /^-?\d+(\.\d+)?$/;

/**
 * Milliseconds since the epoch from an ISO string or from epoch seconds or
 * milliseconds (a number below 1e11 is seconds: 1e11 ms is 1973, 1e11 s is
 * the year 5138). Zone-less date-times are UTC. Null stays null.
 */
export function toEpochMs(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string' && NUMERIC.test(value.trim())) return toEpochMs(Number(value));
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Math.round(Math.abs(value) < 1e11 ? value * 1000 : value);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    const ms = Date.parse(NO_ZONE.test(text) ? `${text.replace(' ', 'T')}Z` : text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new RecordError(
    `${JSON.stringify(value)} is not a time (ISO 8601 or epoch seconds/milliseconds)`,
  );
}

/** Factors from a luminosity unit to /pb, the unit runs are kept in. */
export const LUMI_UNITS = { pb: 1, fb: 1000, nb: 1e-3, ub: 1e-6 } as const;
export type LumiUnit = keyof typeof LUMI_UNITS;

function toNumber(value: unknown, what: string, integer: boolean): number | null | undefined {
  if (value === undefined || value === null) return value;
  const n =
    typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n)) || n < 0) {
    throw new RecordError(
      `${what} ${JSON.stringify(value)} is not a ${integer ? 'whole ' : ''}number ≥ 0`,
    );
  }
  return n;
}

function toMetaValue(value: unknown): string | number | boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  // Metadata is flat; a nested value is kept readable rather than dropped.
  return JSON.stringify(value);
}

/** Where each run field is found in a record (dotted paths). */
export interface FieldPaths {
  run: string;
  fill: string;
  start: string;
  end: string;
  lumi: string;
  type: string;
}

export interface RecordMapping {
  fields: FieldPaths;
  /** Metadata name → path in the record. */
  meta: Record<string, string>;
  lumiUnit: LumiUnit;
}

/** The run number of a record, or null when it has none: the cursor needs it even for bad records. */
export function runNumberOf(record: unknown, path: string): number | null {
  try {
    const n = toNumber(valueAt(record, path), 'run', true);
    return typeof n === 'number' && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** A JSON record mapped to a run; throws `RecordError` saying which field is wrong. */
export function mapRecord(record: unknown, m: RecordMapping): RunInput {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new RecordError(`expected an object, got ${JSON.stringify(record)?.slice(0, 80)}`);
  }
  const f = m.fields;
  const run = runNumberOf(record, f.run);
  if (run === null) {
    throw new RecordError(
      `no run number at '${f.run}' (found ${JSON.stringify(valueAt(record, f.run)) ?? 'nothing'})`,
    );
  }
  const out: RunInput = { run };
  const fill = toNumber(valueAt(record, f.fill), 'fill', true);
  if (fill !== undefined) out.fill = fill;
  const start = toEpochMs(valueAt(record, f.start));
  if (start !== undefined) out.start = start;
  const end = toEpochMs(valueAt(record, f.end));
  if (end !== undefined) out.end = end;
  const lumi = toNumber(valueAt(record, f.lumi), 'lumi', false);
  if (lumi !== undefined) out.lumi = lumi === null ? null : lumi * LUMI_UNITS[m.lumiUnit];
  const type = valueAt(record, f.type);
  if (type !== undefined) out.type = type === null ? null : String(type);
  const meta: Meta = {};
  for (const [name, path] of Object.entries(m.meta)) {
    const v = toMetaValue(valueAt(record, path));
    if (v !== undefined) meta[name] = v;
  }
  if (Object.keys(meta).length > 0) out.meta = meta;
  return out;
}

export const DEFAULT_FIELDS: FieldPaths = {
  run: 'run',
  fill: 'fill',
  start: 'start',
  end: 'end',
  lumi: 'lumi',
  type: 'type',
};

/**
 * A run as a command or a manifest writes it: the `RunInput` keys, times as
 * ISO strings or epoch seconds/milliseconds, luminosity in /pb. Unknown keys
 * are refused so that a misspelt field is not silently lost.
 */
export function parseRunObject(value: unknown): RunInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordError(`expected a run object, got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  const unknown = Object.keys(value).filter((k) => !(k in DEFAULT_FIELDS) && k !== 'meta');
  if (unknown.length > 0) {
    throw new RecordError(
      `unknown key ${unknown.map((k) => `'${k}'`).join(', ')} (known: run, fill, start, end, lumi, type, meta)`,
    );
  }
  const meta = (value as { meta?: unknown }).meta;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
    throw new RecordError('meta must be an object of names to strings, numbers or booleans');
  }
  const run = mapRecord(value, { fields: DEFAULT_FIELDS, meta: {}, lumiUnit: 'pb' });
  if (meta !== undefined) {
    run.meta = {};
    for (const [k, v] of Object.entries(meta)) {
      const mv = toMetaValue(v);
      if (mv !== undefined) run.meta[k] = mv;
    }
  }
  return run;
}

/** A duration option (`30s`, `2h`, or seconds as a number), as milliseconds (at most 365 days). */
export function durationOption(what: string) {
  return durationSchema('positive', `${what}: `);
}

/** An environment variable name, for options that read secrets from the environment. */
export const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

/**
 * A source's options parsed by its schema: factories get them as written
 * (the file check used the same schema), so this only fails for a source
 * built in code; the message names the option.
 */
export function parseSourceOptions<S extends z.ZodType>(
  schema: S,
  name: string,
  options: Record<string, unknown>,
): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue?.path.length ? `.${issue.path.join('.')}` : '';
  throw new InvalidInputError(
    `sources.${name}${at}`,
    `${issue?.message ?? 'invalid options'}: fix the source in the deployment file`,
  );
}
