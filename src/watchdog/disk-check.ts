import type { DiskUsage } from '../server/disk.ts';
import { memory, recordAlert, type WatchdogContext } from './record.ts';

const KEY = 'watchdog:disk';

/** `1.5 TB`, `930 GB`: decimal units, as storage quotas are sold. */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * `disk_quota` when an output area crosses its warning level, and again when
 * it goes over its quota; once more only after it went back below the warning
 * level. An area that cannot be measured keeps what was known of it.
 */
export async function checkDisk(
  ctx: WatchdogContext,
  usage: readonly DiskUsage[],
): Promise<number> {
  if (usage.length === 0) return 0;
  const mem = await memory<Record<string, 'warning' | 'over'>>(ctx.store, KEY, {});
  const next = { ...mem.value };
  const raised: DiskUsage[] = [];
  for (const d of usage) {
    const before = next[d.path];
    if (d.level === 'ok') delete next[d.path];
    if (d.level !== 'warning' && d.level !== 'over') continue;
    if (before === d.level || before === 'over') continue;
    next[d.path] = d.level;
    raised.push(d);
  }
  if (!(await mem.save(next))) return 0;
  for (const d of raised) {
    const pct = Math.round((d.fraction ?? 0) * 100);
    const of =
      d.usedBytes === null || d.quotaBytes === null
        ? ''
        : ` (${humanBytes(d.usedBytes)} of ${humanBytes(d.quotaBytes)})`;
    const state =
      d.level === 'over'
        ? 'over its quota'
        : `above its warning level of ${Math.round(d.warn * 100)}%`;
    await recordAlert(
      ctx,
      {
        entity: 'disk',
        entityId: d.path,
        campaign: null,
        task: null,
        instanceId: null,
        reason: `${pct}% used${of}, ${state}: free space or raise the quota before jobs fail writing`,
        data: { alert: 'disk_quota', subject: d.path, level: d.level, fraction: d.fraction },
      },
      Date.now(),
    );
  }
  return raised.length;
}
