import { webhookUrl } from './chat.ts';
import type { NotifierFactory } from './contract.ts';
import { formatText } from './format.ts';
import { parseOptions, webhookOptions } from './options.ts';
import { postJson } from './post.ts';

/**
 * Any HTTP endpoint: the alert object itself as JSON (see `Alert`), with
 * `folded` (null, or the summary of the alerts folded after a first one) and
 * `text`, the same message in plain words.
 */
export const createWebhookNotifier: NotifierFactory = async (name, options) => {
  const opts = parseOptions(webhookOptions, name, options);
  const url = webhookUrl(name, opts);
  return {
    name,
    foldWindowMs: opts.fold_window,
    send: (message, signal) =>
      postJson(
        name,
        url,
        { ...message.alert, folded: message.folded, text: formatText(message, 'plain') },
        { timeoutMs: opts.timeout, signal, ...(opts.headers ? { headers: opts.headers } : {}) },
      ),
  };
};
