// Per-file reconstruction of the π0 calibration stream: job i of N reads the
// i-th RAW file of the run and writes a reconstructed file with its event count.
import { streamEvents } from './detector.mjs';
import { JobError, job, main, readInputs, rng, work, writeOutput } from './lib.mjs';

/** Share of attempts that hit a (simulated) storage error, so that retries show. */
const FAILURE_RATE = Number(process.env.RECO_FAILURE_RATE ?? 0.15);

await main(async () => {
  const run = readInputs().runs[0];
  if (!run) throw new JobError('no run in the inputs');
  const rand = rng('reco', run.run, job.index);
  // Seeded by the job id and attempt, not the run: a retry or a reprocess gets a fresh chance.
  const chaos = rng('reco-chaos', job.id, job.attempt);
  const file = rawFile(run, job.index);
  console.log(`reconstructing ${file} (run ${run.run}, file ${job.index + 1}/${job.count})`);
  await work();
  if (chaos() < FAILURE_RATE) {
    throw new JobError(
      `FileReadError: XRootD read of ${file} failed: [3010] server timeout (attempt ${job.attempt})`,
    );
  }
  const nEvents = Math.round(streamEvents(run, rand) / job.count);
  const path = writeOutput(`reco_${run.run}_${job.index}.json`, {
    run: run.run,
    fill: run.fill,
    type: run.type,
    source: file,
    n_events: nEvents,
  });
  return {
    fields: { n_events: nEvents, cpu_s: Math.round(nEvents / 900) },
    outputs: [{ path, kind: 'reco', meta: { run: run.run, n_events: nEvents } }],
  };
});

function rawFile(run, index) {
  const r = String(run.run).padStart(9, '0');
  return `/store/data/Run2022C/AlCaP0/RAW/v1/${r.slice(0, 3)}/${r.slice(3, 6)}/${r.slice(6)}/${index}.root`;
}
