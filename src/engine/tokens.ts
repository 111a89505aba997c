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

export function jobToken(secret: Buffer, jobId: number): string {
  return createHmac('sha256', secret).update(`job:${jobId}`).digest('base64url');
}

export function verifyJobToken(secret: Buffer, jobId: number, token: string): boolean {
  const expected = Buffer.from(jobToken(secret, jobId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
