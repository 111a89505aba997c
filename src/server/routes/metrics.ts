import { PrometheusMetrics } from '../../export/prometheus.ts';
import type { ServerContext } from '../context.ts';
import type { Api } from '../route.ts';

/** `GET /metrics` for Prometheus; read access like the page. Returns what stops its listeners. */
export function metricsRoutes(api: Api, ctx: ServerContext): () => void {
  const metrics = new PrometheusMetrics(ctx.rt);
  api.route(
    {
      method: 'get',
      path: '/metrics',
      summary:
        'Prometheus metrics (text exposition format 0.0.4): instances, jobs, passes, leadership',
      access: 'read',
      produces: 'text/plain',
    },
    async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }),
  );
  return () => metrics.close();
}
