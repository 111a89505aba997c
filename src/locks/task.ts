import { z } from 'zod';
import { lockKind } from './contract.ts';

/**
 * `task`: another task is `done` for every run of the instance in another
 * campaign (default `prompt`): a reprocessing step that needs the prompt
 * calibration, or a task of one workflow waiting on another's.
 */
export const taskLock = lockKind({
  kind: 'task',
  options: z.strictObject({
    task: z.string().min(1),
    campaign: z.string().min(1).optional(),
  }),
  create(options, ctx) {
    const campaign = options.campaign ?? 'prompt';
    const what = `task ${options.task} in campaign ${campaign}`;
    return {
      key: (target) => target.runs.map((r) => r.run).join(','),
      async check(target) {
        const runs = target.runs.map((r) => r.run);
        const found = await ctx.store.instancesForRuns(campaign, options.task, runs);
        for (const run of runs) {
          const inst = found.find((i) => i.runs.includes(run));
          if (inst === undefined) {
            return { open: false, reason: `${what} has no instance for run ${run}` };
          }
          if (inst.status !== 'done') {
            return { open: false, reason: `${what} is ${inst.status} for run ${run}` };
          }
        }
        return { open: true, reason: `${what} is done` };
      },
    };
  },
});
