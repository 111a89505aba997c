import { createHash } from 'node:crypto';
import type { Deployment, TaskConfig } from '../config/types.ts';
import { PROMPT } from '../model/campaign.ts';
import type { StateStore } from '../store/contract.ts';
import type { RunExpectation } from '../store/overview-contract.ts';
import { taskAppliesTo } from './run-filter.ts';

const BATCH = 5000;
const checked = new WeakMap<StateStore, string>();

const hashes = new WeakMap<Deployment, string>();

/** What decides which tasks apply to a run: a change of it invalidates every stored count. */
function applicabilityHash(deployment: Deployment): string {
  // Once per deployment, not per pass: a pass that starts one job must not hash every task.
  let hash = hashes.get(deployment);
  if (hash === undefined) {
    const rules = deployment.tasks.map((t) => [t.name, t.group.by, t.when, t.after]);
    hash = createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 16);
    hashes.set(deployment, hash);
  }
  return hash;
}

/**
 * Computes, for the overview's rows that lack it, how many tasks apply to
 * the run (-1 when none does yet and the run is still going on: a filter on
 * luminosity may still let tasks in). The store cannot: it does not know the
 * deployment. The leader does it at the end of every pass, where it is cheap
 * when there is nothing to do (one index probe): reading the overview never
 * writes.
 */
export async function refreshExpectations(
  store: StateStore,
  deployment: Deployment,
): Promise<number> {
  const hash = applicabilityHash(deployment);
  if (checked.get(store) !== hash) {
    const key = 'overview:applicability';
    if ((await store.getCursor(key)) !== hash) {
      await store.resetRunExpectations();
      await store.setCursor(key, hash);
    }
    checked.set(store, hash);
  }
  let done = 0;
  let tasksOf: Map<string, TaskConfig[]> | null = null;
  for (;;) {
    const pending = await store.runsWithoutExpectation(BATCH);
    if (pending.length === 0) return done;
    tasksOf ??= await campaignTasks(store, deployment);
    const list = pending.map(({ campaign, run }): RunExpectation => {
      const tasks = tasksOf?.get(campaign) ?? deployment.tasks;
      const n = tasks.filter((t) => taskAppliesTo(t, run, deployment.tasks)).length;
      return {
        campaign,
        run: run.run,
        seq: run.seq,
        expected: n === 0 && run.end === null ? -1 : n,
      };
    });
    await store.setRunExpectations(list);
    done += pending.length;
    // A row whose run changed meanwhile stays unknown and comes back: stop rather than spin.
    if (pending.length < BATCH) return done;
  }
}

async function campaignTasks(
  store: StateStore,
  deployment: Deployment,
): Promise<Map<string, TaskConfig[]>> {
  const byName = new Map(deployment.tasks.map((t) => [t.name, t]));
  const out = new Map<string, TaskConfig[]>([[PROMPT, deployment.tasks]]);
  for (const c of await store.listCampaigns()) {
    out.set(
      c.name,
      c.tasks.flatMap((n) => byName.get(n) ?? []),
    );
  }
  return out;
}
