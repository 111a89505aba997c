import type { JobLaunch, JobRef } from '../contract.ts';

/** What the engine will know of a launched job: its ref, as `status` and `cancel` take it. */
export function refOfLaunch(
  launch: JobLaunch,
  executorId: string | null = null,
  submittedAt: number | null = null,
): JobRef {
  return {
    jobId: launch.jobId,
    attempt: launch.attempt,
    name: launch.name,
    executorId,
    workDir: launch.workDir,
    logPath: launch.logPath,
    submittedAt,
    timeoutMs: launch.timeoutMs,
  };
}
