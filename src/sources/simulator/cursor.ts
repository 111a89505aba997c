import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';
import type { LhcState } from './lhc.ts';

/**
 * The simulator's cursor: the whole simulation state plus the anchor that maps
 * real time to simulated time. Simulated time is computed from the anchor, not
 * accumulated poll by poll, so it does not depend on how often the source is
 * polled (and no rounding creeps in).
 */
export interface SimCursor {
  v: 1;
  /** Simulated time `sim` corresponds to real time `real`; it runs `speed` times faster. */
  anchor: { real: number; sim: number };
  speed: number;
  state: LhcState;
}

const time = z.number().int();
const openRun = z.object({
  run: z.number().int(),
  type: z.enum(['collisions', 'cosmics']),
  start: time,
  efficiency: z.number(),
});
const beam = z.object({
  fill: z.number().int(),
  stableStart: time,
  peak: z.number().positive(),
  lifetime: z.number().positive(),
  runsLeft: z.number().int(),
});
const schema = z.object({
  v: z.literal(1),
  anchor: z.object({ real: z.number(), sim: z.number() }),
  speed: z.number().positive(),
  state: z.object({
    rng: z.number().int(),
    clock: time,
    nextRun: z.number().int(),
    fill: z.number().int(),
    deliveredPb: z.number().nonnegative(),
    next: z.object({
      kind: z.enum(['inject', 'stable', 'run-start', 'run-end', 'cosmics-start', 'cosmics-end']),
      at: time,
    }),
    beam: beam.nullable(),
    open: openRun.nullable(),
    gapEnd: time.nullable(),
  }),
});

export function parseCursor(text: string): SimCursor {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(
      'cursor',
      'the simulator cursor is not JSON; reset the source to start a new simulation',
      { cause },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidInputError(
      'cursor',
      `not a simulator cursor (${parsed.error.issues[0]?.message ?? 'invalid'}); reset the source to start a new simulation`,
    );
  }
  return parsed.data;
}
