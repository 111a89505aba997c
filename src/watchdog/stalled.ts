import { humanDuration } from '../locks/options.ts';
import { stallState } from './heartbeat.ts';
import { memory, recordAlert, type WatchdogContext } from './record.ts';

const KEY = 'watchdog:stalled';

/** What was alerted: the heartbeat that had gone quiet. */
interface Stalled {
  controller: string;
  lastAt: number;
}

/**
 * `controller_stalled` once no pass has finished for `watchdog.stalled_after`
 * (by the heartbeat the leader leaves in the store, on the store's clock),
 * then `controller_recovered` once one does again. Nothing before the first
 * heartbeat: a deployment that never passed has nothing to compare with.
 */
export async function checkStalled(ctx: WatchdogContext): Promise<'stalled' | 'recovered' | null> {
  const s = await stallState(ctx.store, ctx.deployment);
  const beat = s.heartbeat;
  if (beat === null || s.ageMs === null) return null;
  const mem = await memory<Stalled | null>(ctx.store, KEY, null);
  const base = { entity: 'controller' as const, campaign: null, task: null, instanceId: null };
  if (s.stalled && mem.value === null) {
    if (!(await mem.save({ controller: beat.controller, lastAt: beat.at }))) return null;
    const last = new Date(beat.at).toISOString();
    await recordAlert(
      ctx,
      {
        ...base,
        entityId: beat.controller,
        reason: `no pass finished for ${humanDuration(s.ageMs)} (more than ${humanDuration(s.stalledAfterMs)}); the last ended at ${last}: check that autoctrl serve (or the cron job running autoctrl pass) is alive`,
        data: {
          alert: 'controller_stalled',
          subject: beat.controller,
          lastPassAt: beat.at,
          ageMs: s.ageMs,
          stalledAfterMs: s.stalledAfterMs,
        },
      },
      Date.now(),
    );
    return 'stalled';
  }
  if (!s.stalled && mem.value !== null) {
    if (!(await mem.save(null))) return null;
    const gap = beat.at - mem.value.lastAt;
    const who =
      beat.controller === mem.value.controller
        ? ''
        : ` (controller ${mem.value.controller} had stalled)`;
    await recordAlert(
      ctx,
      {
        ...base,
        entityId: beat.controller,
        reason: `a pass finished again after ${humanDuration(gap)} without one${who}`,
        data: { alert: 'controller_recovered', subject: beat.controller, gapMs: gap },
      },
      Date.now(),
    );
    return 'recovered';
  }
  return null;
}
