import { chatNotifier } from './chat.ts';

/** A Slack incoming webhook; text in Slack's mrkdwn (`<url|label>` links). */
export const createSlackNotifier = chatNotifier('mrkdwn');
