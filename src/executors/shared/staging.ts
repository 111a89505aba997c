import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfrastructureError } from '../../errors.ts';
import { makeDirs } from '../../fs-util.ts';
import type { JobLaunch } from '../contract.ts';

/** Names inside a job's work directory that every executor staging on a shared filesystem uses. */
export const STAGED = { inputs: 'inputs.json', outputs: 'out' } as const;

/**
 * Stages a job where it runs on a filesystem the controller also sees (this
 * machine, or a cluster's shared filesystem): `out/` and `inputs.json` in its
 * work directory. A failure here is the site's, not the job's.
 */
export async function stageOnSharedFs(launch: JobLaunch): Promise<void> {
  await makeWorkDir(launch);
  await writeInputs(launch);
}

/** The first step of `stageOnSharedFs`: the work directory and its `out/`. */
export function makeWorkDir(launch: JobLaunch): Promise<void> {
  return asSiteFailure(launch, () => makeDirs(join(launch.workDir, STAGED.outputs)));
}

/** The second step of `stageOnSharedFs`: `inputs.json`, once the work directory exists. */
export function writeInputs(launch: JobLaunch): Promise<void> {
  return asSiteFailure(launch, () =>
    writeFile(join(launch.workDir, STAGED.inputs), JSON.stringify(launch.inputs, null, 1)),
  );
}

async function asSiteFailure(launch: JobLaunch, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InfrastructureError(`staging job ${launch.jobId} in ${launch.workDir}`, why, {
      cause: err,
    });
  }
}
