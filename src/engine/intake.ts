import type { TaskConfig } from '../config/types.ts';
import type { Instance, Run } from '../model/types.ts';
import { type EngineContext, fenceOf } from './context.ts';
import { groupRuns, parseIntakeState } from './grouping.ts';
import { appliesPredicate } from './run-filter.ts';

const BATCH = 5000;

/**
 * Step 1 of a pass for one (campaign, task): new runs and completed groups
 * become `new` instances, which it returns. Runs the task does not apply to
 * (its `when`, or an upstream's) are passed over. `prompt` follows runs in
 * the store's change feed; a reprocessing campaign goes once through its
 * fixed run list.
 */
export async function intake(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
): Promise<Instance[]> {
  const key = `intake:${campaign}:${task.name}`;
  const accept = appliesPredicate(task, ctx.deployment.tasks);
  const list = ctx.campaigns.get(campaign)?.runs ?? null;
  let state = parseIntakeState(await ctx.store.getCursor(key));
  const created: Instance[] = [];
  for (;;) {
    if (list !== null && state.seq >= list.length) return created;
    // For a campaign the cursor's `seq` is a position in its run list, which never changes.
    let runs: Run[];
    let feed = state.feed;
    if (list === null) {
      const page = await ctx.store.readFeed(state.feed ?? null, { limit: BATCH, kinds: ['run'] });
      runs = page.items.flatMap((i) => (i.kind === 'run' ? [i.run] : []));
      feed = page.cursor;
      // The position is kept only with new instances: reading past other items again costs an index probe.
      if (runs.length === 0) return created;
    } else {
      runs = await ctx.store.getRuns(list.slice(state.seq, state.seq + BATCH));
    }
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
        ? { ...result.state, ...(feed !== undefined ? { feed } : {}) }
        : { ...result.state, seq: Math.min(list.length, state.seq + BATCH) };
    // Instances and cursor in one transaction: a crash in between cannot lose or repeat a group.
    const made = await ctx.store.createInstances(result.groups, 'engine', {
      ...fenceOf(ctx),
      cursor: { key, value: JSON.stringify(state) },
    });
    created.push(...made);
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
