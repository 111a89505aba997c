import type { Job } from '../model/types.ts';

/** The most jobs a campaign with `share` may hold on an executor of `slots`; at least one, so it always advances. */
export function campaignCap(share: number, slots: number): number {
  return Math.max(1, Math.floor(share * slots));
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
