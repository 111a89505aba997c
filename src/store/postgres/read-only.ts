import { checkReadOnlySchema } from '../read-only.ts';
import type { Db } from './db.ts';
import { MIGRATIONS } from './migrations.ts';

/** A read-only opener's check in place of `migrate`: the schema exists and is the one this code knows. */
export async function checkSchemaVersion(db: Db): Promise<void> {
  const { schema, host, port, database } = db.target;
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  const rows = await db.query<{ v: number | null }>(
    'schema version',
    "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE (SELECT max(version) FROM schema_migrations) END AS v",
  );
  checkReadOnlySchema(`${host}:${port}/${database} schema ${schema}`, rows[0]?.v ?? 0, known);
}
