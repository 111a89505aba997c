import type Database from 'better-sqlite3';
import { checkReadOnlySchema } from '../read-only.ts';
import { MIGRATIONS } from './migrations.ts';

/** A read-only opener's check in place of `migrate`: the schema exists and is the one this code knows. */
export function checkSchemaVersion(db: Database.Database, label: string): void {
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .pluck()
    .get();
  const found =
    table === undefined
      ? 0
      : (db
          .prepare<[], number | null>('SELECT MAX(version) FROM schema_migrations')
          .pluck()
          .get() ?? 0);
  checkReadOnlySchema(label, found, known);
}
