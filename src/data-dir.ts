import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { link, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Deployment } from './config/types.ts';
import { AutoctrlError } from './errors.ts';
import { makeDirs } from './fs-util.ts';
import type { StateStore } from './store/contract.ts';
import { redactStoreUrl } from './store/url.ts';

/**
 * Which store a data directory belongs to. Job work areas are named by job
 * id, so a data directory next to another store (a deleted `state.db`, a
 * copied deployment) would have that store's job 1 answer for this store's
 * job 1. The store keeps a random id; the data directory keeps it in
 * `store-id`; a start where they differ is refused.
 */
export const STORE_ID_FILE = 'store-id';
const STORE_ID_KEY = 'store:id';

interface IdFile {
  id: string;
  /** The store's URL when the file was written (password redacted), for the message. */
  store: string;
}

/** A store and a data directory that are not each other's. */
export class StoreMismatchError extends AutoctrlError {
  constructor(
    readonly store: string,
    readonly dataDir: string,
    readonly why: string,
  ) {
    super(
      'store_mismatch',
      `store ${store} does not belong with data directory ${dataDir}: ${why}; point store: and data_dir at a pair that belongs together, or move ${dataDir} aside to start afresh`,
    );
  }
}

/** A data directory that cannot be created or written. */
export class DataDirError extends AutoctrlError {
  constructor(
    readonly dataDir: string,
    cause: unknown,
  ) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    super(
      'data_dir_unusable',
      `cannot use the data directory ${dataDir} (${why}): point data_dir at a directory this user may write to`,
      { cause },
    );
  }
}

/**
 * Checks that `deployment.dataDir` belongs to the store, claiming it for the
 * store when it belongs to none yet, and returns the store's id. Throws
 * `StoreMismatchError` when the directory carries another store's id, or
 * when the store is new (no instances) but the directory holds jobs from
 * before ids were kept.
 */
export async function claimDataDir(store: StateStore, deployment: Deployment): Promise<string> {
  const { dataDir } = deployment;
  const storeName = redactStoreUrl(deployment.store);
  const candidate = randomUUID();
  const id = await store.ensureCursor(STORE_ID_KEY, candidate);
  const file = join(dataDir, STORE_ID_FILE);
  for (;;) {
    const found = await readIdFile(file);
    if (found !== null) {
      if (found.id === id) return id;
      throw new StoreMismatchError(
        storeName,
        dataDir,
        `the directory was made by store ${found.store} (id ${found.id}), this store's id is ${id}`,
      );
    }
    if (
      id === candidate &&
      (await hasEntries(join(dataDir, 'jobs'))) &&
      (await store.findInstances({ limit: 1 })).length === 0
    ) {
      throw new StoreMismatchError(
        storeName,
        dataDir,
        'the store is new (no history) but the directory holds the jobs of an earlier store',
      );
    }
    if (await writeIdFile(dataDir, file, { id, store: storeName })) return id;
    // Another controller on this host wrote it first: compare with theirs.
  }
}

/** The id of the store that owns `dataDir`, or null when none claimed it (yet). */
export async function dataDirStoreId(dataDir: string): Promise<string | null> {
  return (await readIdFile(join(dataDir, STORE_ID_FILE)))?.id ?? null;
}

async function readIdFile(file: string): Promise<IdFile | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataDirError(dirname(file), err);
  }
  try {
    const parsed = JSON.parse(text) as Partial<IdFile>;
    if (typeof parsed.id === 'string' && typeof parsed.store === 'string')
      return { id: parsed.id, store: parsed.store };
  } catch {
    // Reported below, with the fix.
  }
  throw new AutoctrlError(
    'store_mismatch',
    `${file} is damaged: it should name the store this data directory belongs to; restore it, or remove it if the directory belongs to the store in the deployment file`,
  );
}

/** Written whole (a temporary file linked into place) and never over another's: false when one exists. */
async function writeIdFile(dataDir: string, file: string, content: IdFile): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}`;
  try {
    await makeDirs(dataDir);
    if (!statSync(dataDir).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await writeFile(tmp, `${JSON.stringify(content)}\n`);
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new DataDirError(dataDir, err);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch {
    return false;
  }
}
