import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';

/**
 * The `http` source's cursor: the lowest run not seen yet, and the runs still
 * worth asking about again (not ended, or ended recently enough that their
 * luminosity may still change), each until a deadline so the list stays short.
 */
export interface HttpCursor {
  v: 1;
  next: number | null;
  watch: Array<{ run: number; until: number }>;
}

/** A run seen in one poll: `ended` when its end time is known. */
export interface Seen {
  run: number;
  end: number | null;
}

/** More watched runs than this means something upstream never ends its runs: keep the newest. */
const MAX_WATCH = 1000;

const schema = z.object({
  v: z.literal(1),
  next: z.number().int().nullable(),
  watch: z.array(z.object({ run: z.number().int(), until: z.number() })),
});

/** The cursor in `text`, without the runs whose watch ended before `now`. */
export function parseHttpCursor(text: string | null, now: number): HttpCursor {
  if (text === null) return { v: 1, next: null, watch: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('cursor', 'the http source cursor is not JSON; reset the source', {
      cause,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidInputError('cursor', 'not an http source cursor; reset the source');
  }
  return { ...parsed.data, watch: parsed.data.watch.filter((w) => w.until >= now) };
}

/** The lowest run the next request must cover, or null for "everything". */
export function lowestWanted(c: HttpCursor, firstRun: number | undefined): number | null {
  const from = c.next ?? firstRun ?? null;
  const watched = c.watch.map((w) => w.run);
  if (watched.length === 0) return from;
  return Math.min(from ?? Number.POSITIVE_INFINITY, ...watched);
}

/** Whether a run in an answer is news: never seen, or watched. */
export function wantedBy(c: HttpCursor, firstRun: number | undefined): (run: number) => boolean {
  const watched = new Set(c.watch.map((w) => w.run));
  const from = c.next ?? firstRun ?? Number.NEGATIVE_INFINITY;
  return (run) => run >= from || watched.has(run);
}

/**
 * The cursor after a poll at `now` that saw `seen` (filtered-out records
 * included, so a filter never makes the source ask for them forever).
 */
export function advance(
  c: HttpCursor,
  seen: readonly Seen[],
  now: number,
  opts: { recheckMs: number; openForMs: number },
): HttpCursor {
  let next = c.next;
  const watch = new Map(c.watch.map((w) => [w.run, w.until]));
  for (const s of seen) {
    next = Math.max(next ?? 0, s.run + 1);
    if (s.end === null) {
      if (!watch.has(s.run)) watch.set(s.run, now + opts.openForMs);
    } else {
      watch.set(s.run, s.end + opts.recheckMs);
    }
  }
  const kept = [...watch]
    .filter(([, until]) => until >= now)
    .map(([run, until]) => ({ run, until }))
    .sort((a, b) => a.run - b.run)
    .slice(-MAX_WATCH);
  return { v: 1, next, watch: kept };
}
