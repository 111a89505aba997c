import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  booted,
  freePort,
  ServiceProcess,
  serviceDir,
  serviceForThisFile,
  serviceMissing,
  waitUntil,
} from './service.ts';

/** Debian's InfluxDB 1.6 (`apt-get install influxdb`). */
const BIN = '/usr/bin/influxd';

/** Why InfluxDB tests cannot run here, or null when they can (see `serviceMissing`). */
export function influxMissing(): string | null {
  return serviceMissing('InfluxDB 1.6', [BIN], 'apt-get install influxdb');
}

/** One server for the calling test file, started before its tests and removed after them. */
export function influxForThisFile(opts: { auth?: boolean } = {}): {
  skip: string | false;
  server: () => InfluxServer;
} {
  const { skip, get } = serviceForThisFile('InfluxDB server', influxMissing(), () =>
    InfluxServer.start(opts),
  );
  return { skip, server: get };
}

/** One series of an InfluxQL answer. */
export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/**
 * A throwaway `influxd`: its own meta, data and WAL directories in a temporary
 * directory, HTTP and the RPC (backup) service on loopback ports, no usage
 * reporting and no `_internal` monitoring database. With `auth`, an admin
 * user is created and every request must carry credentials.
 */
export class InfluxServer {
  readonly dir: string;
  readonly port: number;
  readonly rpcPort: number;
  readonly auth: boolean;
  readonly admin = { username: 'admin', password: randomBytes(12).toString('hex') };
  #process: ServiceProcess | undefined;

  private constructor(dir: string, port: number, rpcPort: number, auth: boolean) {
    this.dir = dir;
    this.port = port;
    this.rpcPort = rpcPort;
    this.auth = auth;
  }

  static async start(opts: { auth?: boolean } = {}): Promise<InfluxServer> {
    const dir = serviceDir('influx');
    const server = new InfluxServer(dir, await freePort(), await freePort(), opts.auth ?? false);
    return booted(server, async () => {
      writeFileSync(join(dir, 'influxdb.conf'), server.#config());
      await server.resume();
      if (server.auth) {
        // With auth on and no user yet, InfluxDB lets exactly this query through.
        await server.query(
          `CREATE USER "${server.admin.username}" WITH PASSWORD '${server.admin.password}' WITH ALL PRIVILEGES`,
          { anonymous: true },
        );
      }
    });
  }

  #config(): string {
    return `reporting-disabled = true
bind-address = "127.0.0.1:${this.rpcPort}"
[meta]
  dir = "${join(this.dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(this.dir, 'data')}"
  wal-dir = "${join(this.dir, 'wal')}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:${this.port}"
  auth-enabled = ${this.auth}
  log-enabled = false
  pprof-enabled = false
`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  /** Starts `influxd` on the directory (again, after `pause`) and waits until it answers `/ping`. */
  async resume(): Promise<void> {
    const influxd = new ServiceProcess(BIN, ['-config', join(this.dir, 'influxdb.conf')], {
      logFile: join(this.dir, 'influxd.log'),
    });
    this.#process = influxd;
    await waitUntil(
      'influxd did not start',
      async () => (await fetch(`${this.url}/ping`)).status === 204,
      { process: influxd },
    );
  }

  /** Takes the server away without losing its data (an outage); `resume` brings it back on the same port. */
  async pause(): Promise<void> {
    await this.#process?.stop();
  }

  /** A fresh database of its own, for one test. */
  async createDatabase(name = `t_${randomBytes(6).toString('hex')}`): Promise<string> {
    await this.query(`CREATE DATABASE "${name}"`);
    return name;
  }

  /** Runs InfluxQL (as the admin when auth is on) and returns the series of its first statement. */
  async query(q: string, opts: { db?: string; anonymous?: boolean } = {}): Promise<InfluxSeries[]> {
    const params = new URLSearchParams({ q, epoch: 'ns' });
    if (opts.db !== undefined) params.set('db', opts.db);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
    };
    if (this.auth && opts.anonymous !== true) {
      const { username, password } = this.admin;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    const res = await fetch(`${this.url}/query`, {
      method: 'POST',
      headers,
      body: params.toString(),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`InfluxDB answered ${res.status} to ${q}: ${text}`);
    const body = JSON.parse(text) as {
      results?: Array<{ error?: string; series?: InfluxSeries[] }>;
    };
    const first = body.results?.[0];
    if (first?.error !== undefined) throw new Error(`InfluxDB: ${first.error} (query: ${q})`);
    return first?.series ?? [];
  }

  /** Stops the server, then the directory goes. */
  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
