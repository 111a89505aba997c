import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  booted,
  freePort,
  ServiceProcess,
  serviceDir,
  serviceMissing,
  waitUntil,
} from './service.ts';

/** Debian's Prometheus 2.42 (`apt-get install prometheus`), and its promtool. */
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/** Why Prometheus tests cannot run here, or null when they can (see `serviceMissing`). */
export function prometheusMissing(): string | null {
  return serviceMissing('Prometheus', [PROMETHEUS, PROMTOOL], 'apt-get install prometheus');
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
  #process: ServiceProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly url: string,
  ) {}

  static async start(target: ScrapeTarget): Promise<PrometheusServer> {
    const dir = serviceDir('prom');
    const port = await freePort();
    const server = new PrometheusServer(dir, `http://127.0.0.1:${port}`);
    const host = new URL(target.url).host;
    const auth = target.token
      ? `    authorization: { credentials: ${JSON.stringify(target.token)} }\n`
      : '';
    writeFileSync(
      join(dir, 'prometheus.yml'),
      // A scrape under a loaded CI machine can take a second: a timeout that short reads as a down target.
      `global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: autoctrl
    metrics_path: /metrics
${auth}    static_configs: [{ targets: [${JSON.stringify(host)}] }]
`,
    );
    return booted(server, () => server.#launch(port));
  }

  async #launch(port: number): Promise<void> {
    const prometheus = new ServiceProcess(
      PROMETHEUS,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.console.templates=/nonexistent',
        '--web.console.libraries=/nonexistent',
      ],
      { logFile: join(this.dir, 'prometheus.log') },
    );
    this.#process = prometheus;
    await waitUntil(
      'Prometheus did not start',
      async () => (await fetch(`${this.url}/-/ready`)).ok,
      {
        process: prometheus,
      },
    );
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

  async stop(): Promise<void> {
    await this.#process?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
