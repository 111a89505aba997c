/** One line of the torture table: what was tried, how often, and what failed (with up to 3 examples). */
export interface TortureRow {
  what: string;
  tried: number;
  failed: number;
  examples: string[];
  /** How the tries were answered (HTTP statuses), where that means something. */
  outcomes: Record<string, number>;
}

export class Tally {
  readonly rows = new Map<string, TortureRow>();

  /** Counts one try of `what`; `failure` (a description) when it failed; `outcome` how it was answered. */
  count(what: string, failure: string | null = null, outcome?: string): void {
    let row = this.rows.get(what);
    if (row === undefined) {
      row = { what, tried: 0, failed: 0, examples: [], outcomes: {} };
      this.rows.set(what, row);
    }
    row.tried++;
    if (outcome !== undefined) row.outcomes[outcome] = (row.outcomes[outcome] ?? 0) + 1;
    if (failure !== null) {
      row.failed++;
      if (row.examples.length < 3) row.examples.push(failure.slice(0, 300));
    }
  }

  list(): TortureRow[] {
    return [...this.rows.values()];
  }
}

/** A small seeded generator, so that a failure can be replayed with its seed. */
export function rng(seed: number): {
  next(): number;
  int(n: number): number;
  pick<T>(list: readonly T[]): T;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)] as (typeof list)[number] };
}

/** The table as Markdown. */
export function formatTable(rows: readonly TortureRow[]): string {
  const lines = [
    '| what was tried | how many | failed | answered | examples of failures |',
    '| --- | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const ex = r.examples.map((e) => `\`${e.replace(/[|`\n]/g, ' ')}\``).join('<br>');
    const answered = Object.entries(r.outcomes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([o, k]) => `${o}×${k}`)
      .join(' ');
    lines.push(`| ${r.what} | ${r.tried} | ${r.failed} | ${answered} | ${ex} |`);
  }
  return lines.join('\n');
}
