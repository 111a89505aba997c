import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { openApiReader } from './api-reader.ts';
import type { DeploymentReader } from './reader.ts';

/** Where a mirror reads from: an API URL, or a store URL opened read-only. */
export interface MirrorFrom {
  /** `http(s)://HOST:PORT` (prod's API), `sqlite:PATH` or `postgres://...` (prod's store). */
  from: string;
  /** A variable holding a token prod's API accepts for reading (its `auth.read: token`). */
  tokenEnv?: string | null;
}

const API = /^https?:\/\//;

/** Opens the reader `from` names; a store is opened read-only, its driver loaded only then. */
export async function openReader(m: MirrorFrom, logger: Logger): Promise<DeploymentReader> {
  if (API.test(m.from)) {
    let token: string | null = null;
    if (m.tokenEnv != null) {
      token = process.env[m.tokenEnv] ?? null;
      if (token === null || token === '') {
        throw new AutoctrlError(
          'mirror_token_missing',
          `mirror: token_env names ${m.tokenEnv}, which is not set: export it with a read token of ${m.from}`,
        );
      }
    }
    return openApiReader(m.from, token);
  }
  const { openStoreReader } = await import('./store-reader.ts');
  return openStoreReader(m.from, logger);
}
