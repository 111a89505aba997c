// Upload of a validated intercalibration to the conditions database (here a
// JSON record): the payload is named by its content hash, valid from the
// first run of its block.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { JobError, main, readInputs, work, writeOutput } from './lib.mjs';

const TAG = process.env.CONDDB_TAG ?? 'EcalIntercalibConstants_prompt_v1';

await main(async () => {
  const { runs, outputs } = readInputs();
  const passed = outputs.filter((o) => o.kind === 'validation' && o.meta.verdict === 'pass');
  const calibrations = passed.flatMap((o) => o.meta.calibrations ?? []);
  if (calibrations.length === 0) throw new JobError('no validated intercalibration to upload');
  const since = runs[0]?.run;
  await work();
  const payloads = calibrations.map((file) => ({
    file,
    hash: createHash('sha1').update(readFileSync(file)).digest('hex'),
  }));
  const hash = payloads[0]?.hash ?? '';
  const path = writeOutput(`payload_${TAG}_${since}.json`, { tag: TAG, since, payloads });
  console.log(`uploaded ${hash} to ${TAG}, IOV since run ${since}`);
  return {
    fields: { iov_since: since, payload_hash: hash, tag: TAG },
    outputs: [{ path, kind: 'conditions-payload', meta: { tag: TAG, since, hash } }],
  };
});
