import type { Deployment } from '../config/types.ts';

/**
 * Tells a running daemon that the store changed under it (a run added, a
 * reprocess), so it passes now instead of at its next tick. Best effort:
 * without a daemon the change waits for the next `autoctrl pass`.
 */
export async function pokeDaemon(deployment: Deployment): Promise<boolean> {
  try {
    const res = await fetch(new URL('/api/trigger', deployment.server.publicUrl), {
      method: 'POST',
      signal: AbortSignal.timeout(500),
    });
    return res.ok;
  } catch {
    return false;
  }
}
