import { StoreFullError, TransientStoreError } from '../../errors.ts';
import type { StateStore } from '../contract.ts';

const BUSY = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']);

function codeOf(err: unknown): string {
  return (typeof err === 'object' && err !== null && (err as { code?: string }).code) || '';
}

/**
 * The contract's promise that retry-worthy failures arrive as
 * `TransientStoreError`: another process held the write lock past
 * `busy_timeout`, or the disk is full (`StoreFullError`, until space is
 * freed). better-sqlite3 rolls the transaction back before throwing.
 */
export function transientOnBusy(store: StateStore, path: string): StateStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(out instanceof Promise)) return out;
        return out.catch((err: unknown) => {
          const code = codeOf(err);
          if (BUSY.has(code))
            throw new TransientStoreError(`store busy in ${String(prop)}`, { cause: err });
          if (code === 'SQLITE_FULL') throw new StoreFullError(`sqlite:${path}`, { cause: err });
          throw err;
        });
      };
    },
  });
}
