import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { StateStore } from './contract.ts';

type StoreLoader = (url: string, logger: Logger) => Promise<StateStore>;

async function openPostgres(url: string, logger: Logger): Promise<StateStore> {
  const { createPostgresStore } = await import('./postgres/index.ts');
  return createPostgresStore(url, { logger });
}

/**
 * Store kinds by URL scheme. Each is imported only when a deployment names
 * it, so a SQLite deployment never loads a PostgreSQL driver.
 */
const storeKinds: Record<string, StoreLoader> = {
  sqlite: async (url, logger) => {
    const { createSqliteStore } = await import('./sqlite/index.ts');
    return createSqliteStore(url.slice('sqlite:'.length), { logger });
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

export async function openStore(url: string, logger: Logger): Promise<StateStore> {
  const scheme = url.slice(0, url.indexOf(':'));
  const loader = storeKinds[scheme];
  if (loader === undefined) throw new UnknownStoreError(url);
  return loader(url, logger);
}
