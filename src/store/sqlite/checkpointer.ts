import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../logger.ts';

/** The worker's script, in the package's `bin/` (the same path from `src/` and from `dist/`). */
const SCRIPT = fileURLToPath(new URL('../../../bin/autoctrl-checkpointer.cjs', import.meta.url));
const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * How often the worker checkpoints. Between two, the log grows by what the
 * controller wrote meanwhile; each checkpoint copies only that.
 */
const CHECKPOINT_EVERY_MS = 250;

/**
 * Checkpoints a store's write-ahead log from a worker thread with its own
 * connection (`bin/autoctrl-checkpointer.cjs`). The controller's connection
 * keeps its own automatic checkpoint only as a backstop, should this one
 * fall behind: it then finds the pages copied already. One per writable
 * store file that this process opened; it never keeps the process alive.
 */
export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<unknown>;

  constructor(path: string, logger: Logger) {
    // No execArgv: the test runner's loader has nothing to do in a plain script.
    this.#worker = new Worker(SCRIPT, {
      workerData: { path, driver: DRIVER, everyMs: CHECKPOINT_EVERY_MS },
      execArgv: [],
    });
    // Not `events.once`, which rejects on an error event: closing must never throw.
    this.#exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    let told = false;
    this.#worker.on('message', (m: { error?: string }) => {
      // Once: a file removed under it would say so every time.
      if (told) return;
      told = true;
      logger.warn(
        { store: path, err: m.error },
        'checkpoint of the SQLite write-ahead log failed: tried again, and the controller checkpoints itself if the log grows',
      );
    });
    this.#worker.on('error', (err) =>
      logger.warn(
        { store: path, err },
        'the SQLite checkpointer stopped: the controller checkpoints the write-ahead log itself',
      ),
    );
    this.#worker.unref();
  }

  /** One last checkpoint, then the worker ends. */
  async close(): Promise<void> {
    // Waited for: whoever closes the store keeps the process alive until the worker is gone.
    this.#worker.ref();
    this.#worker.postMessage('stop');
    await this.#exited;
  }
}
