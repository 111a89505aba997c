import { AutoctrlError, InvalidInputError } from '../errors.ts';

/**
 * What the CLI prints when a command fails: one line that names the problem
 * and how to fix it, and the exit status: 2 for a mistake on the command
 * line, 1 for everything else. Errors autoctrl raises on purpose say this
 * themselves; system and SQLite errors get the words here.
 */
export function describeFailure(err: unknown): { message: string; exitCode: 1 | 2 } {
  if (err instanceof InvalidInputError) return { message: err.message, exitCode: 2 };
  // A store (or data directory) that cannot be used is the deployment's problem, like a bad option.
  if (err instanceof AutoctrlError)
    return { message: err.message, exitCode: STORE_UNUSABLE.has(err.code) ? 2 : 1 };
  const e = err as Partial<NodeJS.ErrnoException> | null;
  const message = oneLine(typeof e?.message === 'string' ? e.message : String(err));
  const hint = typeof e?.code === 'string' ? HINTS[e.code] : undefined;
  if (hint !== undefined) return { message: `${message}: ${hint}`, exitCode: 1 };
  return {
    message: `unexpected error: ${message} (run again with --debug for the stack trace, and report it)`,
    exitCode: 1,
  };
}

const STORE_UNUSABLE = new Set([
  'data_dir_unusable',
  'store_mismatch',
  'store_open',
  'store_schema_newer',
  'store_unavailable',
  'unknown_store',
]);

/** How to get past the system errors people run into, by their code. */
const HINTS: Record<string, string> = {
  EACCES: 'permission denied: run as a user who may, or choose another path',
  EPERM: 'not permitted: run as a user who may, or choose another path',
  ENOENT: 'no such file or directory: check the path',
  ENOTDIR: 'a part of the path is a file, not a directory: check the path',
  EISDIR: 'a directory where a file was expected: check the path',
  EROFS: 'the file system is read-only: choose a writable place',
  ENOSPC: 'the disk is full: free some space and try again',
  EMFILE: 'too many open files: raise the limit (ulimit -n) and try again',
  SQLITE_NOTADB:
    'point store: in the deployment file at the right file, or move this one away to start an empty store',
  SQLITE_CORRUPT:
    'the file is damaged: restore it from a backup, or move it away to start an empty store',
  SQLITE_FULL: 'the disk is full: free some space and try again',
  SQLITE_READONLY: 'the store is read-only: give this user write access to it and its directory',
  SQLITE_CANTOPEN: 'the store cannot be opened: check that its directory exists and is writable',
  SQLITE_BUSY: 'the store is locked by another process: try again',
};

function oneLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}

/** `work` (which opens the deployment's store), with SQLite's errors told as a store that cannot be opened. */
export async function openingStore<T>(store: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('SQLITE_'))
      throw new StoreOpenError(store, err);
    throw err;
  }
}

/** A store that cannot be opened: a file that is not SQLite, a damaged one, one without access. */
export class StoreOpenError extends AutoctrlError {
  constructor(
    readonly store: string,
    cause: unknown,
  ) {
    const { message } = describeFailure(cause);
    super(
      'store_open',
      `cannot open the store ${store}: ${message.replace(/^unexpected error: /, '')}`,
      { cause },
    );
  }
}
