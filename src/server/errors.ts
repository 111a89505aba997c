import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { AutoctrlError, InvalidInputError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** HTTP status of each error code the API may answer with; anything else is a 500. */
const STATUS_OF_CODE: Record<string, ContentfulStatusCode> = {
  invalid_input: 400,
  override_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  stale_state: 409,
  attempt_ended: 409,
  illegal_transition: 409,
  campaign_exists: 409,
  not_supported: 409,
  executor_unavailable: 503,
  campaign_state: 409,
};

/** No token, or one that is no operator's (nor, on a report, the job's). */
export class UnauthorizedError extends AutoctrlError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}

/** A valid token that may not do this (an operator token on a job's report). */
export class ForbiddenError extends AutoctrlError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** The first problem zod found, as an `InvalidInputError` naming the field (`query.limit`, `body.runs`). */
export function invalidInput(where: string, error: z.ZodError): InvalidInputError {
  const issue = error.issues[0];
  const path = [where, ...(issue?.path ?? []).map(String)].filter((p) => p !== '').join('.');
  return new InvalidInputError(path || where, issue?.message ?? 'invalid');
}

export function statusOf(err: AutoctrlError): ContentfulStatusCode {
  return STATUS_OF_CODE[err.code] ?? 500;
}

/** `{error, message}` for every failure; unexpected ones are logged and told apart from input errors. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof AutoctrlError) {
      const status = statusOf(err);
      if (status >= 500) logger.error({ err }, 'request failed');
      return c.json({ error: err.code, message: err.message }, status);
    }
    logger.error({ err }, 'request failed');
    return c.json({ error: 'internal', message: 'internal error; see the controller log' }, 500);
  };
}

/** The answer to a body over `limits.max_request_body` (`maxBytes`). */
export function tooLarge(maxBytes: number) {
  return (c: Context): Response =>
    c.json(
      {
        error: 'payload_too_large',
        message: `body: larger than the ${maxBytes} bytes the server takes: send less (outputs in several reports), or raise limits.max_request_body in the deployment file`,
      },
      413,
    );
}
