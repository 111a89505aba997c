import type { z } from 'zod';
import type { NotifierFactory } from './contract.ts';
import { chatOptions, webhookOptions } from './options.ts';

/** Notifier kinds: options checked at load time, code imported only when used. */
export interface NotifierKind {
  options: z.ZodType<Record<string, unknown>>;
  load(): Promise<NotifierFactory>;
}

export const notifierKinds: Record<string, NotifierKind> = {
  /** A Mattermost incoming webhook: markdown text, per-environment channel. */
  mattermost: {
    options: chatOptions,
    load: async () => (await import('./mattermost.ts')).createMattermostNotifier,
  },
  /** A Slack incoming webhook: mrkdwn text, per-environment channel. */
  slack: {
    options: chatOptions,
    load: async () => (await import('./slack.ts')).createSlackNotifier,
  },
  /** Any HTTP endpoint: the alert itself as JSON. */
  webhook: {
    options: webhookOptions,
    load: async () => (await import('./webhook.ts')).createWebhookNotifier,
  },
};
