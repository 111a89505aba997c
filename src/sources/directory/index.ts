import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AutoctrlError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { RunInput } from '../../model/types.ts';
import type { Source, SourceFactory } from '../contract.ts';
import { parseRunObject, parseSourceOptions } from '../fields.ts';
import { isNew, moveOn, parseDirCursor, stringifyDirCursor } from './cursor.ts';
import { type DirectoryOptions, directoryOptions } from './options.ts';

const DEFAULT_SETTLE_MS = 2_000;
/**
 * How long after a file changed it may still be missing from a listing: an
 * NFS client caches directory contents for up to a minute by default.
 */
const LISTING_LAG_MS = 60_000;

/** The watched directory cannot be read. */
export class DirectorySourceError extends AutoctrlError {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('source_directory_failed', `source ${source}: ${message}`, options);
  }
}

/**
 * New files in a directory: one run per file, its number from the file name,
 * or JSON manifests holding one run or a list. Hidden files (`.name`) are
 * ignored, so a writer can create `.run123.json` and rename it when complete.
 * File times are real times: the poll's `now` is not used.
 */
export const createDirectorySource: SourceFactory = async (name, options, ctx) => {
  const opts = parseSourceOptions(directoryOptions, name, options);
  const dir = path.resolve(ctx.dir, opts.path);
  const pattern = new RegExp(opts.pattern ?? (opts.manifest ? '\\.json$' : '(?!)'));
  const settleMs = opts.settle ?? DEFAULT_SETTLE_MS;
  const source: Source = {
    name,
    async poll(cursorText) {
      const cursor = parseDirCursor(cursorText);
      const listedAt = Date.now();
      const files = await list(name, dir, pattern);
      const runs: RunInput[] = [];
      const taken: Record<string, number> = {};
      for (const file of files) {
        const st = await stat(path.join(dir, file)).catch(() => null);
        // Removed since the listing, or not a file: nothing to take.
        if (st === null || !st.isFile()) continue;
        const changed = changedAt(st);
        if (!isNew(cursor, file, changed)) continue;
        if (listedAt - st.mtimeMs < settleMs) continue;
        runs.push(...(await read(name, dir, file, opts, pattern, ctx.logger)));
        taken[file] = changed;
      }
      const next = moveOn(cursor, taken, listedAt - settleMs - LISTING_LAG_MS);
      return { runs, cursor: stringifyDirCursor(next) };
    },
  };
  return source;
};

/** When the file last appeared or changed: a rename or a copy sets ctime, whatever mtime says. */
function changedAt(st: Stats): number {
  return Math.max(st.ctimeMs, st.mtimeMs);
}

async function list(name: string, dir: string, pattern: RegExp): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? 'it does not exist: create it or fix path:'
        : `cannot read it (${code ?? String(cause)}): check its permissions`;
    throw new DirectorySourceError(name, `directory ${dir}: ${hint}`, { cause });
  }
  return entries
    .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .filter((n) => pattern.test(n))
    .sort();
}

async function read(
  name: string,
  dir: string,
  file: string,
  opts: DirectoryOptions,
  pattern: RegExp,
  logger: Logger,
): Promise<RunInput[]> {
  const full = path.join(dir, file);
  if (!opts.manifest) {
    const m = pattern.exec(file);
    const run = Number(m?.groups?.run ?? m?.[1]);
    const fill = m?.groups?.fill === undefined ? undefined : Number(m.groups.fill);
    if (!Number.isSafeInteger(run) || run <= 0) {
      logger.warn({ source: name, file: full }, `skipped ${file}: no run number in its name`);
      return [];
    }
    return [
      {
        run,
        ...(fill !== undefined && Number.isSafeInteger(fill) ? { fill } : {}),
        meta: { file: full },
      },
    ];
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(full, 'utf8'));
  } catch (err) {
    logger.warn(
      { source: name, file: full },
      `skipped ${file}: ${(err as Error).message}; it is read again when it changes`,
    );
    return [];
  }
  const runs: RunInput[] = [];
  for (const [i, entry] of [json].flat().entries()) {
    try {
      runs.push(parseRunObject(entry));
    } catch (err) {
      const where = Array.isArray(json) ? `${file}[${i}]` : file;
      logger.warn(
        { source: name, file: full, index: i },
        `skipped ${where}: ${(err as Error).message}`,
      );
    }
  }
  return runs;
}
