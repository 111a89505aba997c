import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskConfig } from '../src/config/types.ts';

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

export function scratch(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** n tasks: a few chains and joins, like a real calibration deployment. */
export function benchTasks(n: number, dir: string, command: string[] = ['true']): TaskConfig[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `t${String(i).padStart(2, '0')}`,
    workflow: `w${Math.floor(i / 5)}`,
    after: i % 5 === 0 ? [] : [`t${String(i - 1).padStart(2, '0')}`],
    group: { by: 'run' as const },
    command,
    jobs: 1,
    retries: 0,
    retryDelayMs: 1000,
    timeoutMs: null,
    executor: 'local',
    env: {},
    cwd: dir,
  }));
}
