import { z } from 'zod';
import type { ServerContext } from '../context.ts';
import type { Api } from '../route.ts';

/** How long readiness waits for the store: a probe's own timeout is a few seconds. */
const READY_TIMEOUT_MS = 2_000;

/**
 * Probes for Kubernetes and load balancers. Both are open (a probe carries
 * no token, even where `auth.read: token`) and tell nothing but yes or no.
 * `/api/health` itself is for people: it reads the disks and the exports,
 * and a store outage makes it fail, which must not restart the process.
 */
export function probeRoutes(api: Api, ctx: ServerContext): void {
  api.route(
    {
      method: 'get',
      path: '/api/health/live',
      summary: 'Liveness: the process answers (no store access)',
      access: 'open',
      response: z.object({ live: z.literal(true) }),
    },
    (c) => c.json({ live: true as const }),
  );
  api.route(
    {
      method: 'get',
      path: '/api/health/ready',
      summary: 'Readiness: the store answers within 2 s (503 otherwise)',
      access: 'open',
      response: z.object({ ready: z.boolean(), message: z.string().optional() }),
    },
    async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([ctx.rt.store.clock(), late]);
        return c.json({ ready: true });
      } catch (err) {
        ctx.rt.engine.ctx.logger.warn({ err }, 'readiness: the store does not answer');
        return c.json({ ready: false, message: 'the store does not answer: see the log' }, 503);
      } finally {
        clearTimeout(timer);
      }
    },
  );
}
