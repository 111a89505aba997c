import { startServer } from '../src/server/serve.ts';
import { type Figure, median, percentile, report, runtimeWithInstances, scratch } from './lib.ts';

const N = 60;

/**
 * The live stream: a client on `/api/events/stream` of a real listening
 * server, and transitions written to the store every 50–100 ms (so they
 * fall anywhere in the 25 ms poll): the time from the store's commit to the
 * client holding the event.
 */
export async function benchApiStream(): Promise<Figure[]> {
  const s = scratch('autoctrl-bench-');
  try {
    const { rt, instances: insts } = await runtimeWithInstances(s.dir, N);
    const server = await startServer(
      rt,
      { trigger: () => {}, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/events/stream`, { signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const reading = (async () => {
      let buf = '';
      while (latencies.length < N) {
        const { value, done } = await reader.read();
        if (done) break;
        const now = performance.now();
        buf += decoder.decode(value, { stream: true });
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const data = /^data: (.*)$/m.exec(buf.slice(0, i))?.[1];
          buf = buf.slice(i + 2);
          const e =
            data === undefined ? null : (JSON.parse(data) as { entityId: string; to: string });
          const t = e !== null && e.to === 'waiting' ? sent.get(e.entityId) : undefined;
          if (t !== undefined) latencies.push(now - t);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    for (const inst of insts) {
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
      // Timed from just before the commit: the event may reach the client before the call returns.
      sent.set(String(inst.id), performance.now());
      await rt.store.transitionInstance(inst.id, {
        from: 'new',
        to: 'waiting',
        reason: 'bench',
        by: 'bench',
        at: Date.now(),
      });
    }
    await Promise.race([reading, new Promise((r) => setTimeout(r, 5000))]);
    abort.abort();
    await reader.cancel().catch(() => {});
    await server.close();
    await rt.close();
    const p95 = percentile(latencies, 95);
    return [
      report({
        name: `live stream, store transition to SSE client (${latencies.length} of ${N} received), p95`,
        value: p95,
        unit: 'ms',
        target: '≤ 100 ms',
        ok: p95 <= 100 && latencies.length === N,
        detail: `median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      }),
    ];
  } finally {
    s.remove();
  }
}
