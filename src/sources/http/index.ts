import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { RunInput } from '../../model/types.ts';
import type { Source, SourceFactory } from '../contract.ts';
import {
  DEFAULT_FIELDS,
  mapRecord,
  parseSourceOptions,
  type RecordMapping,
  runNumberOf,
  toEpochMs,
  valueAt,
} from '../fields.ts';
import { advance, lowestWanted, parseHttpCursor, type Seen, wantedBy } from './cursor.ts';
import { type GetJsonOptions, getJson, HttpGetError } from './get-json.ts';
import { type HttpOptions, httpOptions } from './options.ts';

const DEFAULTS = {
  timeoutMs: 30_000,
  recheckMs: 3_600_000,
  openForMs: 2 * 86_400_000,
  pages: 100,
  pageSize: 100,
};

/**
 * Polls a JSON endpoint for runs. Each poll asks from the lowest run still of
 * interest (`since_param`): new runs plus those not ended yet or ended
 * recently, so an end time or a luminosity filled in later arrives as a change.
 * Without `since_param` the endpoint's whole list is read and the same rule
 * is applied here, so nothing is taken twice either way.
 */
export const createHttpSource: SourceFactory = async (name, options, ctx) => {
  const opts = parseSourceOptions(httpOptions, name, options);
  const mapping: RecordMapping = {
    fields: { ...DEFAULT_FIELDS, ...opts.fields },
    meta: opts.meta ?? {},
    lumiUnit: opts.lumi_unit ?? 'pb',
  };
  const request = requestOptions(opts, ctx.dir);
  const accepts = filterOf(opts.filter ?? {});
  const log = ctx.logger;
  const source: Source = {
    name,
    async poll(cursorText, now) {
      const cursor = parseHttpCursor(cursorText, now);
      const from = lowestWanted(cursor, opts.first_run);
      const records = await fetchRecords(opts, from, request, log);
      const wanted = wantedBy(cursor, opts.first_run);
      const seen: Seen[] = [];
      const runs = new Map<number, RunInput>();
      for (const [i, record] of records.entries()) {
        const result = readRecord(record, mapping, accepts);
        if (result === null) continue;
        if ('error' in result) {
          log.warn({ source: name, record: i, run: result.run }, `skipped record: ${result.error}`);
          // Asked again while it is watched: a record fixed upstream is taken then.
          if (result.run !== null) seen.push({ run: result.run, end: null });
          continue;
        }
        seen.push({ run: result.run, end: result.end });
        if (result.input !== null && wanted(result.run)) runs.set(result.run, result.input);
      }
      const next = advance(cursor, seen, now, {
        recheckMs: opts.recheck ?? DEFAULTS.recheckMs,
        openForMs: opts.open_for ?? DEFAULTS.openForMs,
      });
      return { runs: [...runs.values()], cursor: JSON.stringify(next) };
    },
  };
  return source;
};

function requestOptions(opts: HttpOptions, dir: string): GetJsonOptions {
  const headers: Record<string, string> = { ...opts.headers };
  for (const [header, variable] of Object.entries(opts.headers_env ?? {})) {
    const value = process.env[variable];
    if (value === undefined) {
      throw new InvalidInputError(
        `headers_env.${header}`,
        `environment variable ${variable} is not set: export it before starting autoctrl`,
      );
    }
    headers[header] = value;
  }
  const tls: NonNullable<GetJsonOptions['tls']> = {};
  for (const key of ['cert', 'key', 'ca'] as const) {
    const file = opts[key];
    if (file === undefined) continue;
    try {
      tls[key] = readFileSync(path.resolve(dir, file));
    } catch (cause) {
      throw new InvalidInputError(
        key,
        `cannot read ${path.resolve(dir, file)}: ${(cause as Error).message}; paths are relative to the deployment file`,
        { cause },
      );
    }
  }
  return { timeoutMs: opts.timeout ?? DEFAULTS.timeoutMs, headers, tls };
}

async function fetchRecords(
  opts: HttpOptions,
  from: number | null,
  request: GetJsonOptions,
  log: Logger,
): Promise<unknown[]> {
  const records: unknown[] = [];
  const maxPages = opts.max_pages ?? DEFAULTS.pages;
  const size = opts.paging?.size ?? DEFAULTS.pageSize;
  let url: string | null = pageUrl(opts, from, 0);
  for (let page = 1; url !== null; page++) {
    const body = await getJson(url, request);
    const list = valueAt(body, opts.records ?? '');
    if (!Array.isArray(list)) {
      throw new HttpGetError(
        url,
        200,
        `no list of records at '${opts.records ?? ''}' in the answer: set records: to the path of the array (e.g. data.runs)`,
      );
    }
    records.push(...list);
    if (opts.paging !== undefined) {
      url = list.length < size ? null : pageUrl(opts, from, page * size);
    } else {
      const next = opts.next === undefined ? null : valueAt(body, opts.next);
      url = typeof next === 'string' && next !== '' ? new URL(next, url).href : null;
    }
    if (url !== null && page === maxPages) {
      log.warn({ url: opts.url }, `stopped after ${maxPages} pages; the rest comes next poll`);
      break;
    }
  }
  return records;
}

/** The URL of one request: the configured one plus the since and paging parameters. */
function pageUrl(opts: HttpOptions, from: number | null, offset: number): string {
  const url = new URL(opts.url);
  if (opts.since_param !== undefined && from !== null) {
    url.searchParams.set(opts.since_param, String(from));
  }
  if (opts.paging !== undefined) {
    url.searchParams.set(opts.paging.offset, String(offset));
    url.searchParams.set(opts.paging.limit, String(opts.paging.size ?? DEFAULTS.pageSize));
  }
  return url.href;
}

type Filter = (record: unknown) => boolean;

function filterOf(filter: NonNullable<HttpOptions['filter']>): Filter {
  const rules = Object.entries(filter).map(([field, want]) => {
    // YAML may read a value as a number that the endpoint sends as a string: compare as text.
    const allowed = new Set([want].flat().map(String));
    return (record: unknown) => {
      const v = valueAt(record, field);
      return v !== undefined && v !== null && allowed.has(String(v));
    };
  });
  return (record) => rules.every((r) => r(record));
}

type ReadResult =
  | { run: number; end: number | null; input: RunInput | null }
  | { run: number | null; error: string }
  | null;

/**
 * A record as a run, with what the cursor needs. A record the filter leaves
 * out still counts as seen (input null); one without a run number is ignored.
 */
function readRecord(record: unknown, mapping: RecordMapping, accepts: Filter): ReadResult {
  if (!accepts(record)) {
    const run = runNumberOf(record, mapping.fields.run);
    if (run === null) return null;
    let end: number | null = null;
    try {
      end = toEpochMs(valueAt(record, mapping.fields.end)) ?? null;
    } catch {
      // An unreadable end of a run nobody wants: watch it as open, until `open_for`.
    }
    return { run, end, input: null };
  }
  try {
    const input = mapRecord(record, mapping);
    return { run: input.run, end: input.end ?? null, input };
  } catch (err) {
    return { run: runNumberOf(record, mapping.fields.run), error: (err as Error).message };
  }
}
