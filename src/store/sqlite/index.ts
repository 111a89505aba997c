import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AutoctrlError } from '../../errors.ts';
import { makeDirs } from '../../fs-util.ts';
import { type Logger, silentLogger } from '../../logger.ts';
import type { StateStore } from '../contract.ts';
import { Checkpointer } from './checkpointer.ts';
import { migrate } from './migrations.ts';
import { checkSchemaVersion } from './read-only.ts';
import { SqliteStore } from './sqlite-store.ts';
import { transientOnBusy } from './transient.ts';

/**
 * Opens (creating it and its directory if needed) and migrates the SQLite
 * store at `path`. Other processes, such as a job's `autoctrl job report`,
 * may open the same file at the same time.
 */
export async function createSqliteStore(
  path: string,
  opts: { logger?: Logger; readOnly?: boolean } = {},
): Promise<StateStore> {
  const logger = opts.logger ?? silentLogger();
  if (opts.readOnly === true) return openReadOnly(path, logger);
  if (path !== ':memory:') await makeStoreDir(path);
  const db = new Database(path);
  try {
    // busy_timeout first: switching to WAL itself may wait for another opener.
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    // In WAL mode a killed process loses nothing; only a power cut may undo the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // A larger page cache keeps intake of many instances (one big transaction per task) well
    // within its budget. Checkpoints run off this thread (`Checkpointer`); this connection's own
    // is the backstop, and rare: in this thread, 10,000 pages stalled every pass for 60 ms.
    db.pragma('cache_size = -65536');
    db.pragma('wal_autocheckpoint = 10000');
    migrate(db, logger, path);
    const checkpointer = path === ':memory:' ? null : new Checkpointer(path, logger);
    return transientOnBusy(new SqliteStore(db, logger, path, checkpointer), path);
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Another deployment's store, for reading only: never created, never
 * migrated, never switched to WAL (the file's own journal mode is kept), and
 * any write is refused by SQLite itself (`SQLITE_READONLY`), so the file's
 * bytes stay as its owner left them.
 */
function openReadOnly(path: string, logger: Logger): StateStore {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new AutoctrlError(
      'store_open',
      `cannot open the store sqlite:${path} read-only: ${(cause as Error).message}; check the path (it must be an existing store) and that this user may read it`,
      { cause },
    );
  }
  try {
    db.pragma('busy_timeout = 10000');
    checkSchemaVersion(db, path);
    return transientOnBusy(new SqliteStore(db, logger, path), path);
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The store's directory, made if missing; why not in one line (`mkdir -p` under /proc would hang). */
async function makeStoreDir(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    await makeDirs(dir);
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new AutoctrlError(
      'store_open',
      `cannot open the store sqlite:${path}: cannot create its directory ${dir} (${why}): point store: at a directory this user may write to`,
      { cause },
    );
  }
}
