import { AutoctrlError, StoreUnavailableError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../logger.ts';
import type { StateStore } from '../contract.ts';
import { redactStoreUrl } from '../url.ts';
import { campaignOps } from './campaigns.ts';
import { coordinationOps } from './coordination.ts';
import { Db, reasonOf } from './db.ts';
import { feedOps } from './feed.ts';
import { historyOps } from './history.ts';
import { instanceOps } from './instances.ts';
import { jobOps } from './jobs.ts';
import { migrate } from './migrations.ts';
import { overviewOps } from './overview.ts';
import { checkSchemaVersion } from './read-only.ts';
import { runOps } from './runs.ts';
import { sampleOps } from './samples.ts';
import { statusCountOps } from './status-counts.ts';
import { parsePostgresUrl } from './url.ts';
import { ChangeWatcher } from './watch.ts';

/**
 * Opens the store at `url` (`postgres://USER@HOST:PORT/DB?schema=NAME`, the
 * password from `PGPASSWORD` or `?password_file=`) and migrates it. A server
 * that cannot be reached or used throws `StoreUnavailableError`, one line
 * naming host, port and database; a schema migrated by a newer autoctrl
 * throws `StoreSchemaNewerError`. With `readOnly`, every transaction is
 * read-only on the server and nothing is migrated: the schema must be the
 * one this autoctrl knows (`StoreSchemaMismatchError`).
 */
export async function createPostgresStore(
  url: string,
  opts: { logger?: Logger; env?: NodeJS.ProcessEnv; readOnly?: boolean } = {},
): Promise<StateStore> {
  const logger = opts.logger ?? silentLogger();
  const target = parsePostgresUrl(url, opts.env);
  const readOnly = opts.readOnly === true;
  const db = new Db(target, logger, { readOnly });
  const watcher = new ChangeWatcher(db, logger);
  let closed = false;
  try {
    await db.check();
    const store: StateStore = {
      ...runOps(db),
      ...coordinationOps(db),
      ...instanceOps(db),
      ...jobOps(db),
      ...historyOps(db),
      ...campaignOps(db),
      ...overviewOps(db),
      ...feedOps(db),
      ...sampleOps(db),
      ...statusCountOps(db),
      migrate: () => migrate(db, logger),
      watch: (listener) => watcher.watch(listener),
      close: async () => {
        if (closed) return;
        closed = true;
        await watcher.close();
        await db.end();
      },
    };
    try {
      if (readOnly) await checkSchemaVersion(db);
      else await store.migrate();
    } catch (err) {
      if (err instanceof AutoctrlError) throw err;
      // No rights to create the schema or its tables, mostly: still one line, no stack.
      const reason = `cannot migrate schema ${target.schema}: ${reasonOf(err)}`;
      throw new StoreUnavailableError(target.host, target.port, target.database, reason, {
        cause: err,
      });
    }
    logger.debug({ store: redactStoreUrl(url) }, 'PostgreSQL store open');
    return store;
  } catch (err) {
    await db.end();
    throw err;
  }
}
