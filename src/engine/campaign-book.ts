import { applyOverrides } from '../app/overrides.ts';
import type { Deployment, TaskConfig } from '../config/types.ts';
import { type Campaign, PROMPT } from '../model/campaign.ts';
import { CampaignCache } from '../store/campaign-cache.ts';
import type { StateStore } from '../store/contract.ts';

/** What the engine needs of one campaign during a pass. */
export interface CampaignView {
  name: string;
  /** Fraction of an executor's slots its jobs may hold; null for `prompt`, which is never capped. */
  share: number | null;
  /** The runs it processes, in intake order; null for `prompt`, fed by every run as it comes. */
  runs: readonly number[] | null;
  /** Cancelled: nothing more is taken in or started, its active jobs are stopped. */
  cancelled: boolean;
  /** Its copies of the tasks it runs, overrides applied, upstream first. */
  tasks: readonly TaskConfig[];
  /**
   * Where an upstream task's instances are looked up: the campaign itself if
   * it runs that task, otherwise `prompt`. Reprocessing only a calibration
   * thus starts from prompt's reconstruction outputs.
   */
  upstreamCampaign(task: string): string;
}

/** The view of a stored campaign over the deployment as it is now; throws `OverrideError` if an override no longer fits. */
export function campaignView(deployment: Deployment, c: Campaign): CampaignView {
  const own = new Set(c.tasks);
  return {
    name: c.name,
    share: c.share,
    runs: c.runs,
    cancelled: c.state === 'cancelled',
    // A task since removed from the deployment file is dropped: its jobs fail as for prompt.
    tasks: deployment.tasks
      .filter((t) => own.has(t.name))
      .map((t) => applyOverrides(t, c.overrides)),
    upstreamCampaign: (task) => (own.has(task) ? c.name : PROMPT),
  };
}

export function promptView(deployment: Deployment): CampaignView {
  return {
    name: PROMPT,
    share: null,
    runs: null,
    cancelled: false,
    tasks: deployment.tasks,
    upstreamCampaign: () => PROMPT,
  };
}

/**
 * The campaigns the engine works on, read from the store. A campaign is
 * read and resolved again only when its revision changed (extended,
 * cancelled); `refresh` otherwise reads names and revisions only.
 */
export class CampaignBook {
  readonly #deployment: Deployment;
  readonly #views = new Map<string, CampaignView>();
  readonly #broken = new Set<string>();
  readonly #campaigns = new CampaignCache();
  /** The revision each view was resolved from. */
  readonly #revisions = new Map<string, number>();

  constructor(deployment: Deployment) {
    this.#deployment = deployment;
    this.#views.set(PROMPT, promptView(deployment));
  }

  /**
   * Every campaign, `prompt` first (its instances are upstream of the
   * others'), read through a `CampaignCache`: run lists can be long. A
   * campaign whose overrides no longer fit the deployment is left out,
   * reported once through `onBroken`.
   */
  async refresh(
    store: StateStore,
    onBroken: (name: string, err: unknown) => void = () => {},
  ): Promise<CampaignView[]> {
    const list = [this.#views.get(PROMPT) as CampaignView];
    for (const c of await this.#campaigns.list(store)) {
      if (this.#revisions.get(c.name) !== c.revision) this.#views.delete(c.name);
      const view = this.#resolve(c, onBroken);
      if (view !== undefined) list.push(view);
    }
    return list;
  }

  /** A campaign seen by the last `refresh` or `load`. */
  get(name: string): CampaignView | undefined {
    return this.#views.get(name);
  }

  /** A campaign, read from the store if not seen yet (outside a pass: a job's report). */
  async load(store: StateStore, name: string): Promise<CampaignView | undefined> {
    const known = this.#views.get(name);
    if (known !== undefined || this.#broken.has(name)) return known;
    const c = await store.getCampaign(name);
    return c === null ? undefined : this.#resolve(c, () => {});
  }

  #resolve(c: Campaign, onBroken: (name: string, err: unknown) => void): CampaignView | undefined {
    const known = this.#views.get(c.name);
    if (known !== undefined || this.#broken.has(c.name)) return known;
    try {
      const view = campaignView(this.#deployment, c);
      this.#views.set(c.name, view);
      this.#revisions.set(c.name, c.revision ?? 1);
      return view;
    } catch (err) {
      this.#broken.add(c.name);
      onBroken(c.name, err);
      return undefined;
    }
  }
}
