// Laser monitoring: the laser light seen by the APDs, normalised by the PN
// diodes, tracks the crystals' transparency; its inverse to the power α
// corrects the energy scale for this run.
import { ALPHA, CHANNELS, longTerm, transparency } from './detector.mjs';
import { gauss, JobError, main, readInputs, rng, round, work, writeOutput } from './lib.mjs';

await main(async () => {
  const run = readInputs().runs[0];
  if (!run) throw new JobError('no run in the inputs');
  const rand = rng('laser', run.run);
  await work();
  const truth = transparency(run);
  const apdPn = truth * (1 + 0.0008 * gauss(rand));
  const bad = Math.max(0, Math.round(12 + 200 * (1 - longTerm(run)) + 3 * gauss(rand)));
  const correction = apdPn ** -ALPHA;
  const path = writeOutput(`laser_${run.run}.json`, {
    run: run.run,
    channels: CHANNELS,
    apd_pn_ratio: apdPn,
    alpha: ALPHA,
    correction,
    bad_channels: bad,
  });
  return {
    fields: {
      transparency: round(truth, 5),
      apd_pn_ratio: round(apdPn, 5),
      n_channels_bad: bad,
    },
    outputs: [
      {
        path,
        kind: 'laser-corrections',
        meta: { run: run.run, apd_pn_ratio: apdPn, correction: round(correction, 5) },
      },
    ],
  };
});
