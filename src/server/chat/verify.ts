import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ChatConfig } from '../../config/types.ts';
import { UnauthorizedError } from '../errors.ts';

/** Which chat sent a slash command. */
export type ChatKind = 'mattermost' | 'slack';

/** Slack's replay window: a request signed longer ago (or ahead) than this is refused. */
export const SLACK_MAX_SKEW_S = 5 * 60;

/** The secrets read from the controller's environment once, at start. */
export interface ChatSecrets {
  mattermostToken: string | null;
  slackSigningSecret: string | null;
  /** Where each was to come from, for messages that say what to set. */
  mattermostEnv: string | null;
  slackEnv: string | null;
}

export function chatSecrets(
  cfg: ChatConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ChatSecrets {
  const read = (name: string | null | undefined) =>
    name == null || !env[name] ? null : (env[name] as string);
  return {
    mattermostToken: read(cfg?.mattermostTokenEnv),
    slackSigningSecret: read(cfg?.slackSigningSecretEnv),
    mattermostEnv: cfg?.mattermostTokenEnv ?? null,
    slackEnv: cfg?.slackSigningSecretEnv ?? null,
  };
}

/** Equal strings, in time that tells nothing about where they differ (hashed first: lengths may differ). */
function sameSecret(given: string, want: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

function notConfigured(kind: ChatKind, env: string | null): UnauthorizedError {
  const key = kind === 'slack' ? 'chat.slack.signing_secret_env' : 'chat.mattermost.token_env';
  return new UnauthorizedError(
    env === null
      ? `slash commands from ${kind} are not taken here: set ${key} in the deployment file`
      : `slash commands from ${kind} are not taken here: ${key} names ${env}, which is not set in the controller's environment`,
  );
}

/**
 * Who sent this request, checked: Slack by the `v0` HMAC-SHA256 signature of
 * `v0:<timestamp>:<raw body>` with the signing secret, within
 * `SLACK_MAX_SKEW_S` of now; Mattermost by the slash command's token (the
 * form's `token`, also sent as `Authorization: Token <token>`). Throws 401
 * otherwise.
 */
export function verifyChatRequest(
  secrets: ChatSecrets,
  header: (name: string) => string | undefined,
  raw: string,
  form: URLSearchParams,
  nowMs: number,
): ChatKind {
  const signature = header('x-slack-signature');
  if (signature !== undefined) {
    if (secrets.slackSigningSecret === null) throw notConfigured('slack', secrets.slackEnv);
    const stamp = header('x-slack-request-timestamp') ?? '';
    if (!/^\d{1,12}$/.test(stamp)) {
      throw new UnauthorizedError('slack: missing or malformed X-Slack-Request-Timestamp');
    }
    if (Math.abs(nowMs / 1000 - Number(stamp)) > SLACK_MAX_SKEW_S) {
      throw new UnauthorizedError(
        `slack: request timestamp more than ${SLACK_MAX_SKEW_S / 60} minutes from this server's clock: a replay, or a clock to synchronise (NTP)`,
      );
    }
    const want = `v0=${createHmac('sha256', secrets.slackSigningSecret).update(`v0:${stamp}:${raw}`).digest('hex')}`;
    if (!sameSecret(signature, want)) {
      throw new UnauthorizedError(
        "slack: wrong request signature: check that the signing secret is the app's (Basic Information → Signing Secret)",
      );
    }
    return 'slack';
  }
  if (secrets.mattermostToken === null) throw notConfigured('mattermost', secrets.mattermostEnv);
  const token = form.get('token') ?? /^Token\s+(\S+)\s*$/i.exec(header('authorization') ?? '')?.[1];
  if (token === undefined || token === '' || !sameSecret(token, secrets.mattermostToken)) {
    throw new UnauthorizedError(
      "mattermost: missing or wrong slash command token: copy the command's token (Integrations → Slash Commands) into the variable chat.mattermost.token_env names",
    );
  }
  return 'mattermost';
}
