import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';

/**
 * The `directory` source's cursor. Files are known by name and by when they
 * last changed (ctime: unlike mtime it cannot be set back, so a file moved or
 * copied in with an old mtime still counts as new). Every file that changed
 * before `before` has been handled; `taken` lists the ones handled since, so
 * the cursor stays as small as the files of the last minute or so.
 */
export interface DirCursor {
  v: 1;
  before: number;
  /** File name → change time (ms) when it was taken. */
  taken: Record<string, number>;
}

const schema = z.object({
  v: z.literal(1),
  before: z.number(),
  taken: z.record(z.string(), z.number()),
});

export function parseDirCursor(text: string | null): DirCursor {
  if (text === null) return { v: 1, before: Number.NEGATIVE_INFINITY, taken: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('cursor', 'the directory cursor is not JSON; reset the source', {
      cause,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidInputError('cursor', 'not a directory source cursor; reset the source');
  }
  return parsed.data;
}

/** Whether a file that last changed at `changed` still has to be taken. */
export function isNew(c: DirCursor, name: string, changed: number): boolean {
  if (changed < c.before) return false;
  const taken = c.taken[name];
  return taken === undefined || changed > taken;
}

/** The cursor after taking `taken`, with everything older than `before` folded into it. */
export function moveOn(c: DirCursor, taken: Record<string, number>, before: number): DirCursor {
  const floor = Math.max(c.before, before);
  const all = { ...c.taken, ...taken };
  const kept = Object.fromEntries(Object.entries(all).filter(([, at]) => at >= floor));
  return { v: 1, before: floor, taken: kept };
}

/** JSON cannot hold -Infinity: a fresh cursor is written with `before` 0. */
export function stringifyDirCursor(c: DirCursor): string {
  return JSON.stringify({ ...c, before: Number.isFinite(c.before) ? c.before : 0 });
}
