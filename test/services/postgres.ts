import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  booted,
  freePort,
  ServiceProcess,
  serviceDir,
  serviceForThisFile,
  serviceMissing,
  waitUntil,
} from './service.ts';

/** Debian's PostgreSQL 15 (`apt-get install postgresql`). */
const BIN = '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL tests cannot run here, or null when they can (see `serviceMissing`). */
export function postgresMissing(): string | null {
  return serviceMissing('PostgreSQL 15', [join(BIN, 'postgres')], 'apt-get install postgresql');
}

/**
 * One server for the calling test file: started before its tests, stopped
 * and removed after them. `skip` goes to the file's `describe`.
 */
export function postgresForThisFile(): { skip: string | false; server: () => PostgresServer } {
  const { skip, get } = serviceForThisFile('PostgreSQL server', postgresMissing(), () =>
    PostgresServer.start(),
  );
  return { skip, server: get };
}

/**
 * A throwaway PostgreSQL server: its own cluster in a temporary directory,
 * on a loopback port and a socket in that directory, owned by the
 * `postgres` user (initdb and postgres refuse root). Password authentication
 * over TCP, so tests see what a deployment sees; durability off, for speed.
 */
export class PostgresServer {
  readonly dir: string;
  readonly port: number;
  readonly user = 'postgres';
  readonly password = randomBytes(12).toString('hex');
  readonly database = 'postgres';
  /** A file holding the password, for `?password_file=`. */
  readonly passwordFile: string;
  #process: ServiceProcess | undefined;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.passwordFile = join(dir, 'password');
  }

  static async start(): Promise<PostgresServer> {
    const server = new PostgresServer(serviceDir('pg'), await freePort());
    return booted(server, () => server.#boot());
  }

  async #boot(): Promise<void> {
    writeFileSync(this.passwordFile, `${this.password}\n`, { mode: 0o600 });
    if (isRoot()) {
      const { uid, gid } = userIds('postgres');
      chownSync(this.dir, uid, gid);
      chownSync(this.passwordFile, uid, gid);
    }
    const data = join(this.dir, 'data');
    execFileSync(
      ...asPostgres(join(BIN, 'initdb'), [
        '-D',
        data,
        '-U',
        this.user,
        '--pwfile',
        this.passwordFile,
        '--auth-host=scram-sha-256',
        '--auth-local=trust',
        '--no-sync',
        '-E',
        'UTF8',
      ]),
      { stdio: 'pipe' },
    );
    await this.#launch();
  }

  /** Starts the postmaster on the cluster and waits until it accepts connections. */
  async #launch(): Promise<void> {
    const data = join(this.dir, 'data');
    const postgres = new ServiceProcess(
      ...asPostgres(join(BIN, 'postgres'), [
        '-D',
        data,
        '-p',
        String(this.port),
        '-k',
        this.dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
      ]),
      { logFile: join(this.dir, 'postgres.log') },
    );
    this.#process = postgres;
    await waitUntil(
      'PostgreSQL did not start',
      async () => {
        const c = new pg.Client(this.clientConfig());
        await c.connect();
        await c.end();
        return true;
      },
      { process: postgres },
    );
  }

  /**
   * Takes the server away (a fast shutdown: sessions are cut) without losing
   * its data, as a database restart or an outage would; `resume` brings it back
   * on the same port.
   */
  async pause(): Promise<void> {
    await this.#shutdown('SIGINT');
  }

  async resume(): Promise<void> {
    await this.#launch();
  }

  async #shutdown(signal: NodeJS.Signals): Promise<void> {
    const pidFile = join(this.dir, 'data', 'postmaster.pid');
    if (this.#process?.running !== true) return;
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
    // The postmaster itself, not runuser: SIGQUIT is its immediate shutdown, SIGINT its fast one.
    if (Number.isInteger(pid)) await this.#process.stop(signal, { pid, graceMs: 30_000 });
    else await this.#process.stop();
  }

  clientConfig(): pg.ClientConfig {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: this.user,
      password: this.password,
      database: this.database,
    };
  }

  /** A store URL for a fresh schema of its own (the password through the file). */
  url(schema = `t_${randomBytes(6).toString('hex')}`): string {
    return `postgres://${this.user}@127.0.0.1:${this.port}/${this.database}?schema=${schema}&password_file=${this.passwordFile}`;
  }

  /** Runs SQL as the superuser on a connection of its own. */
  async sql(text: string): Promise<pg.QueryResult> {
    const c = new pg.Client(this.clientConfig());
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  }

  /** Immediate shutdown, then the directory goes. */
  async stop(): Promise<void> {
    await this.#shutdown('SIGQUIT');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const isRoot = () => process.getuid?.() === 0;

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` user. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}
