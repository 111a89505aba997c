import { constants } from 'node:os';

/**
 * The job event log (the submit description's `log`), read the way DAGMan
 * reads it: each event is a header line `NNN (cluster.proc.subproc) date
 * time text`, body lines, and a line `...`; only whole events count, and a
 * reader goes on from where it stopped. Formats as written by
 * `condor_utils/condor_event.cpp` (dates `MM/DD hh:mm:ss` or ISO 8601).
 */
export interface JobEvent {
  code: number;
  /** `cluster.proc`, the id condor_q and condor_rm take. */
  id: string;
  /** The event's own words after the date (`Job was held.`). */
  text: string;
  /** Body lines, trimmed, empty ones left out. */
  body: string[];
}

export const EVENT = {
  submit: 0,
  execute: 1,
  executableError: 2,
  evicted: 4,
  terminated: 5,
  shadowException: 7,
  aborted: 9,
  suspended: 10,
  unsuspended: 11,
  held: 12,
  released: 13,
} as const;

const HEADER = /^(\d{3}) \((-?\d+)\.(-?\d+)\.(-?\d+)\) \S+ \S+ ?(.*)$/;

/**
 * Parses the whole events in `text`; `consumed` is how many characters they
 * take, so that the caller keeps the rest (an event still being written) for
 * the next read.
 */
export function parseEvents(text: string): { events: JobEvent[]; consumed: number } {
  const events: JobEvent[] = [];
  let consumed = 0;
  let current: JobEvent | null = null;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl === -1) break;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (current === null) {
      const m = HEADER.exec(line);
      if (m === null) {
        // Not an event (a truncated write, garbage): skipped up to the next sync line.
        if (line.trimEnd() === '...') consumed = pos;
        continue;
      }
      current = {
        code: Number(m[1]),
        id: `${Number(m[2])}.${Number(m[3])}`,
        text: (m[5] ?? '').trim(),
        body: [],
      };
    } else if (line.trimEnd() === '...') {
      events.push(current);
      current = null;
      consumed = pos;
    } else {
      const body = line.trim();
      if (body !== '') current.body.push(body);
    }
  }
  return { events, consumed };
}

/** What the log says of one job, from its events in order. */
export type LoggedState =
  | { state: 'queued'; reason: string | null }
  | { state: 'running' }
  | { state: 'held'; reason: string }
  | { state: 'suspended' }
  | { state: 'exited'; exitCode: number | null; signal: string | null; reason: string | null };

export interface LoggedJob {
  state: LoggedState;
  /** Evicted once: by autoctrl's policy it does not run again (see `submit-file.ts`). */
  evicted: boolean;
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name]),
);

export function signalName(n: number): string {
  return SIGNAL_NAMES.get(n) ?? `signal ${n}`;
}

function terminated(ev: JobEvent): LoggedState {
  for (const line of ev.body) {
    const normal = /^\(1\) Normal termination \(return value (-?\d+)\)/.exec(line);
    if (normal) return { state: 'exited', exitCode: Number(normal[1]), signal: null, reason: null };
    const abnormal = /^\(0\) Abnormal termination \(signal (-?\d+)\)/.exec(line);
    if (abnormal) {
      const signal = signalName(Number(abnormal[1]));
      return { state: 'exited', exitCode: null, signal, reason: `killed by ${signal}` };
    }
  }
  return {
    state: 'exited',
    exitCode: null,
    signal: null,
    reason: 'terminated (no exit status in the log)',
  };
}

function heldReason(ev: JobEvent): string {
  const [reason = 'Reason unspecified', ...rest] = ev.body;
  const codes = rest.find((l) => /^Code -?\d+ Subcode -?\d+$/.test(l));
  return codes === undefined ? reason : `${reason} (${codes.toLowerCase()})`;
}

function evictedReason(ev: JobEvent): string {
  const reason = ev.body.find((l) => l.startsWith('Reason: '));
  return reason === undefined ? 'evicted from its slot' : `evicted: ${reason.slice(8)}`;
}

/** The state after `ev`, given the one before (null: nothing seen yet). */
export function applyEvent(prev: LoggedJob | null, ev: JobEvent): LoggedJob | null {
  // The first end counts: HTCondor may log an abort after a termination (DAGMan removing a node).
  if (prev?.state.state === 'exited') return prev;
  const evicted = prev?.evicted ?? false;
  switch (ev.code) {
    case EVENT.submit:
      return prev ?? { state: { state: 'queued', reason: null }, evicted: false };
    case EVENT.execute:
    case EVENT.unsuspended:
      return { state: { state: 'running' }, evicted };
    case EVENT.suspended:
      return { state: { state: 'suspended' }, evicted };
    case EVENT.held:
      return { state: { state: 'held', reason: heldReason(ev) }, evicted };
    case EVENT.released:
      return { state: { state: 'queued', reason: ev.body[0] ?? 'released' }, evicted };
    case EVENT.evicted:
      return { state: { state: 'queued', reason: evictedReason(ev) }, evicted: true };
    case EVENT.shadowException:
      return { state: { state: 'queued', reason: ev.body[0] ?? 'shadow exception' }, evicted };
    case EVENT.terminated:
      return { state: terminated(ev), evicted };
    case EVENT.aborted: {
      const why = ev.body[0] ?? 'removed';
      const reason = evicted ? `evicted, not run again (an attempt runs once): ${why}` : why;
      return { state: { state: 'exited', exitCode: null, signal: null, reason }, evicted };
    }
    default:
      // Image size, file transfer, job ad information...: no change of state.
      return prev;
  }
}

/**
 * One event log read incrementally: the offset of the last whole event and
 * each job's state so far. Reading again costs a `stat` when nothing was
 * appended.
 */
export class EventLog {
  offset = 0;
  readonly jobs = new Map<string, LoggedJob>();
  /** The cluster(s) submitted into this log, in order. */
  readonly clusters: number[] = [];

  apply(events: readonly JobEvent[]): void {
    for (const ev of events) {
      if (ev.code === EVENT.submit) {
        const cluster = Number(ev.id.split('.')[0]);
        if (!this.clusters.includes(cluster)) this.clusters.push(cluster);
      }
      const next = applyEvent(this.jobs.get(ev.id) ?? null, ev);
      if (next !== null) this.jobs.set(ev.id, next);
    }
  }
}
