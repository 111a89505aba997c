import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDirectory } from '../fs-util.ts';

/*
 * Just enough globbing for file locks, since Node 20 has no `fs.glob`:
 * `*` and `?` within one path segment, `**` as a whole segment for any depth
 * (zero or more directories). No braces, classes or escapes. As in shells, a
 * wildcard does not match a leading dot unless the pattern segment starts
 * with one, and `**` does not follow symbolic links, so a link loop cannot
 * keep a check busy.
 */

export function hasMagic(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/**
 * Paths matching the absolute `pattern`, lazily and in name order, so that an
 * existence check stops at the first match instead of walking a whole tree.
 * Unreadable directories match nothing.
 */
export async function* globPaths(pattern: string, signal?: AbortSignal): AsyncGenerator<string> {
  const abs = path.resolve(pattern);
  if (!hasMagic(abs)) {
    if (await exists(abs)) yield abs;
    return;
  }
  const segments = abs.split(path.sep).filter((s) => s !== '');
  const firstMagic = segments.findIndex(hasMagic);
  const base = path.join(path.parse(abs).root, ...segments.slice(0, firstMagic));
  yield* walk(base, segments.slice(firstMagic), signal);
}

async function* walk(
  dir: string,
  segments: readonly string[],
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  signal?.throwIfAborted();
  const [segment, ...rest] = segments;
  if (segment === undefined) {
    yield dir;
    return;
  }
  if (segment === '**') {
    yield* walk(dir, rest, signal);
    for (const entry of await list(dir)) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) {
        yield* walk(path.join(dir, entry.name), segments, signal);
      }
    }
    return;
  }
  if (!hasMagic(segment)) {
    const next = path.join(dir, segment);
    if (rest.length === 0 ? await exists(next) : await isDirectory(next)) {
      yield* walk(next, rest, signal);
    }
    return;
  }
  const re = segmentRegExp(segment);
  for (const entry of await list(dir)) {
    if (!re.test(entry.name)) continue;
    if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
    const next = path.join(dir, entry.name);
    if (rest.length === 0) yield next;
    else if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(next)))) {
      yield* walk(next, rest, signal);
    }
  }
}

/** `*` and `?` of one segment as an anchored regular expression; everything else literal. */
export function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

async function list(dir: string): Promise<Dirent[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return [];
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
