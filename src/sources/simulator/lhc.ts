import { InvalidInputError } from '../../errors.ts';
import type { RunInput } from '../../model/types.ts';
import { Prng } from './prng.ts';

/**
 * The LHC and a CMS-like detector as a sequence of events. Each fill goes
 * injection → ramp → stable beams (a few runs, the last one ending at the dump)
 * → a gap without beam, sometimes with a cosmics run. Every random draw is made
 * when an event is applied, never while waiting for one, so the runs depend on
 * the simulated time reached and not on how often it was polled.
 */

export interface LhcParams {
  /** Mean run length, simulated minutes. */
  runMinutes: number;
  /** Mean number of collision runs per fill. */
  runsPerFill: number;
  globalTag: string;
}

export type EventKind =
  | 'inject'
  | 'stable'
  | 'run-start'
  | 'run-end'
  | 'cosmics-start'
  | 'cosmics-end';

/** The fill in stable beams. */
export interface Beam {
  fill: number;
  stableStart: number;
  /** Peak instantaneous luminosity, 1e34 cm⁻²s⁻¹. */
  peak: number;
  /** Luminosity lifetime, ms. */
  lifetime: number;
  runsLeft: number;
}

export interface OpenRun {
  run: number;
  type: 'collisions' | 'cosmics';
  start: number;
  /** Fraction of the delivered luminosity that the detector records. */
  efficiency: number;
}

/** Plain JSON, kept whole in the cursor. */
export interface LhcState {
  rng: number;
  /** Simulated time reached, ms. */
  clock: number;
  nextRun: number;
  /** Number of the current fill, or of the last one during a gap. */
  fill: number;
  /** Luminosity delivered up to the last dump, /pb. */
  deliveredPb: number;
  next: { kind: EventKind; at: number };
  beam: Beam | null;
  open: OpenRun | null;
  /** Start of the next injection, while in a gap. */
  gapEnd: number | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 1e34 cm⁻²s⁻¹ is 0.01 pb⁻¹ per second. */
const PB_PER_MS_AT_1E34 = 1e-5;
const COSMICS_CHANCE = 0.5;

/** A detector about to declare stable beams in `fill`. */
export function initialState(
  seed: number,
  at: number,
  firstRun: number,
  fill: number,
  deliveredPb: number,
): LhcState {
  return {
    rng: seed,
    clock: at,
    nextRun: firstRun,
    fill,
    deliveredPb,
    next: { kind: 'stable', at },
    beam: null,
    open: null,
    gapEnd: null,
  };
}

/** Luminosity delivered in the fill from stable beams to `t`, /pb. */
export function fillDeliveredPb(beam: Beam, t: number): number {
  const elapsed = Math.max(0, t - beam.stableStart);
  return beam.peak * PB_PER_MS_AT_1E34 * beam.lifetime * (1 - Math.exp(-elapsed / beam.lifetime));
}

/** Applies the next event; returns the run it started or ended, if any. */
export function step(state: LhcState, params: LhcParams): RunInput | null {
  const rng = new Prng(state.rng);
  const at = state.next.at;
  state.clock = Math.max(state.clock, at);
  const after = (ms: number, kind: EventKind) => {
    state.next = { kind, at: at + Math.round(ms) };
  };
  let emitted: RunInput | null = null;

  switch (state.next.kind) {
    case 'inject':
      state.fill += 1;
      state.gapEnd = null;
      after(rng.between(35, 60) * MINUTE, 'stable');
      break;
    case 'stable':
      state.beam = {
        fill: state.fill,
        stableStart: at,
        peak: rng.between(1.0, 2.0),
        lifetime: rng.between(10, 16) * HOUR,
        runsLeft: Math.max(1, Math.round(params.runsPerFill * rng.between(0.5, 1.5))),
      };
      after(rng.between(1, 5) * MINUTE, 'run-start');
      break;
    case 'run-start': {
      const beam = requireBeam(state);
      const open = openRun(state, 'collisions', at, rng.between(0.9, 0.96));
      const length = params.runMinutes * rng.between(0.3, 1.7) * MINUTE;
      after(length, 'run-end');
      emitted = started(open, beam.fill, params);
      break;
    }
    case 'run-end': {
      const beam = requireBeam(state);
      const open = closeRun(state);
      beam.runsLeft -= 1;
      const fillEnd = beam.runsLeft <= 0;
      const inFill = fillDeliveredPb(beam, at);
      emitted = {
        run: open.run,
        fill: beam.fill,
        start: open.start,
        end: at,
        lumi: round(open.efficiency * (inFill - fillDeliveredPb(beam, open.start)), 3),
        type: open.type,
        meta: {
          global_tag: params.globalTag,
          int_lumi_fb: round((state.deliveredPb + inFill) / 1000, 4),
          fill_lumi_pb: round(inFill, 2),
          fill_end: fillEnd,
        },
      };
      if (fillEnd) {
        state.deliveredPb += inFill;
        state.beam = null;
        planGap(state, rng, at);
      } else {
        after(rng.between(1, 3) * MINUTE, 'run-start');
      }
      break;
    }
    case 'cosmics-start': {
      const open = openRun(state, 'cosmics', at, 0);
      const gapEnd = state.gapEnd ?? at;
      after(Math.max(MINUTE, (gapEnd - at) * rng.between(0.3, 0.7)), 'cosmics-end');
      emitted = started(open, null, params);
      break;
    }
    case 'cosmics-end': {
      const open = closeRun(state);
      emitted = {
        run: open.run,
        fill: null,
        start: open.start,
        end: at,
        lumi: 0,
        type: open.type,
        meta: { global_tag: params.globalTag, int_lumi_fb: round(state.deliveredPb / 1000, 4) },
      };
      state.next = { kind: 'inject', at: Math.max(at, state.gapEnd ?? at) };
      break;
    }
  }
  state.rng = rng.state;
  return emitted;
}

/** After a dump: a turnaround of one to two and a half hours, half the time with a cosmics run. */
function planGap(state: LhcState, rng: Prng, at: number): void {
  state.gapEnd = at + Math.round(rng.between(60, 150) * MINUTE);
  if (rng.next() < COSMICS_CHANCE) {
    state.next = { kind: 'cosmics-start', at: at + Math.round(rng.between(5, 15) * MINUTE) };
  } else {
    state.next = { kind: 'inject', at: state.gapEnd };
  }
}

function openRun(state: LhcState, type: OpenRun['type'], at: number, efficiency: number): OpenRun {
  const open: OpenRun = { run: state.nextRun, type, start: at, efficiency };
  state.nextRun += 1;
  state.open = open;
  return open;
}

function closeRun(state: LhcState): OpenRun {
  const open = state.open;
  if (open === null) throw corrupt(state, 'without an open run');
  state.open = null;
  return open;
}

function requireBeam(state: LhcState): Beam {
  if (state.beam === null) throw corrupt(state, 'without beam');
  return state.beam;
}

/** Only a hand-edited cursor gets here: the simulator itself never schedules such an event. */
function corrupt(state: LhcState, what: string): InvalidInputError {
  return new InvalidInputError(
    'cursor',
    `simulator event ${state.next.kind} ${what}: the stored cursor is inconsistent; reset the source's cursor to start a new simulation`,
  );
}

function started(open: OpenRun, fill: number | null, params: LhcParams): RunInput {
  return {
    run: open.run,
    fill,
    start: open.start,
    end: null,
    lumi: null,
    type: open.type,
    meta: { global_tag: params.globalTag },
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
