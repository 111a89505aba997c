import type { Executor } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';

/** How many passes' observations of an executor's size are kept. */
const WINDOW = 20;

/**
 * An executor's number of slots, from what it says is free plus the jobs the
 * store holds claimed on it. A job that ended since the last sync still
 * counts as claimed while its slot is already free, so one observation can
 * only overestimate: the smallest of the recent ones is the size.
 */
export function executorSlots(
  observed: Map<string, number[]>,
  executor: Executor,
  claimed: number,
  free: number,
): number {
  if (!Number.isFinite(free)) return Number.POSITIVE_INFINITY;
  const seen = observed.get(executor.name) ?? [];
  seen.push(claimed + free);
  if (seen.length > WINDOW) seen.shift();
  observed.set(executor.name, seen);
  return Math.min(...seen);
}

/** The most jobs a campaign with `share` may hold on an executor of `slots`; at least one, so it always advances. */
export function campaignCap(share: number, slots: number): number {
  return Number.isFinite(slots) ? Math.max(1, Math.floor(share * slots)) : Number.POSITIVE_INFINITY;
}

/**
 * Which ready jobs to hand to an executor with `room` free slots: those of
 * uncapped campaigns (`prompt`) first, then the others oldest first, each
 * campaign holding no more than its cap of claimed jobs (submitted or
 * running) at once. `shareOf` gives a campaign's share, null for no cap.
 */
export function chooseJobs(
  ready: readonly Job[],
  active: readonly Job[],
  room: number,
  slots: number,
  shareOf: (campaign: string) => number | null,
): Job[] {
  const held = new Map<string, number>();
  for (const j of active) {
    if (j.claimedBy !== null) held.set(j.campaign, (held.get(j.campaign) ?? 0) + 1);
  }
  const first = ready.filter((j) => shareOf(j.campaign) === null);
  const rest = ready.filter((j) => shareOf(j.campaign) !== null);
  const chosen: Job[] = [];
  for (const job of [...first, ...rest]) {
    if (chosen.length >= room) break;
    const share = shareOf(job.campaign);
    const n = held.get(job.campaign) ?? 0;
    if (share !== null && n >= campaignCap(share, slots)) continue;
    held.set(job.campaign, n + 1);
    chosen.push(job);
  }
  return chosen;
}
