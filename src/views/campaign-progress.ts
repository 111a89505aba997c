import type { Deployment } from '../config/types.ts';
import { intakeDone } from '../engine/intake.ts';
import { NotFoundError } from '../errors.ts';
import {
  type Campaign,
  type CampaignCounts,
  type CampaignState,
  PROMPT,
} from '../model/campaign.ts';
import type { CampaignCache } from '../store/campaign-cache.ts';
import type { StateStore } from '../store/contract.ts';

/** A campaign name that names nothing (code `not_found`, as every missing record). */
export class UnknownCampaignError extends NotFoundError {
  constructor(name: string) {
    super('campaign', name);
    this.message = `no campaign ${name}: \`autoctrl campaign list\` shows them (prompt always exists)`;
  }
}

/** How far a campaign has come, for `campaign list`, `campaign watch` and the API. */
export interface CampaignProgress {
  name: string;
  /** `prompt` is always active. */
  state: CampaignState;
  /** Runs it covers; for `prompt`, every run in the store. */
  runs: number;
  tasks: string[];
  /** Null for `prompt`, which is never capped. */
  share: number | null;
  createdAt: number | null;
  instances: CampaignCounts['instances'];
  jobs: CampaignCounts['jobs'];
  /** Instances done or failed for good. */
  settled: number;
  /** `settled` over all instances, 0-100; 0 before any instance exists. */
  percent: number;
  /** Every run went through intake and every instance is done or failed (a cancelled campaign: no job left active). Never for `prompt`. */
  complete: boolean;
}

interface Deps {
  store: StateStore;
  deployment: Deployment;
  /** A server's: campaigns re-read only when they changed. */
  cache?: CampaignCache;
}

/** The progress of one campaign (`prompt` included); `NotFoundError` for an unknown name. */
export async function campaignProgress(deps: Deps, name: string): Promise<CampaignProgress> {
  if (name === PROMPT) return promptProgress(deps);
  const c = await deps.store.getCampaign(name);
  if (c === null) throw new UnknownCampaignError(name);
  return progressOf(deps, c);
}

/** `prompt` then every reprocessing campaign, oldest first. */
export async function allCampaignProgress(deps: Deps): Promise<CampaignProgress[]> {
  const out = [await promptProgress(deps)];
  const campaigns = await (deps.cache?.list(deps.store) ?? deps.store.listCampaigns());
  for (const c of campaigns) out.push(await progressOf(deps, c));
  return out;
}

async function promptProgress(deps: Deps): Promise<CampaignProgress> {
  const counts = await deps.store.campaignCounts(PROMPT);
  return {
    name: PROMPT,
    state: 'active',
    runs: await deps.store.countRuns(),
    tasks: deps.deployment.tasks.map((t) => t.name),
    share: null,
    createdAt: null,
    ...summary(counts),
    complete: false,
  };
}

async function progressOf(deps: Deps, c: Campaign): Promise<CampaignProgress> {
  const counts = await deps.store.campaignCounts(c.name);
  const s = summary(counts);
  const open = counts.instances.new + counts.instances.waiting + counts.instances.processing;
  if (c.state === 'cancelled')
    return {
      ...base(c),
      ...s,
      complete: counts.jobs.idle + counts.jobs.running === 0 && counts.instances.processing === 0,
    };
  let complete = open === 0;
  // A task since removed from the deployment file never takes its runs in: it cannot hold completion back.
  const live = c.tasks.filter((t) => deps.deployment.tasks.some((d) => d.name === t));
  for (const task of live) {
    if (!complete) break;
    complete = await intakeDone(deps, c, task);
  }
  return { ...base(c), ...s, complete };
}

function base(c: Campaign) {
  return {
    name: c.name,
    state: c.state ?? 'active',
    runs: c.runs.length,
    tasks: c.tasks,
    share: c.share,
    createdAt: c.createdAt,
  };
}

function summary(counts: CampaignCounts) {
  const i = counts.instances;
  const total = i.new + i.waiting + i.processing + i.done + i.failed;
  const settled = i.done + i.failed;
  return {
    instances: counts.instances,
    jobs: counts.jobs,
    settled,
    percent: total === 0 ? 0 : (100 * settled) / total,
  };
}
