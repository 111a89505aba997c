import { z } from 'zod';
import { PLACEHOLDER_NAMES, unknownPlaceholders } from '../engine/placeholders.ts';
import { influxOptions } from '../export/influx/options.ts';
import { MAX_REQUEST_BYTES } from '../limits.ts';
import { mirrorSection } from '../mirror/config.ts';
import { durationSchema } from './duration.ts';
import { parseSize } from './size.ts';
import type { Grouping } from './types.ts';

/*
 * The raw shape of `autoctrl.yaml` (snake_case, as written). Optional keys are
 * `nullish` because YAML users leave a key empty (`sources:`) to mean "none";
 * defaults and paths are filled in by `resolve.ts`, cross-references
 * (upstream tasks, executor names, kinds) are checked by `checks.ts`.
 */

export const TASK_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const TASK_NAME_RULE =
  'task names are lower-case letters, digits, - and _, starting with a letter or digit';

const KNOWN_PLACEHOLDERS = PLACEHOLDER_NAMES.map((n) => `{${n}}`).join(', ');

const duration = durationSchema;

/** The name of an environment variable holding a secret (the secret itself never goes in the file). */
const ENV_NAME = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

/** A size in bytes written `500GB`, `1.5TB`, `200GiB`. */
const size = z.unknown().transform((value, ctx) => {
  const bytes = typeof value === 'string' || typeof value === 'number' ? parseSize(value) : null;
  if (bytes === null) {
    ctx.addIssue({
      code: 'custom',
      message: `bad size ${JSON.stringify(value)}: write a number and a unit (KB, MB, GB, TB, or KiB, GiB...), e.g. 500GB`,
    });
    return z.NEVER;
  }
  return bytes;
});

