import { z } from 'zod';
import { durationSchema } from '../config/duration.ts';
import { NotifierConfigError } from './contract.ts';

/*
 * The options of each notifier kind, as written under `notify.<name>` (besides
 * `type` and `events`). Checked when the deployment file is loaded, parsed
 * again (with defaults) by the kind when it is opened.
 */

function duration(fallbackMs: number) {
  return z.preprocess((value) => value ?? fallbackMs / 1_000, durationSchema('zero'));
}

const httpUrl = z.string().regex(/^https?:\/\/.+/, 'url must start with http:// or https://');
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

const common = {
  /** The webhook's URL, or the environment variable holding it (keeps the secret out of the file). */
  url: httpUrl.optional(),
  url_env: envName.optional(),
  /** Repeated alerts of one cause within this window become one summary (default 60s; 0: never fold). */
  fold_window: duration(60_000),
  /** How long one delivery may take before it counts as failed and is retried (default 10s). */
  timeout: duration(10_000),
};

function oneUrl(o: { url?: string | undefined; url_env?: string | undefined }): boolean {
  return (o.url === undefined) !== (o.url_env === undefined);
}
const ONE_URL = { message: 'give either url or url_env (the variable holding the URL)' };

/**
 * `mattermost` and `slack` incoming webhooks. `channel` is one channel, or one
 * per deployment `environment` (`{ prod: calib-alerts, dev: calib-dev }`,
 * `default:` for the others) so a test deployment never posts to production.
 */
export const chatOptions = z
  .object({
    ...common,
    channel: z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]).optional(),
    username: z.string().min(1).optional(),
    icon_emoji: z.string().min(1).optional(),
  })
  .strict()
  .refine(oneUrl, ONE_URL);
export type ChatOptions = z.output<typeof chatOptions>;

/** `webhook`: the alert as JSON, with optional extra headers (an authorisation token). */
export const webhookOptions = z
  .object({
    ...common,
    headers: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine(oneUrl, ONE_URL);
export type WebhookOptions = z.output<typeof webhookOptions>;

/**
 * The channel for `environment`, `undefined` for the webhook's own default
 * channel, or null when a per-environment map has no entry for it (posting to
 * the webhook's default could reach production).
 */
export function channelFor(
  channel: string | Record<string, string> | undefined,
  environment: string,
): string | undefined | null {
  if (channel === undefined || typeof channel === 'string') return channel;
  return channel[environment] ?? channel.default ?? null;
}

/** Options as a kind uses them, defaults filled in; a deployment built in code gets the file's checks too. */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  name: string,
  options: Record<string, unknown>,
): z.output<T> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(section)'}: ${i.message}`);
  throw new NotifierConfigError(name, why.join('; '), { cause: parsed.error });
}
