import type { Alert, AlertMessage } from './contract.ts';

/** Runs a summary keeps; beyond, it counts them. */
const MAX_RUNS = 500;

/** One open window: its first alert went out, later ones of the same cause are counted here. */
export interface FoldWindow {
  key: string;
  closesAt: number;
  /** The first alert folded into this window; null while none was. */
  first: Alert | null;
  count: number;
  runs: number[];
  runsOmitted: number;
}

/**
 * Folding of repeated alerts, for one notifier. The first alert of a cause
 * goes out at once and opens a window; alerts of the same cause within it are
 * only counted, and summarised when it closes, which opens the next window:
 * a failure flood costs one message per window, not one per instance. A cause
 * is the kind, campaign, task, subject and the reason with its numbers blanked
 * (`job # failed after # attempts: exit code #`), so run numbers, job indices
 * and paths that name a run do not split one cause into many.
 *
 * Plain data throughout, so the dispatcher can keep the windows in the store.
 */
export class Folder {
  private readonly windows = new Map<string, FoldWindow>();

  constructor(readonly windowMs: number) {}

  /** `send`: post it now; `folded`: it will be part of a summary. */
  add(alert: Alert, now: number): 'send' | 'folded' {
    if (this.windowMs <= 0) return 'send';
    const key = causeOf(alert);
    const w = this.windows.get(key);
    if (w === undefined || w.closesAt <= now) {
      // An expired window with alerts in it is closed by `due` before anything new is added.
      this.windows.set(key, empty(key, now + this.windowMs));
      return 'send';
    }
    w.first ??= alert;
    w.count++;
    for (const run of alert.runs) {
      if (w.runs.includes(run)) continue;
      if (w.runs.length < MAX_RUNS) w.runs.push(run);
      else w.runsOmitted++;
    }
    return 'folded';
  }

  /** Summaries of the windows closed by `now`; the windows that were quiet are forgotten. */
  due(now: number): AlertMessage[] {
    const out: AlertMessage[] = [];
    for (const [key, w] of this.windows) {
      if (w.closesAt > now) continue;
      const summary = this.summary(w);
      if (summary === null) this.windows.delete(key);
      else {
        out.push(summary);
        this.windows.set(key, empty(key, now + this.windowMs));
      }
    }
    return out;
  }

  /** Every pending summary at once (the daemon stops, a one-shot pass ends). */
  flush(): AlertMessage[] {
    const out = [...this.windows.values()].flatMap((w) => this.summary(w) ?? []);
    this.windows.clear();
    return out;
  }

  state(): FoldWindow[] {
    return [...this.windows.values()];
  }

  restore(windows: readonly FoldWindow[]): void {
    for (const w of windows) this.windows.set(w.key, { ...w, runs: [...w.runs] });
  }

  private summary(w: FoldWindow): AlertMessage | null {
    if (w.first === null || w.count === 0) return null;
    return {
      alert: w.first,
      folded: {
        count: w.count,
        runs: [...w.runs].sort((a, b) => a - b),
        runsOmitted: w.runsOmitted,
        windowMs: this.windowMs,
      },
    };
  }
}

function empty(key: string, closesAt: number): FoldWindow {
  return { key, closesAt, first: null, count: 0, runs: [], runsOmitted: 0 };
}

export function causeOf(a: Alert): string {
  const shape = a.reason.replace(/\d+/g, '#');
  return JSON.stringify([a.kind, a.campaign, a.task, a.subject, shape]);
}