/** A string jobs receive with `{run}`-style placeholders filled in. */
const templated = z.string().superRefine((text, ctx) => {
  for (const name of unknownPlaceholders(text)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown placeholder {${name}}: known are ${KNOWN_PLACEHOLDERS} (write {{ and }} for literal braces)`,
    });
  }
});

const grouping = z.unknown().transform((value, ctx): Grouping => {
  if (value === 'run' || value === 'fill') return { by: value };
  if (isPlainMap(value) && Object.keys(value).length === 1 && 'lumi' in value) {
    const lumi = value.lumi;
    if (typeof lumi === 'number' && Number.isFinite(lumi) && lumi > 0) return { by: 'lumi', lumi };
    ctx.addIssue({
      code: 'custom',
      message: 'lumi must be a positive number (/pb)',
      path: ['lumi'],
    });
    return z.NEVER;
  }
  ctx.addIssue({
    code: 'custom',
    message: 'group must be run, fill or { lumi: <positive number> }',
  });
  return z.NEVER;
});

const jobs = z.unknown().transform((value, ctx): number | { per: 'input' } => {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (isPlainMap(value) && Object.keys(value).length === 1 && value.per === 'input') {
    return { per: 'input' };
  }
  ctx.addIssue({
    code: 'custom',
    message: 'jobs must be a positive whole number or { per: input }',
  });
  return z.NEVER;
});

/** A host path bound into a container: the runtimes' bind syntax has no escape for `:` and `,`. */
const bindPath = z
  .string()
  .min(1)
  .refine(
    (p) => !/[:,]/.test(p),
    'a bound path must not contain ":" or ",": container runtimes read them as separators',
  );

const container = z.strictObject({
  image: z.string().min(1, 'image must name the image, e.g. registry.cern.ch/cms/cmssw:el9'),
  runtime: z.enum(['apptainer', 'docker', 'podman'], {
    error: 'runtime must be apptainer, docker or podman',
  }),
  args: z.array(z.string()).nullish(),
  binds: z.array(bindPath).nullish(),
});

const taskSchema = z.strictObject({
  workflow: z.string().min(1).nullish(),
  after: z.array(z.string()).nullish(),
  group: grouping.nullish(),
  command: z
    .array(templated, {
      error: 'command is an argv list, e.g. [python3, reco.py], never a shell line',
    })
    .min(1, 'command must list the program and its arguments')
    .superRefine((argv, ctx) => {
      if (argv[0]?.trim() === '')
        ctx.addIssue({
          code: 'custom',
          path: [0],
          message: 'the program must not be empty: name it, e.g. python3',
        });
    }),
  jobs: jobs.nullish(),
  retries: z.int().min(0).nullish(),
  retry_delay: duration('zero').nullish(),
  timeout: duration('positive').nullish(),
  executor: z.string().nullish(),
  env: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'),
      templated,
    )
    .nullish(),
  cwd: z.string().min(1).nullish(),
  /** Batch-system requests passed through to the executor (`request_memory`, `partition`...). */
  resources: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z+][A-Za-z0-9_.+-]*$/, 'resource names are letters, digits, _ . + -'),
      z.union([z.string(), z.number()]),
    )
    .nullish(),
  locks: z
    .array(
      z.looseObject({
        kind: z.string().min(1),
        name: z.string().min(1).nullish(),
        timeout: duration('positive').nullish(),
      }),
    )
    .nullish(),
  when: z
    .strictObject({
      type: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).nullish(),
      min_lumi: z.number().min(0).nullish(),
      meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullish(),
    })
    .nullish(),
  container: container.nullish(),
  /** Files, directories or globs (cfg files, `template.sub`) recorded with each attempt, relative to cwd. */
  code: z.array(z.string().min(1, 'a code path must not be empty')).nullish(),
  max_queue: duration('positive').nullish(),
});

/** A pluggable part: its `type` picks the kind, whose own schema checks the rest. */
const pluggable = z.looseObject({ type: z.string() });

const store = z
  .string()
  .regex(
    /^(sqlite:.+|postgres(ql)?:\/\/.+)$/,
    'store must be sqlite:PATH or postgres://USER@HOST/DB',
  );

export const fileSchema = z.strictObject({
  store: store.nullish(),
  data_dir: z.string().min(1).nullish(),
  server: z
    .strictObject({
      host: z.string().min(1).nullish(),
      port: z.int().min(0).max(65_535).nullish(),
      public_url: z
        .string()
        .regex(/^https?:\/\/.+/, 'public_url must start with http:// or https://')
        .nullish(),
      columns: z.array(z.string().min(1)).nullish(),
      disk: z
        .array(
          z.strictObject({
            path: z.string().min(1),
            kind: z.enum(['local', 'eos', 'afs']).nullish(),
            command: z
              .array(z.string().min(1))
              .min(1, 'command is an argv list, e.g. [eos, quota, ls, -m]; the path is added last')
              .nullish(),
            quota: size.nullish(),
            warn: z
              .number()
              .gt(0, 'warn is a fraction of the quota, e.g. 0.8')
              .max(1, 'warn is a fraction of the quota, e.g. 0.8')
              .nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
  engine: z
    .strictObject({
      interval: duration('positive').nullish(),
      lease_ttl: duration('positive').nullish(),
      controllers: z.int().min(1).max(64).nullish(),
    })
    .nullish(),
  executors: z
    .record(
      z.string(),
      pluggable.extend({
        max_jobs: z.int().min(1).max(1_000_000).nullish(),
        poll_interval: duration('positive').nullish(),
        lost_after: duration('positive').nullish(),
      }),
    )
    .refine(
      (r) => Object.keys(r).length > 0,
      'define at least one executor, or leave the section out to run jobs locally',
    )
    .nullish(),
  sources: z
    .record(z.string(), pluggable.extend({ interval: duration('positive').nullish() }))
    .nullish(),
  tasks: z.record(z.string().regex(TASK_NAME, TASK_NAME_RULE), taskSchema).nullish(),
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]*$/,
      'name is a short name like ecal-calib: lower-case letters, digits, - and _',
    )
    .nullish(),
  env_pass: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'),
    )
    .nullish(),
  environment: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'environment is a short name like prod or dev')
    .nullish(),
  plugins: z.array(z.string().min(1)).nullish(),
  /** A dev deployment mirroring prod (src/mirror/config.ts). */
  mirror: mirrorSection.strict().nullish(),
  notify: z
    .record(z.string(), pluggable.extend({ events: z.array(z.string().min(1)).nullish() }))
    .nullish(),
  export: z.strictObject({ influx: influxOptions.nullish() }).nullish(),
  limits: z
    .strictObject({
      max_jobs_per_instance: z.int().min(1).max(1_000_000).nullish(),
      max_request_body: size
        .refine(
          (bytes) => bytes <= MAX_REQUEST_BYTES,
          'at most 256MiB: send larger data as files and report their paths',
        )
        .nullish(),
    })
    .nullish(),
  auth: z
    .strictObject({
      read: z.enum(['open', 'token']).nullish(),
      operators: z
        .record(
          z.string().min(1),
          z.union([
            z.strictObject({
              token_sha256: z
                .string()
                .regex(/^[0-9a-f]{64}$/, 'token_sha256 is 64 hex digits (sha256sum of the token)'),
            }),
            z.strictObject({ token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }),
          ]),
        )
        .nullish(),
    })
    .nullish(),
  watchdog: z
    .strictObject({
      stalled_after: duration('positive').nullish(),
      interval: duration('positive').nullish(),
      max_run_age: duration('positive').nullish(),
    })
    .nullish(),
  retention: z.strictObject({ samples: duration('positive').nullish() }).nullish(),
  chat: z
    .strictObject({
      mattermost: z.strictObject({ token_env: ENV_NAME }).nullish(),
      slack: z.strictObject({ signing_secret_env: ENV_NAME }).nullish(),
      operators: z
        .record(
          z
            .string()
            .regex(
              /^(mattermost|slack):\S+$/,
              'a chat user is written mattermost:<user name or id> or slack:<user id or name>',
            ),
          z.string().min(1),
        )
        .nullish(),
    })
    .nullish(),
});

export type ParsedFile = z.output<typeof fileSchema>;
export type ParsedTask = z.output<typeof taskSchema>;

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
