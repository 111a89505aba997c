import { z } from 'zod';
import { markup } from '../../notify/format.ts';
import { type ChatUser, operatorFor, runChatCommand } from '../chat/commands.ts';
import { chatSecrets, verifyChatRequest } from '../chat/verify.ts';
import type { ServerContext } from '../context.ts';
import type { Api } from '../route.ts';

/**
 * Slash commands. Chats send form-encoded bodies (not JSON) and authenticate
 * with their own schemes, so the route reads the raw body itself: Slack's
 * signature covers the bytes as sent.
 */
export function chatRoutes(api: Api, ctx: ServerContext): void {
  const { store, deployment } = ctx.rt;
  const logger = ctx.rt.engine.ctx.logger;
  const secrets = chatSecrets(deployment.chat);
  for (const [kind, env, value] of [
    ['mattermost', secrets.mattermostEnv, secrets.mattermostToken],
    ['slack', secrets.slackEnv, secrets.slackSigningSecret],
  ] as const) {
    if (env !== null && value === null)
      logger.warn({ chat: kind, variable: env }, 'chat commands: the secret variable is not set');
  }
  api.route(
    {
      method: 'post',
      path: '/api/chat/command',
      summary: 'Mattermost and Slack slash commands: status, why, campaign, reprocess, help',
      description:
        'Form-encoded as the chats send it. Mattermost is verified by the slash command token (chat.mattermost.token_env), Slack by its v0 request signature (chat.slack.signing_secret_env) within 5 minutes; 401 otherwise. Actions need a chat user mapped to an operator (chat.operators).',
      access: 'open',
      response: z.object({
        response_type: z.enum(['in_channel', 'ephemeral']),
        text: z.string(),
      }),
    },
    async (c) => {
      const raw = await c.req.text();
      const form = new URLSearchParams(raw);
      const kind = verifyChatRequest(secrets, (n) => c.req.header(n), raw, form, Date.now());
      const id = form.get('user_id') ?? '';
      const name = form.get('user_name') || id;
      const user: ChatUser = { kind, name, id, operator: operatorFor(deployment, kind, name, id) };
      const text = form.get('text') ?? '';
      logger.info({ chat: kind, user: name, operator: user.operator, text }, 'chat command');
      const reply = await runChatCommand(
        { store, deployment, trigger: () => ctx.hooks.trigger() },
        user,
        text,
        markup(kind === 'slack' ? 'mrkdwn' : 'markdown'),
        { command: form.get('command') || '/autoctrl', publicUrl: deployment.server.publicUrl },
      );
      return c.json({
        response_type: reply.ephemeral ? 'ephemeral' : 'in_channel',
        text: reply.text,
      });
    },
  );
}
