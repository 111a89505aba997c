import { z } from 'zod';
import { durationOption } from '../fields.ts';

/** Options of the `directory` source, as written under `sources.<name>`. */
export const directoryOptions = z
  .object({
    /** The directory to watch, relative to the deployment file. Not recursive. */
    path: z.string().min(1),
    /**
     * Regular expression on file names. Without `manifest`, its group `run`
     * (or its first group) is the run number and a group `fill` the fill.
     */
    pattern: z.string().min(1).optional(),
    /** Files are JSON manifests: one run object or a list of them (default pattern `\.json$`). */
    manifest: z.boolean().optional(),
    /** Files changed more recently than this are left for the next poll: still being written (default 2s). */
    settle: durationOption('settle').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.pattern !== undefined) {
      let re: RegExp;
      try {
        re = new RegExp(o.pattern);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['pattern'],
          message: `not a regular expression: ${(err as Error).message}`,
        });
        return;
      }
      if (!o.manifest && new RegExp(`${re.source}|`).exec('')?.length === 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['pattern'],
          message: 'needs a group for the run number, e.g. run(\\d+)\\.done or (?<run>\\d+)',
        });
      }
    } else if (!o.manifest) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message:
          'give pattern: with a group for the run number (e.g. run(\\d+)\\.done), or manifest: true for JSON files',
      });
    }
  });

export type DirectoryOptions = z.output<typeof directoryOptions>;
