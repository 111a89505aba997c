import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../store/contract.ts';

const SECRET_KEY = 'auth:job-secret';

/**
 * Job tokens are derived, not stored: HMAC(deployment secret, job id). Any
 * controller sharing the store can issue and check them, and a token only
 * ever speaks for its own job.
 */
export async function jobTokenSecret(store: StateStore): Promise<Buffer> {
  const existing = await store.getCursor(SECRET_KEY);
  if (existing !== null) return Buffer.from(existing, 'hex');
  await store.setCursor(SECRET_KEY, randomBytes(32).toString('hex'));
  // Re-read: with two controllers starting together, the last write wins for both.
  return Buffer.from((await store.getCursor(SECRET_KEY)) ?? '', 'hex');
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
