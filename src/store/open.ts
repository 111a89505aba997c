import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { StateStore } from './contract.ts';

/** How a store is opened: `readOnly` for another deployment's store (a mirror's, `diff-env`'s). */
export interface OpenStoreOptions {
  readOnly?: boolean;
}

type StoreLoader = (url: string, logger: Logger, opts: OpenStoreOptions) => Promise<StateStore>;

async function openPostgres(
  url: string,
  logger: Logger,
  opts: OpenStoreOptions,
): Promise<StateStore> {
  const { createPostgresStore } = await import('./postgres/index.ts');
  return createPostgresStore(url, { logger, ...opts });
}

/**
 * Store kinds by URL scheme. Each is imported only when a deployment names
 * it, so a SQLite deployment never loads a PostgreSQL driver.
 */
const storeKinds: Record<string, StoreLoader> = {
  sqlite: async (url, logger, opts) => {
    const { createSqliteStore } = await import('./sqlite/index.ts');
    return createSqliteStore(url.slice('sqlite:'.length), { logger, ...opts });
  },
  postgres: openPostgres,
  postgresql: openPostgres,
};

export class UnknownStoreError extends AutoctrlError {
  constructor(readonly url: string) {
    super(
      'unknown_store',
      `store "${url}": unknown kind; use one of ${Object.keys(storeKinds)
        .map((k) => `${k}:`)
        .join(', ')}`,
    );
  }
}

/**
 * Opens the store at `url`, migrated; with `readOnly`, as it is (it must be
 * at this code's schema) and refusing every write, for reading another
 * deployment's state without any risk of changing it.
 */
export async function openStore(
  url: string,
  logger: Logger,
  opts: OpenStoreOptions = {},
): Promise<StateStore> {
  const scheme = url.slice(0, url.indexOf(':'));
  const loader = storeKinds[scheme];
  if (loader === undefined) throw new UnknownStoreError(url);
  return loader(url, logger, opts);
}
