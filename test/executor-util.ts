import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { Executor, ExecutorJobState, JobLaunch, JobRef } from '../src/executors/contract.ts';

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

/** Asks `executor` about `ref` until its state is `want` (or passes `want`), failing after `ms`. */
export async function waitForState(
  executor: Executor,
  ref: JobRef,
  want: ExecutorJobState['state'] | ((s: ExecutorJobState) => boolean),
  opts: { ms?: number; everyMs?: number } = {},
): Promise<ExecutorJobState> {
  const ok = typeof want === 'function' ? want : (s: ExecutorJobState) => s.state === want;
  const ms = opts.ms ?? 15_000;
  const deadline = Date.now() + ms;
  for (;;) {
    const state = (await executor.status([ref])).get(ref.jobId);
    if (state !== undefined && ok(state)) return state;
    if (Date.now() > deadline)
      assert.fail(`job ${ref.jobId}: no ${String(want)} after ${ms} ms: ${JSON.stringify(state)}`);
    await delay(opts.everyMs ?? 30);
  }
}
