import pg from 'pg';
import type { Logger } from '../../logger.ts';
import { type Db, reasonOf } from './db.ts';

/** The longest wait between two attempts to listen again after the connection dropped. */
const MAX_BACKOFF_MS = 5_000;

/**
 * The cross-process wake-up: LISTEN to the channel the schema's triggers
 * notify at every commit that touches runs, events, samples or jobs, on a
 * connection taken out of the pool while anyone watches (an idle pooled
 * connection is already authenticated: listening starts within one round
 * trip). A dropped connection is replaced with backoff, and every
 * (re)connection calls the listeners once, for what it may have missed.
 * Commits through this handle's own connections call nobody (the contract
 * allows, and does not need, calls for them).
 */
export class ChangeWatcher {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #channel: string;
  readonly #listeners = new Set<() => void>();
  #client: pg.PoolClient | null = null;
  #retry: NodeJS.Timeout | null = null;
  #failures = 0;
  #due = false;

  constructor(db: Db, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
    this.#channel = `autoctrl:${db.target.schema}`;
  }

  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#connect();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) void this.close();
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    this.#detach(client);
    try {
      await client.query(`UNLISTEN ${pg.escapeIdentifier(this.#channel)}`);
      client.release();
    } catch (err) {
      client.release(err as Error);
    }
  }

  /** Calls every listener once on the next turn, however many notifications arrived meanwhile. */
  #fire(): void {
    if (this.#due) return;
    this.#due = true;
    setImmediate(() => {
      this.#due = false;
      for (const l of [...this.#listeners]) l();
    });
  }

  #connect(): void {
    this.#db.pool
      .connect()
      .then(async (client) => {
        if (this.#listeners.size === 0) {
          client.release();
          return;
        }
        this.#client = client;
        this.#attach(client);
        try {
          await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
        } catch (err) {
          this.#lost(client, err);
          return;
        }
        if (this.#client !== client) return;
        this.#failures = 0;
        this.#fire();
      })
      .catch((err: unknown) => this.#lost(null, err));
  }

  // A commit through this handle's own pool wakes nobody: whoever made it knows (the engine's
  // own writes would otherwise call for one more pass after every pass that wrote).
  readonly #onNotification = (msg: pg.Notification) => {
    if (!this.#db.isOwnBackend(msg.processId)) this.#fire();
  };
  readonly #onError = (err: Error) => this.#lost(this.#client, err);
  readonly #onEnd = () => this.#lost(this.#client, new Error('connection closed'));

  /** Our handlers on the listening client, removed before it goes back to the pool. */
  #attach(client: pg.PoolClient): void {
    client.on('notification', this.#onNotification);
    client.on('error', this.#onError);
    client.on('end', this.#onEnd);
  }

  #detach(client: pg.PoolClient): void {
    client.off('notification', this.#onNotification);
    client.off('error', this.#onError);
    client.off('end', this.#onEnd);
  }

  /** `client` null: no connection could be had from the pool. */
  #lost(client: pg.PoolClient | null, err: unknown): void {
    // Events of a client already replaced or given back on purpose.
    if (client !== null) {
      if (this.#client !== client) return;
      this.#client = null;
      this.#detach(client);
      client.release(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.#listeners.size === 0) return;
    this.#failures += 1;
    const wait = Math.min(MAX_BACKOFF_MS, 25 * 2 ** this.#failures);
    this.#logger.warn(
      { err: reasonOf(err), retryInMs: wait },
      'PostgreSQL store: change listener lost its connection; listening again',
    );
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.#listeners.size > 0) this.#connect();
    }, wait);
  }
}
