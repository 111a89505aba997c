import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyJobToken } from '../app/tokens.ts';
import type { AuthConfig } from '../config/types.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

/** Who a request speaks for. */
export type Principal =
  | { kind: 'operator'; name: string }
  | { kind: 'job'; jobId: number; attempt: number | null }
  | { kind: 'anonymous' };

/** What a route needs: open, readable (open unless `auth.read: token`), an operator, or the job's own token. */
export type Access = 'open' | 'read' | 'operator' | 'job';

export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/**
 * The operator whose token this is, by SHA-256, compared in constant time
 * against every operator (no early exit), so timing tells nothing about
 * which hash came close.
 */
export function operatorOf(auth: AuthConfig, token: string): string | null {
  const given = createHash('sha256').update(token).digest();
  let found: string | null = null;
  for (const op of auth.operators) {
    const want = Buffer.from(op.tokenSha256, 'hex');
    if (want.length === given.length && timingSafeEqual(want, given) && found === null) {
      found = op.name;
    }
  }
  return found;
}

const HOW =
  'send "Authorization: Bearer <token>" with an operator token listed under auth.operators in the deployment file';

/**
 * Decides access for one request; throws 401 for a missing or unknown token,
 * 403 for a known token that may not do this.
 */
export function authorize(
  auth: AuthConfig,
  access: Access,
  header: string | undefined,
  job?: { secret: Buffer; id: number },
): Principal {
  const token = bearerToken(header);
  if (access === 'open') {
    // Open to all, but an operator is known as one (an open route may treat operators better).
    const name = token === undefined ? null : operatorOf(auth, token);
    return name === null ? { kind: 'anonymous' } : { kind: 'operator', name };
  }
  if (access === 'job') {
    if (job === undefined) throw new Error('a job route without a job id');
    const verified = token === undefined ? null : verifyJobToken(job.secret, job.id, token);
    if (verified !== null) return { kind: 'job', jobId: job.id, attempt: verified.attempt };
    if (token !== undefined && operatorOf(auth, token) !== null) {
      throw new ForbiddenError(
        `job ${job.id}: only the job itself reports, with its own token ($AUTOCTRL_TOKEN in its environment); an operator token may not`,
      );
    }
    throw new UnauthorizedError(
      `job ${job.id}: missing or wrong token; send "Authorization: Bearer $AUTOCTRL_TOKEN"`,
    );
  }
  if (access === 'read' && auth.readOpen) {
    const name = token === undefined ? null : operatorOf(auth, token);
    return name === null ? { kind: 'anonymous' } : { kind: 'operator', name };
  }
  if (token === undefined) {
    throw new UnauthorizedError(
      access === 'read'
        ? `reading needs a token here (auth.read: token): ${HOW}`
        : `this action needs an operator token: ${HOW}`,
    );
  }
  const name = operatorOf(auth, token);
  if (name === null) throw new UnauthorizedError(`the token is not an operator's: ${HOW}`);
  return { kind: 'operator', name };
}
