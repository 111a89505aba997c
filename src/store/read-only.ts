import { AutoctrlError } from '../errors.ts';

/**
 * A store opened read-only (another deployment's, by a mirror or `diff-env`)
 * is never migrated, so it must be at exactly the schema this autoctrl
 * knows: an older one lacks columns, a newer one may mean other things.
 */
export class StoreSchemaMismatchError extends AutoctrlError {
  constructor(
    readonly store: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      'store_schema_mismatch',
      `store ${store} is at schema version ${found}, this autoctrl reads version ${known} and opens it read-only, so it does not migrate it: run the same autoctrl version on both sides, or read it through its API (an http:// URL) instead`,
    );
  }
}

/** Throws unless `found` is the schema version this autoctrl knows. */
export function checkReadOnlySchema(store: string, found: number, known: number): void {
  if (found !== known) throw new StoreSchemaMismatchError(store, found, known);
}
