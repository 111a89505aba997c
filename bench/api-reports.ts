import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { jobToken } from '../src/app/tokens.ts';
import { startServer } from '../src/server/serve.ts';
import { type Figure, median, percentile, report, runtimeWithInstances, scratch } from './lib.ts';

const JOBS = 1000;
const LOAD = fileURLToPath(new URL('./api-load.ts', import.meta.url));

interface LoadResult {
  count: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

/** Runs bench/api-load.ts in its own process with this plan. */
async function runLoad(dir: string, plan: object): Promise<LoadResult> {
  const planFile = join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', LOAD, planFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`load generator exited ${code}`)),
    );
  });
  return JSON.parse(out) as LoadResult;
}

async function bareRouteRate(dir: string, seconds: number, concurrency: number): Promise<number> {
  const app = new Hono();
  app.post('/api/jobs/:id/report', async (c) => {
    await c.req.text();
    return c.json({ job: { id: 1, status: 'running', attempt: 1 } });
  });
  const { server, url } = await new Promise<{ server: ServerType; url: string }>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ server, url: `http://127.0.0.1:${info.port}` }),
    );
  });
  const r = await runLoad(dir, { url, concurrency, seconds, warmup: 0.5, jobs: [[1, 'x']] });
  await new Promise((res) => server.close(res));
  return r.count / r.seconds;
}

/**
 * Job reports over HTTP: a real listening server on 127.0.0.1 and a load
 * generator in another process (bench/api-load.ts), 1,000 running jobs each
 * reporting fields (a progress count and a rate) with its own token. Every
 * report is a store transaction (fields and a time-series sample) and asks
 * the engine for a pass: passes run for real, coalesced as in the daemon.
 */
export async function benchApiReports(seconds = 10, concurrency = 16): Promise<Figure[]> {
  const s = scratch('autoctrl-bench-');
  try {
    const { rt, instances: insts } = await runtimeWithInstances(s.dir, JOBS);
    const jobs: Array<[number, string]> = [];
    for (const inst of insts) {
      const {
        jobs: [job],
      } = await rt.store.startInstance(inst.id, {
        from: 'new',
        configHash: 'bench',
        config: {},
        jobs: [{ index: 0, attempt: 1, executor: 'bench', input: null, notBefore: null }],
        reason: null,
        by: 'bench',
        at: Date.now(),
      });
      if (job === undefined) throw new Error('no job');
      await rt.store.transitionJob(job.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'bench',
        at: Date.now(),
      });
      jobs.push([job.id, jobToken(rt.engine.ctx.tokenSecret, job.id)]);
    }
    let passes = 0;
    const server = await startServer(
      rt,
      { trigger: () => void rt.engine.pass().then(() => passes++), health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
    // The same load against a route that does nothing: what this machine's HTTP stack
    // gives at this moment, so the figure below can be read against it.
    const ceiling = await bareRouteRate(s.dir, Math.min(seconds, 3), concurrency);
    const r = await runLoad(s.dir, { url: server.url, concurrency, seconds, warmup: 1, jobs });
    await server.close();
    await rt.engine.pass();
    await rt.close();
    const rate = r.count / r.seconds;
    const p99 = percentile(r.latencies, 99);
    const detail = `${r.count} reports in ${r.seconds.toFixed(1)} s over ${concurrency} keep-alive connections, ${r.errors} errors, latency median ${median(r.latencies).toFixed(1)} ms, ${passes} engine passes; a bare route on the same stack: ${ceiling.toFixed(0)}/s`;
    return [
      report({
        name: 'job reports over HTTP, sustained',
        value: rate,
        unit: '/s',
        target: '≥ 5,000 /s',
        ok: rate >= 5000 && r.errors === 0,
        detail,
      }),
      report({
        name: 'job report latency over HTTP, p99',
        value: p99,
        unit: 'ms',
        target: '≤ 20 ms',
        ok: p99 <= 20,
      }),
    ];
  } finally {
    s.remove();
  }
}
