import type { Campaign } from '../model/campaign.ts';
import type { StateStore } from './contract.ts';

/**
 * Campaigns by revision, for a process that lists them often (the engine at
 * every pass, the API): a listing reads their heads, and a whole campaign
 * (its run list, tens of thousands of runs) only when it is new or its
 * revision changed, which every change does (extend, cancel, delete).
 */
export class CampaignCache {
  readonly #known = new Map<string, Campaign>();

  /** Every campaign but deleted ones, oldest first. */
  async list(store: StateStore): Promise<Campaign[]> {
    const heads = await store.campaignHeads();
    const out: Campaign[] = [];
    for (const head of heads) {
      let c = this.#known.get(head.name);
      if (c === undefined || c.revision !== head.revision) {
        const fresh = await store.getCampaign(head.name);
        this.#known.delete(head.name);
        if (fresh === null) continue;
        c = fresh;
        this.#known.set(head.name, c);
      }
      out.push(c);
    }
    const names = new Set(heads.map((h) => h.name));
    for (const name of this.#known.keys()) if (!names.has(name)) this.#known.delete(name);
    return out;
  }
}
