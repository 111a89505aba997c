import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../store/contract.ts';

const SECRET_KEY = 'auth:job-secret';

/**
 * Job tokens are derived, not stored: HMAC(deployment secret, job id). Any
 * controller sharing the store can issue and check them, and a token only
 * ever speaks for its own job.
 */
export async function jobTokenSecret(store: StateStore): Promise<Buffer> {
  // Insert-if-absent: controllers starting together all get the first one's secret.
  const stored = await store.ensureCursor(SECRET_KEY, randomBytes(32).toString('hex'));
  return Buffer.from(stored, 'hex');
}

/**
 * The token of one job, or of one attempt of it (`<attempt>.<mac>`): an
 * attempt's token is refused once a newer attempt of the job exists.
 */
export function jobToken(secret: Buffer, jobId: number, attempt?: number): string {
  const mac = (what: string) => createHmac('sha256', secret).update(what).digest('base64url');
  return attempt === undefined
    ? mac(`job:${jobId}`)
    : `${attempt}.${mac(`job:${jobId}:${attempt}`)}`;
}

/** Whose token this is: the job's (attempt null when the token names none), or null for a wrong one. */
export function verifyJobToken(
  secret: Buffer,
  jobId: number,
  token: string,
): { attempt: number | null } | null {
  const m = /^(\d{1,9})\./.exec(token);
  const attempt = m === null ? null : Number(m[1]);
  const expected = Buffer.from(jobToken(secret, jobId, attempt ?? undefined));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given) ? { attempt } : null;
}
