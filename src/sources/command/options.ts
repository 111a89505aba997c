import { z } from 'zod';
import { durationOption } from '../fields.ts';

/** Options of the `command` source, as written under `sources.<name>`. */
export const commandOptions = z
  .object({
    /** The program and its arguments; never run through a shell. */
    command: z
      .array(z.string(), {
        error: 'command is an argv list, e.g. [python3, runs.py], never a shell line',
      })
      .min(1, 'command must list the program and its arguments'),
    /** Time the command may take (default 60s); it is killed after that and the poll fails. */
    timeout: durationOption('timeout').optional(),
    /** Extra environment for the command. */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
    /** Working directory, relative to the deployment file (default its directory). */
    cwd: z.string().min(1).optional(),
  })
  .strict();

export type CommandOptions = z.output<typeof commandOptions>;
