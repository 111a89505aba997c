import type { Executor, JobRef, LogOptions } from '../contract.ts';
import { readFileLog } from './file-log.ts';

/**
 * What the built-in executors have alike: a name, the engine's limits, and
 * job logs that are plain files the controller reads (each job's `logPath`,
 * on this machine or a filesystem it shares with the farm).
 */
export abstract class FileLogExecutor
  implements Pick<Executor, 'name' | 'maxJobs' | 'pollIntervalMs' | 'readLog'>
{
  readonly maxJobs: number;
  readonly pollIntervalMs: number;

  constructor(
    readonly name: string,
    limits: { maxJobs: number; pollIntervalMs: number },
  ) {
    this.maxJobs = limits.maxJobs;
    this.pollIntervalMs = limits.pollIntervalMs;
  }

  readLog(job: JobRef, opts?: LogOptions): AsyncIterable<Uint8Array> {
    return readFileLog(job.jobId, job.logPath, opts);
  }
}
