import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
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
