import pg from 'pg';
import type { Logger } from '../../logger.ts';
import { connectionConfig, reasonOf } from './db.ts';
import type { PostgresTarget } from './url.ts';

/** The longest wait between two attempts to listen again after the connection dropped. */
const MAX_BACKOFF_MS = 5_000;

/**
 * The cross-process wake-up: LISTEN on a connection of its own (a pooled one
 * would be handed to queries) to the channel the schema's triggers notify at
 * every commit that touches runs, events, samples or jobs. Open while anyone
 * watches; a dropped connection is reopened with backoff, and every
 * (re)connection calls the listeners once, for what it may have missed.
 */
export class ChangeWatcher {
  readonly #target: PostgresTarget;
  readonly #logger: Logger;
  readonly #channel: string;
  readonly #listeners = new Set<() => void>();
  #client: pg.Client | null = null;
  #retry: NodeJS.Timeout | null = null;
  #failures = 0;
  #due = false;

  constructor(target: PostgresTarget, logger: Logger) {
    this.#target = target;
    this.#logger = logger;
    this.#channel = `autoctrl:${target.schema}`;
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
    await client?.end().catch(() => {});
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
    const client = new pg.Client(connectionConfig(this.#target));
    this.#client = client;
    client.on('notification', () => this.#fire());
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection closed')));
    client
      .connect()
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`))
      .then(() => {
        if (this.#client !== client) return;
        this.#failures = 0;
        this.#fire();
      })
      .catch((err: unknown) => this.#lost(client, err));
  }

  #lost(client: pg.Client, err: unknown): void {
    // Events of a client already replaced or closed on purpose.
    if (this.#client !== client) return;
    this.#client = null;
    client.end().catch(() => {});
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
