import { AutoctrlError } from '../../errors.ts';

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
