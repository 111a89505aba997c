import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type LockTarget, lockKind } from './contract.ts';
import { globPaths, hasMagic } from './glob.ts';
import { expandFor, lockTemplate } from './options.ts';

/**
 * `file`: a path or glob exists (relative to the deployment's directory),
 * optionally non-empty: a file with bytes, or a directory with entries.
 */
export const fileLock = lockKind({
  kind: 'file',
  options: z.strictObject({
    /** A path or a glob (`*`, `?`, `**`) with `{run}`-style placeholders. */
    path: lockTemplate,
    /** Require a match that is not empty (default false). */
    non_empty: z.boolean().optional(),
  }),
  create(options, ctx) {
    const resolve = (target: LockTarget) => path.resolve(ctx.dir, expandFor(options.path, target));
    return {
      key: resolve,
      async check(target, signal) {
        const pattern = resolve(target);
        let empty: string | null = null;
        for await (const found of globPaths(pattern, signal)) {
          if (options.non_empty !== true || (await notEmpty(found))) {
            return { open: true, reason: `found ${found}` };
          }
          empty ??= found;
        }
        if (empty !== null) return { open: false, reason: `${empty} is empty` };
        const what = hasMagic(pattern) ? 'no file matches' : 'no file';
        return { open: false, reason: `${what} ${pattern}` };
      },
    };
  },
});

async function notEmpty(p: string): Promise<boolean> {
  try {
    const s = await stat(p);
    if (s.isDirectory()) return (await readdir(p)).length > 0;
    return s.size > 0;
  } catch {
    return false;
  }
}
