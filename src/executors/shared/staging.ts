import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfrastructureError } from '../../errors.ts';
import { makeDirs, makeDirsSync } from '../../fs-util.ts';
import type { JobLaunch } from '../contract.ts';

/** Names inside a job's work directory that every executor staging on a shared filesystem uses. */
export const STAGED = { inputs: 'inputs.json', outputs: 'out' } as const;

/**
 * Stages a job where it runs on a filesystem the controller also sees (this
 * machine, or a cluster's shared filesystem): `out/` and `inputs.json` in its
 * work directory. A failure here is the site's, not the job's.
 */
export async function stageOnSharedFs(launch: JobLaunch): Promise<void> {
  try {
    await makeDirs(join(launch.workDir, STAGED.outputs));
    await writeFile(inputsPath(launch), inputsText(launch));
  } catch (err) {
    throw siteFailure(launch, err);
  }
}

/**
 * The first half of `stageOnSharedFs` for a work directory on this
 * machine's disk, without the thread pool (see `makeDirsSync` for why): the
 * work directory and its `out/`.
 */
export function makeWorkDir(launch: JobLaunch): void {
  try {
    makeDirsSync(join(launch.workDir, STAGED.outputs));
  } catch (err) {
    throw siteFailure(launch, err);
  }
}

/** The second half: `inputs.json`, once the work directory exists. */
export function writeInputs(launch: JobLaunch): void {
  try {
    writeFileSync(inputsPath(launch), inputsText(launch));
  } catch (err) {
    throw siteFailure(launch, err);
  }
}

const inputsPath = (launch: JobLaunch) => join(launch.workDir, STAGED.inputs);
const inputsText = (launch: JobLaunch) => JSON.stringify(launch.inputs, null, 1);

function siteFailure(launch: JobLaunch, err: unknown): InfrastructureError {
  const why = err instanceof Error ? err.message : String(err);
  return new InfrastructureError(`staging job ${launch.jobId} in ${launch.workDir}`, why, {
    cause: err,
  });
}
