// Pulse shapes, once per fill: the fitted α–β shape of the ECAL signal and the
// time of its maximum, which drifts slowly as the crystals and APDs age.
import { gauss, JobError, main, readInputs, rng, round, work, writeOutput } from './lib.mjs';

await main(async () => {
  const { runs, outputs } = readInputs();
  const fill = runs[0]?.fill;
  if (fill == null) throw new JobError('no fill in the inputs: pulse shapes are made per fill');
  const rand = rng('pulse-shapes', fill);
  await work();
  const intFb = Math.max(...runs.map((r) => Number(r.meta?.int_lumi_fb ?? 0)));
  const nEvents = outputs
    .filter((o) => o.kind === 'reco')
    .reduce((n, o) => n + Number(o.meta?.n_events ?? 0), 0);
  const shape = {
    t_max_ns: round(125 + 0.02 * intFb + 0.15 * gauss(rand), 3),
    alpha: round(1.138 + 0.004 * gauss(rand), 4),
    beta: round(1.655 + 0.006 * gauss(rand), 4),
  };
  const path = writeOutput(`pulse_shapes_fill${fill}.json`, {
    fill,
    runs: runs.map((r) => r.run),
    ...shape,
  });
  return {
    fields: { ...shape, n_events: nEvents },
    outputs: [{ path, kind: 'pulse-shapes', meta: { fill, ...shape } }],
  };
});
