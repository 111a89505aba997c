import { setTimeout as delay } from 'node:timers/promises';
import type { Deployment } from '../config/types.ts';
import type { StateStore } from '../store/contract.ts';
import { campaignProgress } from '../views/campaign-progress.ts';
import { countsText, EtaEstimator, watchLine } from './campaign-render.ts';

export interface WatchOptions {
  once: boolean;
  intervalMs: number;
  out: { write(text: string): unknown; isTTY?: boolean };
  signal: AbortSignal;
  now?: () => number;
}

/** How a watch ended: the campaign completed (all done, or with failures), or the person stopped it. */
export type WatchEnd = 'done' | 'failed' | 'interrupted' | 'once';

/**
 * Draws a campaign's progress until it completes: redrawn in place on a
 * terminal, one line per change of the counts otherwise (a log or a CI
 * console shows the history without a line per tick).
 */
export async function watchCampaign(
  deps: { store: StateStore; deployment: Deployment },
  name: string,
  opts: WatchOptions,
): Promise<WatchEnd> {
  const now = opts.now ?? Date.now;
  const tty = opts.out.isTTY === true;
  const eta = new EtaEstimator();
  let shown: string | null = null;
  for (;;) {
    const p = await campaignProgress(deps, name);
    eta.add(now(), p.settled);
    const line = watchLine(p, eta.remainingMs(p, now()), { unicode: tty });
    if (tty) opts.out.write(`\r\x1b[2K${line}`);
    else if (countsText(p) !== shown || p.complete || opts.once) opts.out.write(`${line}\n`);
    shown = countsText(p);
    const end: WatchEnd | null = p.complete
      ? p.instances.failed > 0
        ? 'failed'
        : 'done'
      : opts.once
        ? 'once'
        : null;
    if (end !== null || opts.signal.aborted) {
      if (tty) opts.out.write('\n');
      return end ?? 'interrupted';
    }
    await delay(opts.intervalMs, undefined, { signal: opts.signal }).catch(() => {});
    if (opts.signal.aborted) {
      if (tty) opts.out.write('\n');
      return 'interrupted';
    }
  }
}
