import type { TaskConfig } from '../config/types.ts';
import type { EngineContext } from './context.ts';
import { groupRuns, parseIntakeState } from './grouping.ts';

const BATCH = 5000;

/** Step 1 of a pass for one (campaign, task): new runs and completed groups become `new` instances. */
export async function intake(
  ctx: EngineContext,
  campaign: string,
  task: TaskConfig,
): Promise<number> {
  const key = `intake:${campaign}:${task.name}`;
  let state = parseIntakeState(await ctx.store.getCursor(key));
  let created = 0;
  for (;;) {
    const runs = await ctx.store.runsSince(state.seq, BATCH);
    if (runs.length === 0) return created;
    const result = groupRuns(task.group, state, runs, { campaign, task: task.name });
    state = result.state;
    // Instances and cursor in one transaction: a crash in between cannot lose or repeat a group.
    const made = await ctx.store.createInstances(result.groups, 'engine', {
      key,
      value: JSON.stringify(state),
    });
    created += made.length;
    if (runs.length < BATCH) return created;
  }
}
