import { chatNotifier } from './chat.ts';

/** A Mattermost incoming webhook; text in Mattermost's markdown. */
export const createMattermostNotifier = chatNotifier('markdown');
