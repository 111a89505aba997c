/**
 * The vocabulary of autoctrl (see DESIGN.md). Pure data, no I/O.
 * Times are milliseconds since the Unix epoch; `null` where not known yet.
 */

export const INSTANCE_STATUSES = ['new', 'waiting', 'processing', 'done', 'failed'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const JOB_STATUSES = ['idle', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export type RunStatus = 'processing' | 'done' | 'failed';

export const QUEUE_STATES = ['queued', 'held', 'suspended'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Metadata values are kept as given by the source (strings, numbers, booleans). */
export type Meta = Record<string, string | number | boolean>;

/** One data-taking run as a source describes it. Absent fields are unknown, not zero. */
export interface RunInput {
  run: number;
  fill?: number | null;
  start?: number | null;
  end?: number | null;
  /** Recorded luminosity in /pb. */
  lumi?: number | null;
  type?: string | null;
  meta?: Meta;
}

export interface Run {
  run: number;
  fill: number | null;
  start: number | null;
  end: number | null;
  lumi: number | null;
  type: string | null;
  meta: Meta;
  /**
   * Store-wide number, bumped each time the run is added or changed, from the
   * same source as change-feed positions: a version for compare-and-set, not
   * a commit order (read the change feed for that).
   */
  seq: number;
}

export interface Instance {
  id: number;
  campaign: string;
  task: string;
  /** Identifies the group within (campaign, task): `run:123`, `fill:8222`, `lumi:100-105`. */
  groupKey: string;
  /** Run numbers covered, ascending. */
  runs: number[];
  status: InstanceStatus;
  /** Why it is in this status (closed lock, upstream not done, failure cause). */
  reason: string | null;
  /** 1 for the first processing, +1 for each reprocess. */
  attempt: number;
  /** Hash of the task configuration the current attempt ran with; null before it started. */
  configHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface Job {
  id: number;
  instanceId: number;
  campaign: string;
  task: string;
  /** Position within the instance (0-based); attempts of one job share it. */
  index: number;
  /** 1 for the first try, +1 for each retry. */
  attempt: number;
  /** The instance's attempt this job belongs to (reprocessing starts a new one). */
  instanceAttempt: number;
  status: JobStatus;
  /** Name of the executor (as in the deployment file) that runs it. */
  executor: string;
  /** The executor's own id (pid, Slurm job id); null until submitted. */
  executorId: string | null;
  /** Controller process instance that claimed the submission; null while unclaimed. */
  claimedBy: string | null;
  /** When it was claimed, and until when the claim holds (store clock); null while unclaimed. */
  claimedAt: number | null;
  claimExpiresAt: number | null;
  /** Not to be submitted before this time (retry backoff). */
  notBefore: number | null;
  /**
   * Where a submitted job waits in its batch system, as the executor last
   * said (`reason` says why); null once it runs undisturbed or ended.
   */
  queueState: QueueState | null;
  /** Since when it is in `queueState` (store clock). */
  queueSince: number | null;
  /** For jobs split per input: the input this job processes. */
  input: string | null;
  logPath: string | null;
  exitCode: number | null;
  reason: string | null;
  /** Custom fields reported by the job (a calibration constant, a count). */
  fields: Record<string, number | string>;
  createdAt: number;
  submittedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
}

export interface OutputInput {
  path: string;
  kind?: string | null;
  meta?: Record<string, unknown>;
}

export interface Output {
  id: number;
  jobId: number;
  instanceId: number;
  campaign: string;
  task: string;
  runs: number[];
  path: string;
  kind: string | null;
  meta: Record<string, unknown>;
  createdAt: number;
}

/** One entry of the append-only history. */
export interface EventRecord {
  id: number;
  at: number;
  entity:
    | 'run'
    | 'instance'
    | 'job'
    | 'campaign'
    | 'source'
    | 'executor'
    | 'export'
    | 'controller'
    | 'disk';
  /** Run number, instance id or job id; campaign, source, executor, export or controller name; an output area's path. */
  entityId: string;
  campaign: string | null;
  task: string | null;
  /** For jobs: the instance they belong to, so an instance's history includes its jobs. */
  instanceId: number | null;
  from: string | null;
  to: string | null;
  reason: string | null;
  /** Who caused it: `engine`, `controller:<id>`, `job:<id>`, `cli:<user>`, `operator:<name>`. */
  by: string;
  configHash: string | null;
  data: Record<string, unknown> | null;
}
