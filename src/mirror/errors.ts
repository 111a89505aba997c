import { AutoctrlError } from '../errors.ts';

/** The deployment a mirror or `diff-env` reads could not be read. */
export class MirrorReadError extends AutoctrlError {
  constructor(
    readonly from: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('mirror_read_failed', `reading ${from}: ${message}`, options);
  }
}
