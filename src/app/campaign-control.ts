import { CampaignStateError, InvalidInputError, NotFoundError } from '../errors.ts';
import { type Campaign, PROMPT } from '../model/campaign.ts';
import { UnknownCampaignError } from '../views/campaign-progress.ts';
import { type CampaignDeps, describeSelection, parseRuns } from './campaigns.ts';

/**
 * What people do to a reprocessing campaign once created (the CLI and the
 * API share it): cancel, extend, delete. Each is one store transaction with
 * a `campaign` event naming who asked; the engine acts on it at its next pass.
 */

interface Who {
  by: string;
  reason?: string | undefined;
}

function notPrompt(name: string, what: string): void {
  if (name === PROMPT)
    throw new InvalidInputError(
      'name',
      `${PROMPT} is the live campaign: it cannot be ${what} (reprocess or pause its tasks instead)`,
    );
}

/** The store's `not_found` for a campaign, in the words people need (`campaign list`). */
async function named<T>(name: string, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (err) {
    if (err instanceof NotFoundError && err.entity === 'campaign')
      throw new UnknownCampaignError(name);
    throw err;
  }
}

/**
 * Cancels a campaign: it starts nothing more, its jobs no process has taken
 * fail at once, and the engine stops the queued and running ones through
 * their executor at its next pass. Cancelling twice changes nothing.
 */
export async function cancelCampaign(
  deps: CampaignDeps,
  name: string,
  who: Who,
): Promise<{ campaign: Campaign; failedJobs: number[] }> {
  notPrompt(name, 'cancelled');
  return named(name, () =>
    deps.store.cancelCampaign(name, {
      by: who.by,
      at: (deps.now ?? Date.now)(),
      reason: who.reason ?? null,
    }),
  );
}

/**
 * Adds the ended runs of `runs` (`A-B`) to an active campaign, of the run
 * type its selection named if it named one. Runs it has are left out;
 * `InvalidInputError` when none is left to add.
 */
export async function extendCampaign(
  deps: CampaignDeps,
  name: string,
  runs: string,
  who: Who,
): Promise<{ campaign: Campaign; added: number[] }> {
  notPrompt(name, 'extended');
  const range = parseRuns(runs);
  const c = await deps.store.getCampaign(name);
  if (c === null || c.state === 'deleted') throw new UnknownCampaignError(name);
  if (c.state === 'cancelled')
    throw new CampaignStateError(name, c.state, 'create a new campaign for more runs');
  const type = c.selection.type;
  const found = (
    await deps.store.selectRuns({ ...range, ...(type !== undefined ? { type } : {}) })
  ).map((r) => r.run);
  const have = new Set(c.runs);
  if (found.every((r) => have.has(r)))
    throw new InvalidInputError(
      '--runs',
      `no ended run matches ${describeSelection({ runs: range, ...(type !== undefined ? { type } : {}) })} that ${name} lacks: \`autoctrl runs list\` shows the runs the store has`,
    );
  return named(name, () =>
    deps.store.extendCampaign(name, found, {
      by: who.by,
      at: (deps.now ?? Date.now)(),
      reason: who.reason ?? null,
    }),
  );
}

/**
 * Deletes a settled campaign: it leaves the lists, its history (instances,
 * events, outputs) stays queryable. An unsettled one is refused with what
 * to do first (cancel it, wait for its jobs).
 */
export async function deleteCampaign(
  deps: CampaignDeps,
  name: string,
  who: Who,
): Promise<Campaign> {
  notPrompt(name, 'deleted');
  return named(name, () =>
    deps.store.deleteCampaign(name, {
      by: who.by,
      at: (deps.now ?? Date.now)(),
      reason: who.reason ?? null,
    }),
  );
}
