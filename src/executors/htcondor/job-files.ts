import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorJobState } from '../contract.ts';
import type { JobAd } from './commands.ts';
import { EventLog, type LoggedJob, parseEvents, signalName } from './event-log.ts';

/**
 * What a job's work directory says of its submission, written before
 * `condor_submit` runs: so a controller killed in between finds the batch's
 * event log (and from it the job's id) instead of submitting it again.
 */
export interface Marker {
  log: string;
  batchName: string;
  /** The job's proc in its cluster (its place in the batch). */
  proc: number;
  name: string;
}

export const FILES = { marker: 'htcondor.json', cancel: 'htcondor-cancel' } as const;

export async function readMarker(workDir: string): Promise<Marker | null> {
  try {
    return JSON.parse(await readFile(join(workDir, FILES.marker), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

export async function writeMarker(workDir: string, marker: Marker): Promise<void> {
  await writeFile(join(workDir, FILES.marker), JSON.stringify(marker), { flag: 'wx' });
}

export async function removeMarker(workDir: string): Promise<void> {
  await rm(join(workDir, FILES.marker), { force: true });
}

/** Why the job was stopped, kept before `condor_rm` (which records none): the first reason wins. */
export async function writeCancelReason(workDir: string, reason: string): Promise<void> {
  await writeFile(join(workDir, FILES.cancel), reason, { flag: 'wx' }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
}

export async function readCancelReason(workDir: string): Promise<string | null> {
  return readFile(join(workDir, FILES.cancel), 'utf8').catch(() => null);
}

/** Reads what was appended to an event log since the last read; a missing log has no events yet. */
export async function readEventLog(path: string, log: EventLog): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return;
  }
  if (size <= log.offset) return;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size - log.offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, log.offset);
    const text = buf.toString('utf8', 0, bytesRead);
    const { events, consumed } = parseEvents(text);
    log.apply(events);
    log.offset += Buffer.byteLength(text.slice(0, consumed));
  } finally {
    await fh.close();
  }
}

/** The contract's state for a job the event log knows. */
export function stateFromLog(
  executorId: string,
  logged: LoggedJob,
  cancelReason: string | null,
  timeoutMs: number | null,
): ExecutorJobState {
  const s = logged.state;
  switch (s.state) {
    case 'queued':
      return { state: 'queued', executorId, reason: s.reason };
    case 'running':
      return { state: 'running', executorId };
    case 'held':
      return { state: 'held', executorId, reason: s.reason };
    case 'suspended':
      return { state: 'suspended', executorId, reason: null };
    case 'exited': {
      let reason = s.reason;
      if (cancelReason !== null) reason = cancelReason;
      else if (
        timeoutMs !== null &&
        !logged.evicted &&
        s.exitCode === null &&
        /PeriodicRemove/.test(reason ?? '')
      )
        reason = `timeout: run-time limit of ${Math.ceil(timeoutMs / 1000)} s reached`;
      return { state: 'exited', executorId, exitCode: s.exitCode, signal: s.signal, reason };
    }
  }
}

/** The contract's state from a job ad (queue or history), for jobs the log does not tell of. */
export function stateFromAd(ad: JobAd, cancelReason: string | null): ExecutorJobState {
  const executorId = `${ad.ClusterId}.${ad.ProcId}`;
  switch (ad.JobStatus) {
    case 1:
      return { state: 'queued', executorId, reason: null };
    case 2:
    case 6:
      return { state: 'running', executorId };
    case 5: {
      const codes =
        ad.HoldReasonCode === undefined
          ? ''
          : ` (code ${ad.HoldReasonCode} subcode ${ad.HoldReasonSubCode ?? 0})`;
      return { state: 'held', executorId, reason: `${ad.HoldReason ?? 'held'}${codes}` };
    }
    case 7:
      return { state: 'suspended', executorId, reason: null };
    default: {
      const signal = ad.ExitBySignal === true ? signalName(ad.ExitSignal ?? 0) : null;
      const exitCode = ad.JobStatus === 4 && signal === null ? (ad.ExitCode ?? null) : null;
      const reason =
        cancelReason ??
        (ad.JobStatus === 3 ? (ad.RemoveReason ?? 'removed') : signal && `killed by ${signal}`);
      return { state: 'exited', executorId, exitCode, signal, reason };
    }
  }
}

export { EventLog };
