import { join } from 'node:path';
import { chain, type LedgerLine, ledgerEnds, withDaemon, writeDeployment } from './harness.ts';
import { type Figure, flags, isMain, percentile, report } from './lib.ts';

/** 4 runs × a 51-step chain: 200 transitions; a slot per run, so no job waits for a slot. */
const DEFAULTS = { store: 'sqlite', runs: 4, steps: 51 };
type Options = typeof DEFAULTS;

/** ms from the end of each job to the start of the next step's job of the same run. */
export function handovers(lines: readonly LedgerLine[], steps: readonly string[], runs: number[]) {
  const at = new Map(lines.map((l) => [`${l.kind} ${l.label}`, l.at]));
  const gaps: number[] = [];
  for (const run of runs) {
    for (let k = 1; k < steps.length; k++) {
      const end = at.get(`end ${steps[k - 1]} ${run}`);
      const start = at.get(`start ${steps[k]} ${run}`);
      if (end === undefined || start === undefined)
        throw new Error(`the ledger lacks ${steps[k - 1]} → ${steps[k]} of run ${run}`);
      gaps.push(Number(start - end) / 1e6);
    }
  }
  return gaps;
}

/**
 * Job exit → its downstream job started: `runs` runs through a `steps`-step
 * chain of the ledger job, all handed to a running daemon at once, one job
 * slot per run; each gap from the ledger, end of the upstream job (its last
 * line, before its shell exits and the launcher records the end) → start of
 * the downstream one (its first line, once its shell has started).
 */
export async function benchExitLatency(opts: Partial<Options> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const tasks = chain('s', o.steps);
  const runs = Array.from({ length: o.runs }, (_, i) => 1 + i);
  const gaps = await withDaemon(
    o.store,
    (dir, where) =>
      writeDeployment(dir, {
        ...where,
        slots: o.runs,
        tasks,
        runs: runs.map((run) => ({ run, type: 'bench' })),
      }),
    async (_daemon, _config, dir) => {
      const ledger = join(dir, 'ledger');
      const lines = await ledgerEnds(ledger, o.runs * o.steps, Math.max(60_000, o.steps * 1000));
      return handovers(
        lines,
        tasks.map((t) => t.name),
        runs,
      );
    },
  );
  const sqlite = o.store === 'sqlite';
  const p50 = percentile(gaps, 50);
  const p99 = percentile(gaps, 99);
  const what = `job exit → downstream job started (${gaps.length} handovers, ${o.runs} runs × ${o.steps}-step chain, ${sqlite ? 'SQLite' : 'PostgreSQL'})`;
  const spread = `min ${Math.min(...gaps).toFixed(1)} ms, p90 ${percentile(gaps, 90).toFixed(1)} ms, max ${Math.max(...gaps).toFixed(1)} ms`;
  return [
    report({
      name: `${what}, p50`,
      value: p50,
      unit: 'ms',
      target: sqlite ? '≤ 15 ms' : '≤ 25 ms',
      ok: p50 <= (sqlite ? 15 : 25),
      detail: spread,
    }),
    report({
      name: `${what}, p99`,
      value: p99,
      unit: 'ms',
      target: sqlite ? '≤ 50 ms' : 'none on PostgreSQL',
      ok: !sqlite || p99 <= 50,
    }),
  ];
}

if (isMain(import.meta.url)) await benchExitLatency(flags(DEFAULTS));
