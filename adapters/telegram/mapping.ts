/**
 * How Telegram things map to the core:
 *   identity   {platform: 'telegram', userId: String(from.id)}, key `telegram:<user id>`
 *   chat       {type: private | group, id: 'telegram:<chat id>', topic: message_thread_id in a forum
 *              topic}; channels are groups too; pushes go to `telegram:<chat id>[/<topic>]`
 *   channels   a command posted in a channel (channel_post, no `from`) is the channel's own: its
 *              identity is `telegram:<channel id>` and it administers the channel (only admins
 *              post there); so is an anonymous group admin's (GroupAnonymousBot, sender_chat the
 *              group)
 *   messageId  the Telegram message id (the core scopes it by chat), so a redelivered update never
 *              trades twice; a Confirm press uses the prompt's message id; update ids are also
 *              claimed in the store, so a redelivery is not even answered twice, after a
 *              restart or on another instance either
 *   buttons    confirm / cancel / refresh / paging, kept in the store by the core (core/buttons.ts),
 *              so they work after a restart and on any instance; a press by anyone but the
 *              person who sent the command is refused
 * A Telegram user's id is also the id of their private chat with the bot: the one platform where
 * a person can be written to without opening a conversation first.
 */
import type { Chat, Message, User } from 'telegraf/types';
import { addressOn } from '../../core/chat-adapter';
import type { ChatRef } from '../../core/context';
import { identityKey, type IdentityRef } from '../../core/domain';

export const identityOf = (user: User): IdentityRef => ({ platform: 'telegram', userId: String(user.id) });
/** Who may press a message's buttons: the identity key of the person it answers. */
export const ownerOf = (user: User): string => identityKey(identityOf(user));
/** The forum topic a message was posted in, to answer there. */
export const threadOf = (message: Message): number | undefined =>
  (message as { is_topic_message?: boolean }).is_topic_message ? (message as { message_thread_id?: number }).message_thread_id : undefined;
/** Groups, supergroups and channels are the core's groups; a forum topic is kept as the chat's
 *  topic, so that pushes set up there (postingAddress) go back into it. */
export const chatRefOf = (chat: Chat, message?: Message): ChatRef => {
  const topic = message ? threadOf(message) : undefined;
  return { type: chat.type === 'private' ? 'private' : 'group', id: `telegram:${chat.id}`, ...(topic !== undefined ? { topic: String(topic) } : {}) };
};
/** Who posts in a channel, or as a group's anonymous administrator: the chat itself, as
 *  `telegram:<chat id>` (Telegram does not say which person it was). */
export const chatIdentityOf = (chat: Chat): IdentityRef => ({ platform: 'telegram', userId: String(chat.id) });
/** Telegram's stand-in sender of anonymous group administrators' messages (with sender_chat the group). */
export const GROUP_ANONYMOUS_BOT_ID = 1087968824;

/** The numeric chat id in a platform-prefixed address (`telegram:-100123`, or an identity key
 *  `telegram:42`, whose private chat has the user's id), or undefined when it is not Telegram's. */
export function telegramChatId(address: string): number | undefined {
  const local = addressOn('telegram', address);
  const id = local !== undefined && /^-?\d{1,20}$/.test(local) ? Number(local) : NaN;
  return Number.isSafeInteger(id) ? id : undefined;
}

/** A posting address (see postingAddress in core/context.ts): `telegram:-100123`, or a forum
 *  topic `telegram:-100123/7`; undefined when it is not Telegram's. */
export function telegramPostingAddress(address: string): { chatId: number; threadId?: number } | undefined {
  const local = addressOn('telegram', address);
  const match = local === undefined ? null : /^(-?\d{1,20})(?:\/(\d{1,10}))?$/.exec(local);
  if (!match) return undefined;
  const chatId = Number(match[1]);
  if (!Number.isSafeInteger(chatId)) return undefined;
  return match[2] === undefined ? { chatId } : { chatId, threadId: Number(match[2]) };
}
