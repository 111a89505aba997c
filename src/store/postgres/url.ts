import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../errors.ts';
import { redactStoreUrl } from '../url.ts';

/** Where a PostgreSQL store lives, resolved from its URL and the environment. */
export interface PostgresTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The PostgreSQL schema holding this store's tables: several stores may share one database. */
  schema: string;
  /** Never logged, never part of a message. */
  password: string | undefined;
}

const QUERY_KEYS = ['schema', 'password_file'] as const;

/**
 * Plain identifiers only: the schema name reaches `search_path`, a LISTEN
 * channel and advisory-lock keys, and stays readable in `psql`.
 */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Reads `postgres://USER@HOST:PORT/DB?schema=NAME&password_file=/path`. The
 * password comes from the file when one is named, else from `PGPASSWORD`; one
 * written in the URL is refused, because URLs end up in configuration files,
 * `show` and logs.
 */
export function parsePostgresUrl(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): PostgresTarget {
  const shown = redactStoreUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new InvalidInputError(
      'store',
      `${shown} is not a URL: write postgres://USER@HOST:PORT/DB?schema=NAME`,
      { cause: err },
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new InvalidInputError('store', `${shown}: the scheme must be postgres: or postgresql:`);
  }
  if (u.password !== '') {
    throw new InvalidInputError(
      'store',
      `${shown}: a password in the URL would show in configuration and logs; put it in PGPASSWORD or in a file named by ?password_file=`,
    );
  }
  for (const key of u.searchParams.keys()) {
    if (!(QUERY_KEYS as readonly string[]).includes(key)) {
      throw new InvalidInputError(
        'store',
        `${shown}: unknown parameter ${key}; known ones are ${QUERY_KEYS.join(', ')}`,
      );
    }
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new InvalidInputError(
      'store',
      `${shown}: name the database, as in postgres://USER@HOST/DB`,
    );
  }
  const schema = u.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new InvalidInputError(
      'store',
      `${shown}: schema "${schema}" must be letters, digits and _ (not starting with a digit), at most 63`,
    );
  }
  const port = u.port === '' ? 5432 : Number(u.port);
  const passwordFile = u.searchParams.get('password_file');
  return {
    host: decodeURIComponent(u.hostname) || 'localhost',
    port,
    database,
    user: decodeURIComponent(u.username) || (env.PGUSER ?? env.USER ?? 'postgres'),
    schema,
    password: passwordFile === null ? env.PGPASSWORD : readPassword(passwordFile, shown),
  };
}

function readPassword(file: string, shown: string): string {
  try {
    // One trailing newline is what editors and `echo` add; it is not part of the password.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new InvalidInputError(
      'store',
      `${shown}: cannot read password_file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and that this user may read it`,
      { cause: err },
    );
  }
}
