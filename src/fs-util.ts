import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, one directory at a time. Node's `mkdir(..., { recursive: true })`
 * never returns for a path under /proc (the kernel refuses new entries there
 * with ENOENT, and Node retries for ever); this fails with that error instead.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => {
      // Created meanwhile by someone else: as good as by us.
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** Whether `p` is a directory (following links); false when it is anything else or absent. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `p` is a regular file (following links); false when it is anything else or absent. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
