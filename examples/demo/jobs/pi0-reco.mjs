// π0 reconstruction, one job per reconstructed file (`jobs: { per: input }`):
// pairs photons and fills the diphoton mass peak. The raw peak sits below the
// π0 mass by the crystals' transparency loss, before any correction.
import { ALPHA, PI0_MASS_MEV, transparency } from './detector.mjs';
import {
  gauss,
  JobError,
  job,
  main,
  readInputs,
  readJson,
  rng,
  round,
  work,
  writeOutput,
} from './lib.mjs';

await main(async () => {
  const inputs = readInputs();
  // The command passes `{input}`; the inputs file names it too.
  const file = process.argv[2] || inputs.input;
  if (!file) throw new JobError('no input file: this task runs one job per upstream file');
  const reco = readJson(file);
  const run = inputs.runs.find((r) => r.run === reco.run);
  if (!run) throw new JobError(`${file} is from run ${reco.run}, not one of ${job.runs.join(',')}`);
  const rand = rng('pi0-reco', run.run, reco.source);
  await work();
  const nPi0 = run.type === 'cosmics' ? 0 : Math.round(reco.n_events * (0.75 + 0.1 * rand()));
  const rawMass = PI0_MASS_MEV * transparency(run) ** ALPHA * (1 + 0.002 * gauss(rand));
  const peak = nPi0 > 0 ? { raw_mass_mev: round(rawMass, 3) } : {};
  const path = writeOutput(`pi0_hist_${run.run}_${job.index}.json`, {
    run: run.run,
    source: file,
    n_pi0: nPi0,
    ...peak,
  });
  return {
    fields: { n_pi0: nPi0, ...peak },
    outputs: [{ path, kind: 'pi0-histograms', meta: { run: run.run, n_pi0: nPi0, ...peak } }],
  };
});
