import type { Deployment } from '../config/types.ts';
import { runStatus } from '../model/run-status.ts';
import type { InstanceStatus, Meta, Run, RunStatus } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';

export interface OverviewRow {
  campaign: string;
  run: number;
  fill: number | null;
  lumi: number | null;
  end: string | null;
  type: string | null;
  meta: Meta;
  status: RunStatus;
  tasks: Record<string, InstanceStatus>;
}

/**
 * Whether a task can ever have an instance for this run. Runs without a
 * fill never join a fill-grouped task, so they must not wait for it.
 */
export function taskApplies(task: Deployment['tasks'][number], run: Run): boolean {
  return !(task.group.by === 'fill' && run.fill === null);
}

/** The runs × tasks grid, newest run first, one page at a time (`before` is the last run of the previous page). */
export async function overview(
  store: StateStore,
  deployment: Deployment,
  q: { campaign: string; limit: number; before?: number; from?: number; to?: number },
): Promise<{ rows: OverviewRow[]; next: number | null }> {
  const runs = await store.listRuns({
    limit: q.limit,
    ...(q.before !== undefined ? { before: q.before } : {}),
    ...(q.from !== undefined ? { from: q.from } : {}),
    ...(q.to !== undefined ? { to: q.to } : {}),
  });
  const cells = await store.cellsForRuns(
    q.campaign,
    runs.map((r) => r.run),
  );
  const byRun = new Map<number, Record<string, InstanceStatus>>();
  for (const c of cells) {
    const tasks = byRun.get(c.run) ?? {};
    tasks[c.task] = c.status;
    byRun.set(c.run, tasks);
  }
  const rows = runs.map((r): OverviewRow => {
    const tasks = byRun.get(r.run) ?? {};
    const applicable = deployment.tasks.filter((t) => taskApplies(t, r)).map((t) => t.name);
    return {
      campaign: q.campaign,
      run: r.run,
      fill: r.fill,
      lumi: r.lumi,
      end: r.end === null ? null : new Date(r.end).toISOString(),
      type: r.type,
      meta: r.meta,
      status: runStatus(applicable, tasks),
      tasks,
    };
  });
  const last = runs.at(-1);
  return { rows, next: runs.length === q.limit && last !== undefined ? last.run : null };
}
