import pg from 'pg';
import { StoreUnavailableError, TransientStoreError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { PostgresTarget } from './url.ts';

/** What store operations run their SQL on: a pooled client inside a transaction. */
export type Sql = Pick<pg.PoolClient, 'query'>;

/**
 * Thrown inside a transaction to have it rolled back and run again: a
 * concurrent writer made a row this one needs (a membership) between its
 * check and its insert.
 */
export class RetryTransaction extends Error {}

/**
 * Ends a transaction with COMMIT sent behind the statements already issued,
 * without waiting for `last` first; resolves with `last`'s value once both
 * are answered. Only for a last write whose answer needs no check that could
 * still call the transaction off.
 */
export type Commit = <T>(last: Promise<T>) => Promise<T>;

const RETRIES = 5;

// SQLSTATEs worth another try: serialization failure, deadlock, admin
// shutdown, crash shutdown, cannot connect now, and every connection exception.
const TRANSIENT_CODES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

function isTransient(err: unknown): boolean {
  if (err instanceof RetryTransaction) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TRANSIENT_CODES.has(code) || code.startsWith('08') || TRANSIENT_ERRNOS.has(code))
      return true;
  }
  // node-postgres reports a pool wait that timed out, and a socket closed under a query, by message only.
  return /timeout exceeded when trying to connect|Connection terminated/i.test(err.message);
}

const INT8 = 20;
const NUMERIC = 1700;
const INT8_ARRAY = 1016;

/**
 * Counts and ids are bigint on the server; as numbers they stay exact up to
 * 2^53, far beyond what a store holds. xid8 stays a string (feed cursors).
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    if (oid === INT8_ARRAY) {
      // Array type ids are not in the driver's TypeId list, though it parses them.
      const byOid = pg.types.getTypeParser as (oid: number) => (v: string) => (string | null)[];
      const strings = byOid(oid);
      return (v: string) => strings(v).map(Number);
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

function connectionConfig(t: PostgresTarget, readOnly: boolean): pg.ClientConfig {
  // Read-only at the session level: every transaction of every pooled connection refuses writes on the server.
  const guard = readOnly ? ' -c default_transaction_read_only=on' : '';
  return {
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    password: t.password,
    // search_path at connection start: no extra round trip, and every pooled connection has it.
    options: `-c search_path=${pg.escapeIdentifier(t.schema)}${guard}`,
    types,
    application_name: 'autoctrl',
    connectionTimeoutMillis: 5_000,
    // Statements issued together go out together: a transaction's BEGIN, its independent
    // statements and its COMMIT do not each wait for a round trip.
    pipeline: true,
  };
}

/**
 * A statement prepared once per connection under `name` (unique to one text;
 * see `Db.prepared` for which statements may be), for `Sql.query`.
 */
export function named(name: string, text: string, values: unknown[]): pg.QueryConfig {
  return { name: `autoctrl_${name}`, text, values };
}

/** The server process behind a connection (the driver keeps it, untyped, from the start-up's key data). */
function backendPid(client: pg.PoolClient): number | null {
  const pid = (client as unknown as { processID?: unknown }).processID;
  return typeof pid === 'number' ? pid : null;
}

/** A one-line reason from a driver error: no stack, no parameters, no password. */
export function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const first = err.message.split('\n')[0] ?? '';
  return typeof code === 'string' && !first.includes(code) ? `${first} (${code})` : first;
}

/**
 * The pool and the transaction runner every operation goes through:
 * transient failures are retried with backoff, then surface as
 * `TransientStoreError` with the driver's error as cause.
 */
export class Db {
  readonly pool: pg.Pool;
  readonly target: PostgresTarget;
  readonly #logger: Logger;
  /** The server process ids of this pool's connections: whose notifications are this handle's own. */
  readonly #backends = new Set<number>();

  constructor(target: PostgresTarget, logger: Logger, opts: { readOnly?: boolean } = {}) {
    this.target = target;
    this.#logger = logger;
    this.pool = new pg.Pool({
      ...connectionConfig(target, opts.readOnly === true),
      max: 8,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('connect', (client) => {
      const pid = backendPid(client);
      if (pid !== null) this.#backends.add(pid);
    });
    this.pool.on('remove', (client) => {
      const pid = backendPid(client);
      if (pid !== null) this.#backends.delete(pid);
    });
    // An idle client whose server went away: the pool drops it; without a listener Node would crash.
    this.pool.on('error', (err) => {
      this.#logger.warn({ err: reasonOf(err) }, 'PostgreSQL store: idle connection lost');
    });
  }

  /** Whether the server process `pid` serves one of this pool's connections (a commit of this handle's own). */
  isOwnBackend(pid: number): boolean {
    return this.#backends.has(pid);
  }

  /** The first connection: a server that cannot be used gives one line naming where it looked. */
  async check(): Promise<void> {
    try {
      const client = await this.pool.connect();
      client.release();
    } catch (err) {
      const t = this.target;
      throw new StoreUnavailableError(t.host, t.port, t.database, reasonOf(err), { cause: err });
    }
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED; row locks make the
   * compare-and-sets safe). The connection pipelines: BEGIN travels with the
   * first statement, statements `fn` issues together travel together, and
   * `commit(last)` sends COMMIT right behind the statements already issued,
   * so a transaction costs as many round trips as `fn` waits for answers.
   */
  async tx<T>(what: string, fn: (sql: Sql, commit: Commit) => Promise<T>): Promise<T> {
    return this.#retrying(what, async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // A checked-out client has no pool listener: a server going away mid-transaction
      // would otherwise be an unhandled 'error' event (the query itself rejects too).
      const lost = (err: Error) => {
        broken = err;
      };
      client.on('error', lost);
      let ended = false;
      const commit: Commit = async (last) => {
        ended = true;
        // A failed statement before it leaves the transaction aborted: the COMMIT then rolls back.
        const [value] = await Promise.all([last, client.query('COMMIT')]);
        return value;
      };
      try {
        const [, result] = await Promise.all([client.query('BEGIN'), fn(client, commit)]);
        if (!ended) await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          // Answered after every statement still in flight: the connection is idle when released.
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
        throw err;
      } finally {
        client.off('error', lost);
        client.release(broken);
      }
    });
  }

  /**
   * `fn` on the pool, outside a transaction: for writes of one statement,
   * atomic on their own, without the two round trips of BEGIN and COMMIT.
   */
  async auto<T>(what: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.#retrying(what, () => fn(this.pool));
  }

  /**
   * `query` with the statement prepared once per connection under `what`
   * (unique to one text): later calls skip parsing and planning. Only for
   * the pass's hot reads, whose generic plan is as good as a fresh one: no
   * parameter that switches a condition off.
   */
  async prepared<R extends pg.QueryResultRow>(
    what: string,
    text: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    return this.#retrying(
      what,
      async () => (await this.pool.query<R>(named(what, text, params))).rows,
    );
  }

  /** One statement outside a transaction (reads). */
  async query<R extends pg.QueryResultRow>(
    what: string,
    text: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    return this.#retrying(what, async () => (await this.pool.query<R>(text, params)).rows);
  }

  async #retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isTransient(err)) throw err;
        if (n + 1 >= RETRIES) {
          throw new TransientStoreError(`PostgreSQL store: ${what} (${reasonOf(err)})`, {
            cause: err,
          });
        }
        const wait = 10 * 2 ** n + Math.random() * 10;
        this.#logger.debug(
          { what, attempt: n + 1, wait, err: reasonOf(err) },
          'retrying store transaction',
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
