import type { CampaignProgress } from '../views/campaign-progress.ts';
import { table } from './common.ts';

/** `1h02m`, `3m20s`, `45s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

const total = (p: CampaignProgress) => Object.values(p.instances).reduce((sum, n) => sum + n, 0);

/**
 * Time left from the recent completion rate: instances settled over the last
 * few minutes of samples, or, before there are two samples apart (a single
 * `--once`), the average rate since the campaign was created.
 */
export class EtaEstimator {
  readonly #samples: Array<{ at: number; settled: number }> = [];
  readonly #windowMs: number;

  constructor(windowMs = 5 * 60_000) {
    this.#windowMs = windowMs;
  }

  add(at: number, settled: number): void {
    this.#samples.push({ at, settled });
    while ((this.#samples[0]?.at ?? at) < at - this.#windowMs) this.#samples.shift();
  }

  /** Milliseconds left, or null while no completion has been seen to estimate from. */
  remainingMs(p: CampaignProgress, now: number): number | null {
    const left = total(p) - p.settled;
    if (p.complete || (left === 0 && total(p) > 0)) return 0;
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    let rate: number | null = null; // instances per ms
    if (first && last && last.at - first.at >= 1000 && last.settled > first.settled) {
      rate = (last.settled - first.settled) / (last.at - first.at);
    } else if (p.createdAt !== null && p.settled > 0 && now > p.createdAt) {
      rate = p.settled / (now - p.createdAt);
    }
    return rate === null ? null : left / rate;
  }
}

/** `[██████░░░░]` on a terminal, `[######----]` elsewhere. */
export function progressBar(percent: number, width: number, unicode: boolean): string {
  const filled = Math.min(width, Math.max(0, Math.round((percent / 100) * width)));
  const [on, off] = unicode ? ['█', '░'] : ['#', '-'];
  return `[${on.repeat(filled)}${off.repeat(width - filled)}]`;
}

/** The counts part of a watch line: what changed, for printing a line per change. */
export function countsText(p: CampaignProgress): string {
  const i = p.instances;
  return (
    `${p.settled}/${total(p)} settled: ${i.done} done, ${i.processing} running, ` +
    `${i.failed} failed, ${i.new + i.waiting} waiting`
  );
}

export function watchLine(
  p: CampaignProgress,
  etaMs: number | null,
  opts: { unicode: boolean; width?: number },
): string {
  const eta =
    p.state === 'cancelled'
      ? p.complete
        ? 'cancelled'
        : 'cancelling'
      : p.complete
        ? 'complete'
        : `ETA ${etaMs === null ? '--' : formatDuration(etaMs)}`;
  return [
    p.name,
    progressBar(p.percent, opts.width ?? 24, opts.unicode),
    `${p.percent.toFixed(1).padStart(5)}%`,
    countsText(p),
    eta,
  ].join('  ');
}

/** The table of `campaign list`. */
export function campaignTable(list: readonly CampaignProgress[]): string {
  return table(
    [
      'campaign',
      'runs',
      'tasks',
      'share',
      'instances',
      'done',
      'failed',
      'running',
      'waiting',
      'progress',
    ],
    list.map((p) => [
      p.name,
      String(p.runs),
      p.tasks.join(','),
      p.share === null ? '-' : String(p.share),
      String(total(p)),
      String(p.instances.done),
      String(p.instances.failed),
      String(p.instances.processing),
      String(p.instances.new + p.instances.waiting),
      p.share === null
        ? 'live'
        : p.state === 'cancelled'
          ? p.complete
            ? 'cancelled'
            : 'cancelling'
          : p.complete
            ? 'complete'
            : `${p.percent.toFixed(1)}%`,
    ]),
  );
}
