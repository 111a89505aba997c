import type { EventRecord, Run } from '../../model/types.ts';
import type { ExportItem, Subject } from '../contract.ts';
import { type FieldValue, nanos, type Point } from './line.ts';

const OFFSETS = 1_000_000;
/** Series-milliseconds remembered for ranking; the oldest half goes beyond this. */
const MAX_RANKS = 200_000;

const int = (n: number | null | undefined): FieldValue | null =>
  n === null || n === undefined ? null : { int: n };
const text = (s: string | null | undefined): FieldValue | null =>
  s === null || s === undefined || s === '' ? null : { text: s };

/**
 * Turns export items into points whose timestamps are unique per series, so
 * that no point overwrites another (InfluxDB keeps one point per series and
 * time). The offset within the millisecond is chosen so that a replay writes
 * the very same points:
 * - an event's is its id modulo 10^6 (ids are unique; 10^6 events of one
 *   series in one millisecond do not happen);
 * - a run's is its number modulo 10^6, at its start (or end) time: a run
 *   that changed overwrites its own earlier point, never another run's;
 * - samples and engine figures take their rank among the items of the same
 *   series and millisecond, in feed order (a replay from the same start
 *   ranks them alike).
 */
export class PointMaker {
  readonly #ranks = new Map<string, number>();
  /** Since when each instance waits on a lock, to tell how long it waited when it starts. */
  readonly #lockWaits = new Map<number, number>();

  points(items: readonly ExportItem[]): Point[] {
    return items.flatMap((item) => this.#point(item));
  }

  #point(item: ExportItem): Point[] {
    switch (item.kind) {
      case 'event':
        return [eventPoint(item.event, item.subject, this.#lockWait(item.event))];
      case 'run':
        return [runPoint(item.run)];
      case 'sample': {
        const { sample: s, subject } = item;
        const tags = {
          campaign: s.campaign,
          task: s.task,
          workflow: subject.workflow,
          executor: subject.executor,
          name: s.key,
        };
        return [
          this.#ranked('field', tags, s.at, {
            ...(typeof s.value === 'number'
              ? { value: { float: s.value } }
              : { text: { text: s.value } }),
            job: int(s.jobId),
            instance: int(s.instanceId),
            ...runFields(subject.runs),
            attempt: int(subject.jobAttempt),
          }),
        ];
      }
      case 'pass': {
        const p = item.pass;
        return [
          this.#ranked('pass', { controller: p.controller, full: String(p.full) }, p.startedAt, {
            duration_ms: { float: p.durationMs },
            created: int(p.created),
            started: int(p.started),
            settled: int(p.settled),
            submitted: int(p.submitted),
          }),
        ];
      }
      case 'jobs':
        return item.jobs.counts.map((c) =>
          this.#ranked(
            'jobs_active',
            { campaign: c.campaign, executor: c.executor, status: c.status },
            item.jobs.at,
            { count: int(c.count) },
          ),
        );
    }
  }

  /** Seconds an instance waited on its lock, on the event that ends the wait. */
  #lockWait(e: EventRecord): number | null {
    if (e.entity !== 'instance') return null;
    const id = Number(e.entityId);
    const since = e.data?.lockSince;
    if (e.to === 'waiting' && typeof since === 'number') {
      if (this.#lockWaits.size >= MAX_RANKS) this.#lockWaits.clear();
      this.#lockWaits.set(id, since);
      return null;
    }
    const began = this.#lockWaits.get(id);
    if (began === undefined) return null;
    this.#lockWaits.delete(id);
    return Math.max(0, e.at - began) / 1e3;
  }

  #ranked(
    measurement: string,
    tags: Record<string, string | null>,
    at: number,
    fields: Record<string, FieldValue | null>,
  ): Point {
    const key = `${measurement}\0${Object.values(tags).join('\0')}\0${at}`;
    const rank = this.#ranks.get(key) ?? 0;
    if (this.#ranks.size >= MAX_RANKS) {
      let drop = MAX_RANKS / 2;
      for (const k of this.#ranks.keys()) {
        this.#ranks.delete(k);
        if (--drop === 0) break;
      }
    }
    this.#ranks.set(key, rank + 1);
    return { measurement, tags, fields, ns: nanos(at, rank % OFFSETS) };
  }
}

function runFields(runs: readonly number[]): Record<string, FieldValue | null> {
  // `run` (the first) is a number for plots over run number; `runs` lists a group's runs.
  return { run: int(runs[0]), runs: text(runs.join(',')) };
}

function eventPoint(e: EventRecord, subject: Subject, lockWait: number | null): Point {
  const ns = nanos(e.at, e.id % OFFSETS);
  const common = {
    from: text(e.from),
    reason: text(e.reason),
    by: text(e.by),
    event_id: int(e.id),
    ...runFields(subject.runs),
  };
  const alert = typeof e.data?.alert === 'string' ? e.data.alert : null;
  if (e.entity === 'instance' || e.entity === 'job') {
    const tags = {
      campaign: e.campaign,
      task: e.task,
      workflow: subject.workflow,
      status: e.to,
      executor: subject.executor,
    };
    const lock = typeof e.data?.lock === 'string' ? e.data.lock : null;
    const fields: Record<string, FieldValue | null> =
      e.entity === 'instance'
        ? {
            instance: int(Number(e.entityId)),
            attempt: int(subject.attempt),
            lock: text(lock),
            lock_wait_s: lockWait === null ? null : { float: lockWait },
            alert: text(alert),
          }
        : {
            job: int(Number(e.entityId)),
            instance: int(e.instanceId),
            attempt: int(subject.jobAttempt),
            instance_attempt: int(subject.attempt),
            exit_code: typeof e.data?.exitCode === 'number' ? int(e.data.exitCode) : null,
            alert: text(alert),
          };
    return { measurement: e.entity, tags, fields: { ...fields, ...common }, ns };
  }
  // Runs, campaigns, sources, alerts: one measurement, so that every event has its point.
  return {
    measurement: 'event',
    tags: { entity: e.entity, campaign: e.campaign, task: e.task, alert },
    fields: { entity_id: text(e.entityId), to: text(e.to), ...common },
    ns,
  };
}

function runPoint(r: Run): Point {
  const meta: Record<string, FieldValue> = {};
  // As text: a key's type may differ between runs, and InfluxDB refuses a second type.
  for (const [k, v] of Object.entries(r.meta)) meta[`meta_${k}`] = { text: String(v) };
  return {
    measurement: 'run',
    tags: { type: r.type },
    fields: {
      run: { int: r.run },
      fill: int(r.fill),
      lumi: r.lumi === null ? null : { float: r.lumi },
      start_ms: int(r.start),
      end_ms: int(r.end),
      ...meta,
    },
    ns: nanos(r.start ?? r.end ?? 0, r.run % OFFSETS),
  };
}
