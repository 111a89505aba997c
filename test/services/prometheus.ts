import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's Prometheus 2.42 (`apt-get install prometheus`), and its promtool. */
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/**
 * Why Prometheus tests cannot run here, or null when they can. In CI
 * (`AUTOCTRL_REQUIRE_SERVICES=1`) a missing server is a failure, not a skip.
 */
export function prometheusMissing(): string | null {
  if (existsSync(PROMETHEUS) && existsSync(PROMTOOL)) return null;
  const why = `Prometheus not installed (${PROMETHEUS}, ${PROMTOOL}): apt-get install prometheus`;
  if (process.env.AUTOCTRL_REQUIRE_SERVICES === '1') throw new Error(why);
  return why;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface ScrapeTarget {
  /** `http://127.0.0.1:PORT` of the server whose `/metrics` is scraped. */
  url: string;
  /** A bearer token, when reading needs one. */
  token?: string;
}

/** One series of an instant query: its labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/**
 * A throwaway Prometheus: its own configuration (scraping `target` every
 * 200 ms) and TSDB in a temporary directory, listening on a loopback port.
 */
export class PrometheusServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #log = '';

  private constructor(
    readonly dir: string,
    readonly url: string,
  ) {}

  static async start(target: ScrapeTarget): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'autoctrl-prom-'));
    const port = await freePort();
    const server = new PrometheusServer(dir, `http://127.0.0.1:${port}`);
    const host = new URL(target.url).host;
    const auth = target.token
      ? `    authorization: { credentials: ${JSON.stringify(target.token)} }\n`
      : '';
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 200ms, scrape_timeout: 200ms, evaluation_interval: 1s }
scrape_configs:
  - job_name: autoctrl
    metrics_path: /metrics
${auth}    static_configs: [{ targets: [${JSON.stringify(host)}] }]
`,
    );
    try {
      await server.#launch(port);
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  async #launch(port: number): Promise<void> {
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.console.templates=/nonexistent',
        '--web.console.libraries=/nonexistent',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-4000);
    });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${this.url}/-/ready`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ready) return;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`Prometheus did not start: ${this.#log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** An instant query through the HTTP API (`/api/v1/query`). */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error ?? res.status}`);
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The scrape targets' health as Prometheus sees it (`up`, last error). */
  async targets(): Promise<Array<{ health: string; lastError: string }>> {
    const res = await fetch(`${this.url}/api/v1/targets`);
    const body = (await res.json()) as {
      data: { activeTargets: Array<{ health: string; lastError: string }> };
    };
    return body.data.activeTargets;
  }

  get log(): string {
    return this.#log;
  }

  async stop(): Promise<void> {
    if (this.#child !== undefined && this.#child.exitCode === null) {
      this.#child.kill('SIGTERM');
      await this.#exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
