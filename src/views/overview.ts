import type { Deployment, TaskConfig } from '../config/types.ts';
import { taskAppliesTo } from '../engine/run-filter.ts';
import type { InstanceStatus, Meta, Run, RunStatus } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';
import type { OverviewQuery } from '../store/overview-contract.ts';

export interface OverviewCell {
  status: InstanceStatus;
  instanceId: number;
  /** Why it is in this status (closed lock, upstream not done, failure cause). */
  reason: string | null;
}

export interface OverviewRow {
  campaign: string;
  run: number;
  fill: number | null;
  lumi: number | null;
  start: string | null;
  end: string | null;
  type: string | null;
  meta: Meta;
  status: RunStatus;
  tasks: Record<string, OverviewCell>;
}

/** Whether a task can ever have an instance for this run (its `when`, its grouping, its upstream). */
export function taskApplies(task: TaskConfig, run: Run, tasks: readonly TaskConfig[]): boolean {
  return taskAppliesTo(task, run, tasks);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The runs × tasks grid, one page at a time, every filter served by an index
 * of the store (see `OverviewStore`). Asks for one row more than the page to
 * know whether another page follows.
 */
export async function overviewPage(
  store: StateStore,
  _deployment: Deployment,
  q: OverviewQuery,
): Promise<{ rows: OverviewRow[]; next: number | null }> {
  const found = await store.overviewRuns({ ...q, limit: q.limit + 1 });
  const page = found.slice(0, q.limit);
  const cells = await store.cellsForRuns(
    q.campaign,
    page.map((r) => r.run.run),
  );
  const byRun = new Map<number, Record<string, OverviewCell>>();
  for (const c of cells) {
    const tasks = byRun.get(c.run) ?? {};
    tasks[c.task] = { status: c.status, instanceId: c.instanceId, reason: c.reason };
    byRun.set(c.run, tasks);
  }
  const rows = page.map(
    ({ run: r, status }): OverviewRow => ({
      campaign: q.campaign,
      run: r.run,
      fill: r.fill,
      lumi: r.lumi,
      start: iso(r.start),
      end: iso(r.end),
      type: r.type,
      meta: r.meta,
      status,
      tasks: byRun.get(r.run) ?? {},
    }),
  );
  const last = page.at(-1);
  return { rows, next: found.length > q.limit && last !== undefined ? last.run.run : null };
}

/**
 * The grid in its first shape, for the CLI: each task as its status only,
 * newest run first, `before` the last run of the previous page.
 */
export async function overview(
  store: StateStore,
  deployment: Deployment,
  q: { campaign: string; limit: number; before?: number; from?: number; to?: number },
): Promise<{
  rows: Array<Omit<OverviewRow, 'tasks'> & { tasks: Record<string, InstanceStatus> }>;
  next: number | null;
}> {
  const { rows, next } = await overviewPage(store, deployment, {
    campaign: q.campaign,
    order: 'desc',
    limit: q.limit,
    ...(q.before !== undefined ? { after: q.before } : {}),
    ...(q.from !== undefined ? { from: q.from } : {}),
    ...(q.to !== undefined ? { to: q.to } : {}),
  });
  return {
    rows: rows.map((r) => ({
      ...r,
      tasks: Object.fromEntries(Object.entries(r.tasks).map(([t, c]) => [t, c.status])),
    })),
    next,
  };
}
