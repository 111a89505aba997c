import type { Executor, JobLaunch } from '../src/executors/contract.ts';

/** Submits one launch and returns its id, or throws the error the executor answered with. */
export async function submitOne(executor: Executor, launch: JobLaunch): Promise<string | null> {
  const [answer] = await executor.submit([launch]);
  if (answer === undefined) throw new Error('no answer for the launch');
  if ('error' in answer) throw answer.error;
  return answer.executorId;
}

/** The fields of a launch the local tests do not care about. */
export const LAUNCH_DEFAULTS: Pick<JobLaunch, 'attempt' | 'inputs' | 'resources'> = {
  attempt: 1,
  inputs: { runs: [], outputs: [], input: null },
  resources: {},
};
