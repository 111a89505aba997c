import { NotifierConfigError, type NotifierFactory } from './contract.ts';
import { type Dialect, formatText } from './format.ts';
import { channelFor, chatOptions, parseOptions } from './options.ts';
import { postJson } from './post.ts';

/**
 * An incoming webhook of a chat (Mattermost, Slack): both take
 * `{ text, channel?, username?, icon_emoji? }` and differ in markup only.
 */
export function chatNotifier(dialect: Dialect): NotifierFactory {
  return async (name, options, ctx) => {
    const opts = parseOptions(chatOptions, name, options);
    const url = webhookUrl(name, opts);
    const channel = channelFor(opts.channel, ctx.environment);
    if (channel === null) {
      throw new NotifierConfigError(
        name,
        `no channel for environment '${ctx.environment}': add ${ctx.environment}: or default: under channel`,
      );
    }
    const extra = {
      ...(channel === undefined ? {} : { channel }),
      ...(opts.username === undefined ? {} : { username: opts.username }),
      ...(opts.icon_emoji === undefined ? {} : { icon_emoji: opts.icon_emoji }),
    };
    return {
      name,
      foldWindowMs: opts.fold_window,
      send: (message, signal) =>
        postJson(
          name,
          url,
          { text: formatText(message, dialect), ...extra },
          {
            timeoutMs: opts.timeout,
            signal,
          },
        ),
    };
  };
}

/** The URL as written, or read from the variable `url_env` names (the secret stays out of the file). */
export function webhookUrl(name: string, opts: { url?: string; url_env?: string }): string {
  if (opts.url !== undefined) return opts.url;
  const value = opts.url_env === undefined ? undefined : process.env[opts.url_env];
  if (value === undefined || !/^https?:\/\/.+/.test(value)) {
    throw new NotifierConfigError(
      name,
      `environment variable ${opts.url_env ?? '(none)'} must hold the webhook URL (http:// or https://)`,
    );
  }
  return value;
}
