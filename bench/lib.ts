import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TaskConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { Instance } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { deployment, task } from '../test/fixtures.ts';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target: string;
  ok: boolean;
  detail?: string;
}

export function report(f: Figure): Figure {
  process.stdout.write(
    `${f.ok ? 'ok  ' : 'MISS'} ${f.name}: ${f.value.toFixed(f.value < 10 ? 2 : 0)} ${f.unit} (target ${f.target})${f.detail ? ` — ${f.detail}` : ''}\n`,
  );
  return f;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown cpu'}, Node ${process.version}`;
}

/** The load average (1, 5, 15 min), beside a figure taken on a shared machine. */
export function load(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
}

/** Whether the module at `url` is the script node was started with (not imported by run.ts). */
export function isMain(url: string): boolean {
  return process.argv[1] === fileURLToPath(url);
}

/**
 * The command line of a bench script: `--name value` for each key of
 * `defaults` (numbers stay numbers); anything else is refused with the list.
 */
export function flags<T extends Record<string, string | number>>(
  defaults: T,
  args = process.argv.slice(2),
): T {
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: 'string' }])),
    strict: false,
  });
  const out: Record<string, string | number> = { ...defaults };
  for (const [k, v] of Object.entries(values)) {
    const d = defaults[k];
    if (d === undefined || typeof v !== 'string') {
      const known = Object.entries(defaults).map(([n, x]) => `--${n} (${x})`);
      throw new Error(`unknown or empty option --${k}; known: ${known.join(', ')}`);
    }
    out[k] = typeof d === 'number' ? Number(v) : v;
    if (typeof d === 'number' && !Number.isFinite(out[k]))
      throw new Error(`--${k} ${v}: not a number`);
  }
  return out as T;
}

/** Scratch directories whose removal waits (`deferRemovals`); null: removed at once. */
let deferred: string[] | null = null;

export function scratch(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const removeNow = () => rmSync(dir, { recursive: true, force: true });
  return { dir, remove: () => (deferred === null ? removeNow() : deferred.push(dir)) };
}

/**
 * Until the returned function is called, scratch directories are removed
 * only then. For benches that time file creation: on a file system without
 * a journal (this VM's ext4), creating an inode scans past every inode freed
 * in the last ~30 s, so a measurement taken after the previous one's
 * thousands of files were removed pays for that removal (here 0.08-0.17 ms
 * more per file created, for a minute).
 */
export function deferRemovals(): () => void {
  deferred ??= [];
  return () => {
    for (const dir of deferred ?? []) rmSync(dir, { recursive: true, force: true });
    deferred = null;
  };
}

/** n tasks in chains of `chain` (a new chain starts every `chain` tasks), like a real calibration deployment. */
export function benchTasks(n: number, chain = 5): TaskConfig[] {
  const name = (i: number) => `t${String(i).padStart(2, '0')}`;
  return Array.from({ length: n }, (_, i) =>
    task(name(i), {
      workflow: `w${Math.floor(i / chain)}`,
      after: i % chain === 0 ? [] : [name(i - 1)],
      retryDelayMs: 1000,
    }),
  );
}

/**
 * A runtime without executors over a fresh store holding `count` ended runs
 * (1..count) and one `new` instance of task `reco` each: the setup of the
 * API benchmarks, which drive the store and the server, not the engine.
 */
export async function runtimeWithInstances(
  dir: string,
  count: number,
): Promise<{ rt: Runtime; instances: Instance[] }> {
  const rt = await openRuntime(
    { ...deployment(dir, []), executors: {} },
    { logger: silentLogger() },
  );
  await rt.store.upsertRuns(
    Array.from({ length: count }, (_, i) => ({ run: i + 1, end: 1 })),
    'bench',
  );
  const instances = await rt.store.createInstances(
    Array.from({ length: count }, (_, i) => ({
      campaign: 'prompt',
      task: 'reco',
      groupKey: `run:${i + 1}`,
      runs: [i + 1],
    })),
    'bench',
  );
  return { rt, instances };
}
