import type { InstanceStatus, RunStatus } from './types.ts';

/**
 * A run's global status over the tasks that apply to it: `done` when every one
 * is done, `failed` when any failed for good, otherwise `processing`. A task
 * without an instance for the run yet counts as not done.
 */
export function runStatus(
  applicableTasks: readonly string[],
  byTask: Readonly<Record<string, InstanceStatus>>,
): RunStatus {
  let done = 0;
  for (const task of applicableTasks) {
    const s = byTask[task];
    if (s === 'failed') return 'failed';
    if (s === 'done') done++;
  }
  return applicableTasks.length > 0 && done === applicableTasks.length ? 'done' : 'processing';
}
