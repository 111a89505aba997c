import type { EventRecord, Instance, Job, Output, Run } from '../model/types.ts';
import type { InstanceAttempt } from '../store/contract.ts';

/** Records as the API answers them: times as ISO 8601 strings (docs/api.md). */

export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();
const isoAt = (ms: number): string => new Date(ms).toISOString();

export function presentRun(r: Run) {
  return { ...r, start: iso(r.start), end: iso(r.end) };
}

export function presentInstance(i: Instance) {
  return { ...i, createdAt: isoAt(i.createdAt), updatedAt: isoAt(i.updatedAt) };
}

/**
 * With `durationMs`: ended (or now, while running) minus started; a job that
 * ended before anyone saw it running counts from its submission.
 */
export function presentJob(j: Job, now = Date.now()) {
  return {
    ...j,
    notBefore: iso(j.notBefore),
    queueSince: iso(j.queueSince),
    createdAt: isoAt(j.createdAt),
    submittedAt: iso(j.submittedAt),
    startedAt: iso(j.startedAt),
    endedAt: iso(j.endedAt),
    durationMs: startOf(j) === null ? null : (j.endedAt ?? now) - (startOf(j) ?? 0),
  };
}

export function startOf(j: Job): number | null {
  return j.startedAt ?? (j.endedAt !== null ? j.submittedAt : null);
}

export function presentEvent(e: EventRecord) {
  return { ...e, at: isoAt(e.at) };
}

export function presentOutput(o: Output) {
  return { ...o, createdAt: isoAt(o.createdAt) };
}

export function presentAttempt(a: InstanceAttempt) {
  return { ...a, startedAt: isoAt(a.startedAt) };
}
