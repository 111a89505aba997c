import { AutoctrlError, InfrastructureError } from '../../errors.ts';
import type { JobLaunch } from '../contract.ts';

/**
 * A job could not be handed to the executor (spawn failed, already submitted,
 * unusable launch). The engine treats it as a failed submission attempt.
 */
export class ExecutorError extends AutoctrlError {
  constructor(
    readonly executor: string,
    readonly jobId: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('executor_error', `executor ${executor}, job ${jobId}: ${message}`, options);
  }
}

/** Errors of the machine rather than of the job: it waits for them to be fixed instead of failing. */
const SITE_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'ENOTDIR', 'EAGAIN']);

export function startFailure(launch: JobLaunch, err: unknown): string {
  return `could not start the job in ${launch.cwd}: ${err instanceof Error ? err.message : err}`;
}

export function asSiteError(launch: JobLaunch, err: unknown): Error {
  if (err instanceof InfrastructureError) return err;
  let cause: unknown = err;
  while (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code !== undefined && SITE_ERRNOS.has(code)) {
      return new InfrastructureError(`starting job ${launch.jobId}`, cause.message, { cause: err });
    }
    cause = cause.cause;
  }
  return err instanceof Error ? err : new Error(String(err));
}
