import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

const from = z
  .string()
  .regex(
    /^(https?:\/\/.+|sqlite:.+|postgres(ql)?:\/\/.+)$/,
    'from is prod’s API URL (http://HOST:PORT) or its store (sqlite:PATH, postgres://USER@HOST/DB)',
  );
const tokenEnv = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'token_env is an environment variable name');

/** What the `mirror` source and executor share: where prod is read. */
export const mirrorFromOptions = z
  .object({
    /** Prod's API URL or store URL (a SQLite path relative to the deployment file). */
    from,
    /** A variable holding a read token for prod's API (when its `auth.read` is `token`). */
    token_env: tokenEnv.optional(),
  })
  .strict();

/** Options of the `mirror` source: prod's runs. */
export const mirrorSourceOptions = mirrorFromOptions.extend({
  /** Runs before this one are not taken (default: every run prod has). */
  first_run: z.number().int().positive().optional(),
});

/** A `from` that names a SQLite file relative to `dir` (the deployment's), made absolute. */
export function absoluteFrom(from: string, dir: string): string {
  if (!from.startsWith('sqlite:')) return from;
  const file = from.slice('sqlite:'.length);
  return isAbsolute(file) ? from : `sqlite:${resolve(dir, file)}`;
}
