import type { TaskConfig } from '../config/types.ts';
import type { EngineContext } from './context.ts';
import { groupRuns, parseIntakeState } from './grouping.ts';
import { appliesPredicate } from './run-filter.ts';

const BATCH = 5000;

/**
 * Step 1 of a pass for one (campaign, task): new runs and completed groups
 * become `new` instances. Runs the task does not apply to (its `when`, or an
 * upstream's) are passed over. `prompt` follows every run by its `seq`; a
 * reprocessing campaign goes once through its fixed run list.
 */
export async function intake(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
): Promise<number> {
  const key = `intake:${campaign}:${task.name}`;
  const accept = appliesPredicate(task, ctx.deployment.tasks);
  const list = ctx.campaigns.get(campaign)?.runs ?? null;
  let state = parseIntakeState(await ctx.store.getCursor(key));
  let created = 0;
  for (;;) {
    if (list !== null && state.seq >= list.length) return created;
    // For a campaign the cursor's `seq` is a position in its run list, which never changes.
    const runs =
      list === null
        ? await ctx.store.runsSince(state.seq, BATCH)
        : await ctx.store.getRuns(list.slice(state.seq, state.seq + BATCH));
    if (list === null && runs.length === 0) return created;
    const final = list !== null && state.seq + BATCH >= list.length;
    const result = groupRuns(
      task.group,
      state,
      runs,
      { campaign, task: task.name },
      { accept, final },
    );
    state =
      list === null
        ? result.state
        : { ...result.state, seq: Math.min(list.length, state.seq + BATCH) };
    // Instances and cursor in one transaction: a crash in between cannot lose or repeat a group.
    const made = await ctx.store.createInstances(result.groups, 'engine', {
      key,
      value: JSON.stringify(state),
    });
    created += made.length;
    if (list === null && runs.length < BATCH) return created;
  }
}

/** Whether a campaign's intake of `task` went through its whole run list. */
export async function intakeDone(
  ctx: Pick<EngineContext, 'store'>,
  campaign: { name: string; runs: readonly number[] },
  task: string,
): Promise<boolean> {
  const state = parseIntakeState(await ctx.store.getCursor(`intake:${campaign.name}:${task}`));
  return state.seq >= campaign.runs.length;
}
