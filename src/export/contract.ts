import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { EventRecord, JobStatus, Run } from '../model/types.ts';
import type { FieldSample } from '../store/contract.ts';

/**
 * The `Exporter` contract: one destination that mirrors what autoctrl
 * records (InfluxDB, ...). Kinds live in `export/<kind>/` and are listed in
 * `export/registry.ts`; their code is imported only when the deployment
 * file configures them (`export: { <kind>: {...} }`).
 *
 * What the core (the `FeedMirror`) may assume of every exporter:
 * - `write` sends one batch and resolves only once the destination has
 *   acknowledged all of it: the mirror then moves its cursor past the batch.
 * - A batch whose `write` rejects is sent again, whole, later: writing the
 *   same items twice must leave the destination as if written once (points
 *   are keyed by what they record, not by when they were sent).
 * - A failure is an `ExportError`; the mirror retries every failure with
 *   backoff (the destination may come back, credentials may be fixed), and
 *   its message is what health and the log show, so it says how to fix it.
 * - `write` honours `signal`: an aborted write rejects promptly.
 * - The engine never waits on an exporter: the mirror runs beside it.
 */
export interface Exporter {
  /** The kind, as in the deployment file (`influx`). */
  readonly name: string;
  /** Where it writes, without credentials: for health and the log. */
  readonly target: string;
  write(batch: readonly ExportItem[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Builds an exporter from its section of the deployment file (options already checked). */
export type ExporterFactory = (
  options: Record<string, unknown>,
  ctx: { logger: Logger },
) => Promise<Exporter>;

/**
 * Who an event or a sample concerns, looked up once by the mirror so that
 * backends need no store: the runs of its instance, its workflow, and for
 * jobs the executor and attempt.
 */
export interface Subject {
  workflow: string | null;
  executor: string | null;
  /** Runs of the instance, ascending; empty when the event concerns none. */
  runs: number[];
  /** The instance's attempt (1, +1 per reprocess). */
  attempt: number | null;
  /** For job events and samples: the job's attempt (1, +1 per retry). */
  jobAttempt: number | null;
}

/** What an engine pass did, as the daemon's `pass` event tells it. */
export interface PassFigures {
  controller: string;
  startedAt: number;
  durationMs: number;
  full: boolean;
  created: number;
  started: number;
  settled: number;
  submitted: number;
}

/** Active jobs per executor, campaign and status at one time (a gauge). */
export interface ActiveJobs {
  at: number;
  counts: Array<{ executor: string; campaign: string; status: JobStatus; count: number }>;
}

/** One thing to mirror: a change-feed item with its subject, or a figure of the running engine. */
export type ExportItem =
  | { kind: 'run'; run: Run }
  | { kind: 'event'; event: EventRecord; subject: Subject }
  | { kind: 'sample'; sample: FieldSample; subject: Subject }
  | { kind: 'pass'; pass: PassFigures }
  | { kind: 'jobs'; jobs: ActiveJobs };

/** A batch the destination did not take; `status` is the HTTP status when there was an answer. */
export class ExportError extends AutoctrlError {
  constructor(
    readonly exporter: string,
    readonly status: number | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('export_failed', `export ${exporter}: ${message}`, options);
  }
}

/** An exporter section that cannot work as written (a credential variable unset). */
export class ExportConfigError extends AutoctrlError {
  constructor(
    readonly exporter: string,
    message: string,
  ) {
    super('export_config', `export.${exporter}: ${message}`);
  }
}
