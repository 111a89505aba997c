import { TransientStoreError } from '../errors.ts';
import type { Logger } from '../logger.ts';

const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 15_000;

/**
 * The store going away (a restarted database, a dropped connection): logged
 * once when it starts and once when it ends, however many passes fail in
 * between, with a retry delay that doubles up to a ceiling. Nothing is lost
 * meanwhile: every step of a pass is a transaction the next pass redoes.
 */
export class StoreOutage {
  #since: number | null = null;
  #failures = 0;

  constructor(private readonly logger: Logger) {}

  /** Whether `err` is the store being unreachable; if so, the delay before trying again. */
  failed(err: unknown): number | null {
    if (!(err instanceof TransientStoreError)) return null;
    if (this.#since === null) {
      this.#since = Date.now();
      this.logger.warn({ err }, 'the store is unreachable: the engine waits and retries');
    } else this.logger.debug({ err }, 'the store is still unreachable');
    this.#failures++;
    return Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.#failures - 1));
  }

  succeeded(): void {
    if (this.#since === null) return;
    this.logger.warn(
      { downMs: Date.now() - this.#since, failures: this.#failures },
      'the store is reachable again: the engine goes on',
    );
    this.#since = null;
    this.#failures = 0;
  }
}
