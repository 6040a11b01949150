/**
 * Whether the bot can still post in a conversation, told to the store as soon as Slack tells the
 * bot (bot events, subscribed in manifest.ts), so that pushes (which consult the store, on every
 * instance) skip it at once instead of finding out by a refused post:
 *   channel_left, group_left          the bot was removed from a public / private channel
 *   channel_archive, group_archive    the channel was archived (posts answer is_archived)
 *   channel_deleted                   the channel was deleted
 * mark `slack:<team>:<channel>` (the chat id, mapping.ts) unreachable; and
 *   member_joined_channel (the bot)   the bot was added (back) to a channel
 *   channel_unarchive, group_unarchive
 * clear the mark. Bolt hands these over the same way whether they came by the Events API over
 * HTTP or by Socket Mode; the request middleware in bot.ts has already acked and claimed them, so
 * a retried event is not handled twice.
 */
import type { App } from '@slack/bolt';
import type { Logger, Store } from '../../core/ports';
import { chatRefOf } from './mapping';

export const REMOVED_FROM_CHANNEL = 'the bot was removed from the channel';
export const CHANNEL_ARCHIVED = 'the channel was archived';
export const CHANNEL_DELETED = 'the channel was deleted';

type Body = Record<string, any>;
interface EventArgs {
  event: Body;
  body: Body;
  context: { botUserId?: string; teamId?: string };
}

export interface SlackMembershipOptions {
  app: App;
  store: Store;
  logger: Logger;
  now: () => number;
  /** The bot may write there again: the sender forgets what it knew of the channel. */
  revive: (channel: string) => void;
}

export function watchMembership(options: SlackMembershipOptions): void {
  const { app, store, logger, now, revive } = options;

  /** The chat address of the event's channel, in the workspace the event was sent for. */
  function addressOf({ event, body, context }: EventArgs): { address: string; channel: string } | undefined {
    const channel = typeof event.channel === 'string' ? event.channel : undefined;
    const team = typeof body.team_id === 'string' ? body.team_id : context.teamId;
    return channel && team ? { address: chatRefOf(team, channel).id, channel } : undefined;
  }

  async function mark(args: EventArgs, reason: string): Promise<void> {
    const found = addressOf(args);
    if (!found) return;
    try {
      await store.markUnreachable(found.address, reason, now());
      logger.info({ chatAddress: found.address, event: args.event.type }, 'slack conversation closed to the bot: marked unreachable');
    } catch (error) {
      logger.warn({ chatAddress: found.address, error: String(error) }, 'could not record that a slack conversation is closed to the bot');
    }
  }

  async function clear(args: EventArgs): Promise<void> {
    const found = addressOf(args);
    if (!found) return;
    revive(found.channel);
    try {
      await store.clearUnreachable(found.address);
    } catch (error) {
      logger.warn({ chatAddress: found.address, error: String(error) }, 'could not record that a slack conversation is open to the bot again');
    }
  }

  const on = (handler: (args: EventArgs) => Promise<void>) => (args: unknown) => handler(args as EventArgs);
  // Each event by name (the manifest test reads these to check the subscriptions).
  app.event('channel_left', on((args) => mark(args, REMOVED_FROM_CHANNEL)));
  app.event('group_left', on((args) => mark(args, REMOVED_FROM_CHANNEL)));
  app.event('channel_archive', on((args) => mark(args, CHANNEL_ARCHIVED)));
  app.event('group_archive', on((args) => mark(args, CHANNEL_ARCHIVED)));
  app.event('channel_deleted', on((args) => mark(args, CHANNEL_DELETED)));
  app.event('channel_unarchive', on(clear));
  app.event('group_unarchive', on(clear));
  // Sent for anyone joining a channel the bot is in; only the bot's own joining matters here.
  app.event('member_joined_channel', on(async (args) => {
    if (args.context.botUserId && args.event.user === args.context.botUserId) await clear(args);
  }));
}
