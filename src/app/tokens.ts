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

export function jobToken(secret: Buffer, jobId: number): string {
  return createHmac('sha256', secret).update(`job:${jobId}`).digest('base64url');
}

export function verifyJobToken(secret: Buffer, jobId: number, token: string): boolean {
  const expected = Buffer.from(jobToken(secret, jobId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
