import { z } from 'zod';
import { INSTANCE_STATUSES, JOB_STATUSES } from '../model/types.ts';

/*
 * The answers of the API as zod schemas: they feed the OpenAPI document, and
 * the API tests check real answers against them, so the description is the
 * contract the page can rely on. Times in answers are ISO 8601 strings where
 * docs/api.md says so; the stored records keep milliseconds since the epoch
 * and `present.ts` turns them into ISO strings.
 */

const isoTime = z.string().nullable().describe('ISO 8601');
const ms = isoTime;
const at = z.string().describe('ISO 8601');
export const instanceStatus = z.enum(INSTANCE_STATUSES);
export const jobStatus = z.enum(JOB_STATUSES);
export const runStatus = z.enum(['processing', 'done', 'failed']);
const meta = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const runSchema = z.object({
  run: z.number().int(),
  fill: z.number().int().nullable(),
  start: ms,
  end: ms,
  lumi: z.number().nullable().describe('recorded luminosity, /pb'),
  type: z.string().nullable(),
  meta,
  seq: z.number().int(),
});

export const instanceSchema = z.object({
  id: z.number().int(),
  campaign: z.string(),
  task: z.string(),
  groupKey: z.string(),
  runs: z.array(z.number().int()),
  status: instanceStatus,
  reason: z.string().nullable(),
  attempt: z.number().int(),
  configHash: z.string().nullable(),
  createdAt: at,
  updatedAt: at,
});

export const jobSchema = z.object({
  id: z.number().int(),
  instanceId: z.number().int(),
  campaign: z.string(),
  task: z.string(),
  index: z.number().int(),
  attempt: z.number().int(),
  instanceAttempt: z.number().int(),
  status: jobStatus,
  executor: z.string(),
  executorId: z.string().nullable(),
  claimedBy: z.string().nullable(),
  notBefore: ms,
  queueState: z
    .enum(['queued', 'held', 'suspended'])
    .nullable()
    .describe('where a submitted job waits in its batch system; `reason` says why'),
  queueSince: ms,
  input: z.string().nullable(),
  logPath: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  reason: z.string().nullable(),
  fields: z.record(z.string(), z.union([z.number(), z.string()])),
  createdAt: at,
  submittedAt: ms,
  startedAt: ms,
  endedAt: ms,
  durationMs: z.number().nullable().describe('ended (or now, while running) minus started'),
});

export const eventSchema = z.object({
  id: z.number().int(),
  at,
  entity: z.enum([
    'run',
    'instance',
    'job',
    'campaign',
    'source',
    'executor',
    'export',
    'controller',
    'disk',
  ]),
  entityId: z.string(),
  campaign: z.string().nullable(),
  task: z.string().nullable(),
  instanceId: z.number().int().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  reason: z.string().nullable(),
  by: z.string(),
  configHash: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
});

export const outputSchema = z.object({
  id: z.number().int(),
  jobId: z.number().int(),
  instanceId: z.number().int(),
  campaign: z.string(),
  task: z.string(),
  runs: z.array(z.number().int()),
  path: z.string(),
  kind: z.string().nullable(),
  meta: z.record(z.string(), z.unknown()),
  createdAt: at,
});

export const cellSchema = z.object({
  status: instanceStatus,
  instanceId: z.number().int(),
  reason: z.string().nullable(),
});

export const overviewRowSchema = z.object({
  campaign: z.string(),
  run: z.number().int(),
  fill: z.number().int().nullable(),
  lumi: z.number().nullable(),
  start: isoTime,
  end: isoTime,
  type: z.string().nullable(),
  meta,
  status: runStatus,
  tasks: z.record(z.string(), cellSchema),
});

export const cursor = z.string().nullable().describe('opaque; pass as `cursor` for the next page');

export const counts = z.object({
  new: z.number().int(),
  waiting: z.number().int(),
  processing: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
});

export const errorSchema = z.object({
  error: z.string().describe('stable code: invalid_input, unauthorized, forbidden, not_found...'),
  message: z.string().describe('"<field>: what is wrong and how to fix it"'),
});
