import { lstat, opendir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskArea } from '../config/types.ts';
import { measureQuota } from './quota.ts';

export interface DiskUsage {
  path: string;
  /** Bytes used: by the directory's files when a quota is set, by the file system otherwise. */
  usedBytes: number | null;
  /** The configured quota, or the file system's size when none is. */
  quotaBytes: number | null;
  /** Warning threshold, a fraction of the quota. */
  warn: number;
  fraction: number | null;
  level: 'ok' | 'warning' | 'over' | 'unknown';
  /** The walk stopped at its bound: `usedBytes` is a lower bound. */
  partial: boolean;
  measuredAt: string;
  error?: string;
}

/** A walk of a huge area must not hog the server: bounded in entries and time. */
const MAX_ENTRIES = 200_000;
const MAX_WALK_MS = 2_000;

async function walk(root: string): Promise<{ bytes: number; partial: boolean }> {
  const deadline = Date.now() + MAX_WALK_MS;
  let bytes = 0;
  let entries = 0;
  const dirs = [root];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir);
    } catch {
      continue; // unreadable or vanished: count what can be read
    }
    for await (const entry of handle) {
      if (++entries > MAX_ENTRIES || Date.now() > deadline) {
        await handle.close().catch(() => {});
        return { bytes, partial: true };
      }
      const path = join(dir, entry.name);
      if (entry.isDirectory()) dirs.push(path);
      else if (entry.isFile()) {
        const st = await lstat(path).catch(() => null);
        // Allocated blocks, as du counts, so sparse files do not inflate the figure.
        if (st !== null) bytes += st.blocks > 0 ? st.blocks * 512 : st.size;
      }
    }
  }
  return { bytes, partial: false };
}

async function measure(area: DiskArea): Promise<DiskUsage> {
  const base = { path: area.path, warn: area.warn, measuredAt: new Date().toISOString() };
  try {
    let used: number;
    let quota: number;
    let partial = false;
    if (area.kind === 'eos' || area.kind === 'afs') {
      // A shared file system's quota is the service's to tell: `statfs` of EOS or AFS says nothing useful.
      const q = await measureQuota(area.kind, area.path, area.command);
      if (q === null) throw new Error(`${area.kind} reports no volume limit for this area`);
      used = q.usedBytes;
      quota = q.quotaBytes;
    } else if (area.quotaBytes !== null) {
      // A missing area is a misconfiguration to show, not an empty directory.
      await opendir(area.path).then((d) => d.close());
      const w = await walk(area.path);
      used = w.bytes;
      partial = w.partial;
      quota = area.quotaBytes;
    } else {
      const fs = await statfs(area.path);
      quota = fs.blocks * fs.bsize;
      used = (fs.blocks - fs.bfree) * fs.bsize;
    }
    const fraction = quota > 0 ? used / quota : null;
    const level =
      fraction === null
        ? 'unknown'
        : fraction >= 1
          ? 'over'
          : fraction >= area.warn
            ? 'warning'
            : 'ok';
    return { ...base, usedBytes: used, quotaBytes: quota, fraction, level, partial };
  } catch (err) {
    return {
      ...base,
      usedBytes: null,
      quotaBytes: area.quotaBytes,
      fraction: null,
      level: 'unknown',
      partial: false,
      error: `${(err as Error).message}: check server.disk in the deployment file`,
    };
  }
}

/**
 * Disk usage of the configured output areas, measured at most once per
 * `maxAgeMs` (a walk of a big area costs), on demand: no timer runs between
 * requests. Concurrent requests share one measurement.
 */
export class DiskMonitor {
  #last: { at: number; usage: DiskUsage[] } | null = null;
  #running: Promise<DiskUsage[]> | null = null;

  constructor(
    private readonly areas: readonly DiskArea[],
    private readonly maxAgeMs = 60_000,
  ) {}

  async usage(): Promise<DiskUsage[]> {
    if (this.areas.length === 0) return [];
    if (this.#last !== null && Date.now() - this.#last.at < this.maxAgeMs) return this.#last.usage;
    this.#running ??= Promise.all(this.areas.map(measure)).then((usage) => {
      this.#last = { at: Date.now(), usage };
      this.#running = null;
      return usage;
    });
    return this.#running;
  }
}
