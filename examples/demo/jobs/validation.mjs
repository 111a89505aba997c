// Validation of a new intercalibration: the π0 mass it gives must stay close
// to the reference. A miss is a physics verdict, not a glitch: the job fails
// and retrying would not change it.
import { JobError, main, readInputs, report, round, writeOutput } from './lib.mjs';

const REFERENCE_MEV = Number(process.env.PI0_REF_MEV ?? 134.977);
const MAX_DELTA_PCT = Number(process.env.MAX_DELTA_PCT ?? 1.0);

await main(async () => {
  const { runs, outputs } = readInputs();
  const calibrations = outputs.filter((o) => o.kind === 'intercalibration');
  if (calibrations.length === 0) throw new JobError('no intercalibration among the inputs');
  const deltaOf = (o) => (100 * (o.meta.pi0_mass_mev - REFERENCE_MEV)) / REFERENCE_MEV;
  const worst = calibrations.reduce((a, b) =>
    Math.abs(deltaOf(b)) > Math.abs(deltaOf(a)) ? b : a,
  );
  const delta = deltaOf(worst);
  const passed = Math.abs(delta) <= MAX_DELTA_PCT;
  const verdict = {
    pi0_mass_mev: worst.meta.pi0_mass_mev,
    reference_mev: REFERENCE_MEV,
    delta_pct: round(delta, 3),
    verdict: passed ? 'pass' : 'fail',
  };
  const path = writeOutput(`validation_${runs[0]?.run}-${runs.at(-1)?.run}.json`, {
    ...verdict,
    max_delta_pct: MAX_DELTA_PCT,
    calibrations: calibrations.map((o) => o.path),
  });
  const result = {
    fields: verdict,
    outputs: [
      {
        path,
        kind: 'validation',
        meta: { ...verdict, calibrations: calibrations.map((o) => o.path) },
      },
    ],
  };
  if (passed) return result;
  // Keep the verdict and the report file: the failure is worth reading.
  await report(result);
  throw new JobError(
    `π0 mass ${worst.meta.pi0_mass_mev} MeV is ${round(delta, 2)}% off the reference ${REFERENCE_MEV} MeV (limit ±${MAX_DELTA_PCT}%)`,
  );
});
