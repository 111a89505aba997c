import type { EventRecord, Run } from '../../model/types.ts';
import type { ExportItem, Subject } from '../contract.ts';
import { escapeKey, type Lines, nanos } from './line.ts';

const OFFSETS = 1_000_000;
/** Series-milliseconds remembered for ranking; the oldest half goes beyond this. */
const MAX_RANKS = 200_000;

/**
 * Turns export items into line protocol whose timestamps are unique per
 * series, so that no point overwrites another (InfluxDB keeps one point per
 * series and time). The offset within the millisecond is chosen so that a
 * replay writes the very same points:
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

  /** Appends the lines of `items` to `out`, in their order. */
  write(out: Lines, items: readonly ExportItem[]): void {
    for (const item of items) this.#write(out, item);
  }

  #write(out: Lines, item: ExportItem): void {
    switch (item.kind) {
      case 'event':
        eventLine(out, item.event, item.subject, this.#lockWait(item.event));
        return;
      case 'run':
        runLine(out, item.run);
        return;
      case 'sample': {
        const { sample: s, subject } = item;
        const tags = [s.campaign, subject.executor, s.key, s.task, subject.workflow];
        out
          .point('field')
          .tag('campaign', s.campaign)
          .tag('executor', subject.executor)
          .tag('name', s.key)
          .tag('task', s.task)
          .tag('workflow', subject.workflow);
        if (typeof s.value === 'number') out.float('value', s.value);
        else out.text('text', s.value, true);
        out.int('job', s.jobId).int('instance', s.instanceId);
        runFields(out, subject.runs).int('attempt', subject.jobAttempt);
        out.end(this.#rank('field', tags, s.at));
        return;
      }
      case 'pass': {
        const p = item.pass;
        out
          .point('pass')
          .tag('controller', p.controller)
          .tag('full', String(p.full))
          .float('duration_ms', p.durationMs)
          .int('created', p.created)
          .int('started', p.started)
          .int('settled', p.settled)
          .int('submitted', p.submitted)
          .end(this.#rank('pass', [p.controller, String(p.full)], p.startedAt));
        return;
      }
      case 'jobs':
        for (const c of item.jobs.counts) {
          out
            .point('jobs_active')
            .tag('campaign', c.campaign)
            .tag('executor', c.executor)
            .tag('status', c.status)
            .int('count', c.count)
            .end(this.#rank('jobs_active', [c.campaign, c.executor, c.status], item.jobs.at));
        }
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

  /** The time of the next item of one series in one millisecond. */
  #rank(measurement: string, tags: ReadonlyArray<string | null>, at: number): string {
    const key = `${measurement}\0${tags.join('\0')}\0${at}`;
    const rank = this.#ranks.get(key) ?? 0;
    if (this.#ranks.size >= MAX_RANKS) {
      let drop = MAX_RANKS / 2;
      for (const k of this.#ranks.keys()) {
        this.#ranks.delete(k);
        if (--drop === 0) break;
      }
    }
    this.#ranks.set(key, rank + 1);
    return nanos(at, rank % OFFSETS);
  }
}

/** `run` (the first) is a number for plots over run number; `runs` lists a group's runs. */
function runFields(out: Lines, runs: readonly number[]): Lines {
  return out.int('run', runs[0]).text('runs', runs.length === 1 ? String(runs[0]) : runs.join(','));
}

function eventLine(out: Lines, e: EventRecord, subject: Subject, lockWait: number | null): void {
  const alert = typeof e.data?.alert === 'string' ? e.data.alert : null;
  if (e.entity === 'instance' || e.entity === 'job') {
    out
      .point(e.entity)
      .tag('campaign', e.campaign)
      .tag('executor', subject.executor)
      .tag('status', e.to)
      .tag('task', e.task)
      .tag('workflow', subject.workflow);
    if (e.entity === 'instance') {
      out
        .int('instance', Number(e.entityId))
        .int('attempt', subject.attempt)
        .text('lock', typeof e.data?.lock === 'string' ? e.data.lock : null)
        .float('lock_wait_s', lockWait);
    } else {
      out
        .int('job', Number(e.entityId))
        .int('instance', e.instanceId)
        .int('attempt', subject.jobAttempt)
        .int('instance_attempt', subject.attempt)
        .int('exit_code', typeof e.data?.exitCode === 'number' ? e.data.exitCode : null);
    }
    out.text('alert', alert);
  } else {
    // Runs, campaigns, sources, alerts: one measurement, so that every event has its point.
    out
      .point('event')
      .tag('alert', alert)
      .tag('campaign', e.campaign)
      .tag('entity', e.entity)
      .tag('task', e.task)
      .text('entity_id', e.entityId)
      .text('to', e.to);
  }
  out.text('from', e.from).text('reason', e.reason).text('by', e.by).int('event_id', e.id);
  runFields(out, subject.runs).end(nanos(e.at, e.id % OFFSETS));
}

function runLine(out: Lines, r: Run): void {
  out
    .point('run')
    .tag('type', r.type)
    .int('run', r.run)
    .int('fill', r.fill)
    .float('lumi', r.lumi)
    .int('start_ms', r.start)
    .int('end_ms', r.end);
  // As text: a key's type may differ between runs, and InfluxDB refuses a second type.
  for (const [k, v] of Object.entries(r.meta)) out.text(`meta_${escapeKey(k)}`, String(v), true);
  out.end(nanos(r.start ?? r.end ?? 0, r.run % OFFSETS));
}
