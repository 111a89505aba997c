// A synthetic but credible model of the ECAL crystals' response: what the
// jobs "measure". Radiation darkens the crystals while beams collide and
// they partly recover without beam; a slow part of the damage never recovers.

export const PI0_MASS_MEV = 134.977;
/** Scintillation signal vs. laser response: S/S0 = (R/R0)^α, α ≈ 1.5 for the barrel. */
export const ALPHA = 1.52;
export const CHANNELS = 61_200;

/** Losses at saturation and the luminosity scales over which they build up. */
const LONG_TERM = { loss: 0.25, scaleFb: 150 };
const IN_FILL = { loss: 0.05, scalePb: 120 };

/**
 * Crystal transparency at the end of a run, relative to a fresh crystal:
 * R = R_long(int_lumi_fb) · (1 − a·(1 − exp(−L_fill/τ))). Without beam
 * (cosmics, no `fill_lumi_pb`) the fast part has recovered.
 */
export function transparency(run) {
  return longTerm(run) * (1 - IN_FILL.loss * (1 - Math.exp(-fillLumiPb(run) / IN_FILL.scalePb)));
}

/** The part of the damage that does not recover between fills. */
export function longTerm(run) {
  const intFb = Number(run.meta?.int_lumi_fb ?? 0);
  return 1 - LONG_TERM.loss * (1 - Math.exp(-intFb / LONG_TERM.scaleFb));
}

function fillLumiPb(run) {
  return Number(run.meta?.fill_lumi_pb ?? 0);
}

/** Events the π0 calibration stream records: ~5,000 per /pb, a trickle in cosmics runs. */
export function streamEvents(run, rand) {
  if (run.type === 'cosmics') {
    const minutes = ((run.end ?? run.start) - run.start) / 60_000;
    return Math.round(minutes * 20 * (0.8 + 0.4 * rand()));
  }
  return Math.round((run.lumi ?? 0) * 5_000 * (0.9 + 0.2 * rand()));
}
