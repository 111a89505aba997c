import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/**
 * A small load generator, run in its own process so it does not share the
 * server's event loop: `concurrency` clients on keep-alive connections, each
 * sending job reports back to back for `seconds` (after `warmup` seconds not
 * counted). Prints `{count, errors, seconds, latencies}` as JSON.
 */
interface Plan {
  url: string;
  concurrency: number;
  seconds: number;
  warmup: number;
  /** Job id → its token. */
  jobs: Array<[number, string]>;
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Plan;
const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
const target = new URL(plan.url);

function post(id: number, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path: `/api/jobs/${id}/report`,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: number[] = [];
let errors = 0;
let count = 0;
const start = performance.now();
const countFrom = start + plan.warmup * 1000;
const end = countFrom + plan.seconds * 1000;
let next = 0;

async function client(): Promise<void> {
  while (performance.now() < end) {
    const [id, token] = plan.jobs[next++ % plan.jobs.length] ?? [0, ''];
    const body = JSON.stringify({ fields: { events: next, rate: Math.random() } });
    const t = performance.now();
    const status = await post(id, token, body).catch(() => 0);
    const done = performance.now();
    if (t < countFrom) continue;
    if (status !== 200) errors++;
    count++;
    latencies.push(done - t);
  }
}

await Promise.all(Array.from({ length: plan.concurrency }, client));
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ count, errors, seconds: (performance.now() - countFrom) / 1000, latencies })}\n`,
);
