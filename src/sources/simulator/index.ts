import type { RunInput } from '../../model/types.ts';
import type { Source, SourceFactory } from '../contract.ts';
import { parseCursor, type SimCursor } from './cursor.ts';
import { initialState, type LhcParams, type LhcState, step } from './lhc.ts';

/** A long pause (a stopped controller) yields at most this many runs; the simulation then resumes from there. */
export const MAX_RUNS_PER_POLL = 1000;

interface SimulatorOptions {
  seed: number;
  firstRun: number;
  firstFill: number;
  speed: number;
  backlog: number;
  intLumiFb: number;
  params: LhcParams;
}

/**
 * A simulated LHC and detector for demos and tests: fills, collisions runs with
 * a luminosity that decays through the fill, cosmics runs between fills. Same
 * options and same poll times give the same runs.
 */
export const createSimulatorSource: SourceFactory = async (name, options) => {
  const opts = resolveOptions(options);
  const source: Source = {
    name,
    async poll(cursor, now) {
      const c = cursor === null ? begin(opts, now) : parseCursor(cursor);
      if (c.speed !== opts.speed) {
        // A new speed applies from now on; rescaling the time since the anchor would jump or stall.
        c.anchor = { real: now, sim: c.state.clock };
        c.speed = opts.speed;
      }
      const target = c.anchor.sim + Math.floor((now - c.anchor.real) * c.speed);
      const { runs, capped } = advance(c.state, opts.params, target);
      if (capped) c.anchor = { real: now, sim: c.state.clock };
      return { runs, cursor: JSON.stringify(c) };
    },
  };
  return source;
};

/**
 * Starts at `now` with stable beams declared just long enough ago for
 * `backlog` runs to have ended, so a fresh demo has work at once.
 */
function begin(opts: SimulatorOptions, now: number): SimCursor {
  const fresh = (at: number): LhcState =>
    initialState(opts.seed, at, opts.firstRun, opts.firstFill, opts.intLumiFb * 1000);
  const dry = fresh(0);
  for (let ended = 0; ended < opts.backlog; ) {
    if (step(dry, opts.params)?.end != null) ended++;
  }
  return {
    v: 1,
    anchor: { real: now, sim: now },
    speed: opts.speed,
    state: fresh(now - dry.clock),
  };
}

/** Applies the events due by `target`; a run started and ended in one call is returned once, ended. */
function advance(
  state: LhcState,
  params: LhcParams,
  target: number,
): { runs: RunInput[]; capped: boolean } {
  const runs = new Map<number, RunInput>();
  while (state.next.at <= target) {
    if (runs.size >= MAX_RUNS_PER_POLL) return { runs: [...runs.values()], capped: true };
    const run = step(state, params);
    if (run) runs.set(run.run, run);
  }
  state.clock = Math.max(state.clock, target);
  return { runs: [...runs.values()], capped: false };
}

/** The registry has validated the types; this fills in the defaults. */
function resolveOptions(o: Record<string, unknown>): SimulatorOptions {
  const num = (key: string, fallback: number): number => {
    const v = o[key];
    return typeof v === 'number' ? v : fallback;
  };
  return {
    seed: num('seed', 1),
    firstRun: num('first_run', 355100),
    firstFill: num('first_fill', 8033),
    speed: num('speed', 1200),
    backlog: num('backlog', 2),
    intLumiFb: num('int_lumi_fb', 10),
    params: {
      runMinutes: num('run_minutes', 60),
      runsPerFill: num('runs_per_fill', 4),
      globalTag: typeof o.global_tag === 'string' ? o.global_tag : '130X_dataRun3_Prompt_v3',
    },
  };
}
