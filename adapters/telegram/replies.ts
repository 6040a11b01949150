/**
 * Replies in Telegram: the core's rich messages rendered as HTML chunks (render.ts) whose buttons
 * are in the store before they can be pressed, then queued on the rate-limited sender, as new
 * messages, edits in place, a caller's private chat, or one message to many chats.
 */
import type { User } from 'telegraf/types';
import type { ChatButtons } from '../../core/buttons';
import type { RichMessage } from '../../core/messages';
import { callbackData } from './buttons';
import { ownerOf } from './mapping';
import { renderRichMessage, type RenderedChunk } from './render';
import type { BroadcastReport, BroadcastTarget, OutboundPayload, SendOutcome, TelegramSender } from './sender';

/** Where a reply goes; `updateId` (the update it answers) goes into the sender's log lines;
 *  `push` marks a push, tried even where this process remembers the chat as dead (the store
 *  decides for pushes: see BaseSendOptions.evenIfDead). */
export type Target = { chatId: number; threadId?: number; replyTo?: number; updateId?: number; push?: boolean };

export interface RepliesOptions {
  sender: TelegramSender;
  buttons: ChatButtons;
  /** The bot's username once connected, for deep links and "open a private chat" buttons. */
  username: () => string | undefined;
  now: () => number;
}

export interface Replies {
  /** Renders a reply; what its buttons do is in the store before it resolves. `owner` is who may
   *  press them (a user, or an identity key such as a channel's); anyone when absent. */
  render(message: RichMessage, owner: User | string | undefined, extra?: { note?: string; openPrivate?: boolean }): Promise<RenderedChunk[]>;
  /** Queues the chunks in order (all at once, so nothing else for the chat slips between them). */
  send(target: Target, chunks: RenderedChunk[]): Promise<SendOutcome[]>;
  /** Replaces a message's text and buttons in place; falls back to a new message if it cannot. */
  editInPlace(target: Target, messageId: number, chunks: RenderedChunk[], wasPhoto: boolean): Promise<SendOutcome[]>;
  /** Sends a reply meant for the caller alone to their private chat, and says so in the group. */
  deliverPrivately(from: User, group: Target, message: RichMessage): Promise<void>;
  /** "Updated 12:00:05 UTC", for a refreshed message. */
  updatedNote(): string;
  /** A message outside any conversation, to one chat (or forum topic). */
  post(chatId: number, message: RichMessage, threadId?: number, options?: { push?: boolean }): Promise<SendOutcome[]>;
  broadcast(targets: BroadcastTarget[], message: RichMessage): Promise<BroadcastReport>;
}

export function payloadOf(chunk: RenderedChunk, replyTo?: number): OutboundPayload {
  const reply_parameters = replyTo ? { message_id: replyTo, allow_sending_without_reply: true } : undefined;
  if (chunk.kind === 'photo') {
    return { method: 'sendPhoto', params: { photo: chunk.url, caption: chunk.caption, parse_mode: chunk.caption ? 'HTML' : undefined, reply_markup: chunk.keyboard, reply_parameters } };
  }
  return { method: 'sendMessage', params: { text: chunk.html, parse_mode: 'HTML', reply_markup: chunk.keyboard, reply_parameters, link_preview_options: { is_disabled: true } } };
}

export function createReplies({ sender, buttons, username, now }: RepliesOptions): Replies {
  const privateChatLink = () => (username() ? `https://t.me/${username()}` : undefined);
  const logOf = (target: Target) => (target.updateId === undefined ? undefined : { updateId: target.updateId });

  async function render(message: RichMessage, owner: User | string | undefined, extra: { note?: string; openPrivate?: boolean } = {}): Promise<RenderedChunk[]> {
    const draft = buttons.draft(typeof owner === 'string' ? owner : owner && ownerOf(owner));
    const link = extra.openPrivate ? privateChatLink() : undefined;
    const chunks = renderRichMessage(message, {
      botUsername: username(),
      buttonData: (button) => callbackData(draft.add(button)),
      urlButtons: link ? [{ text: 'Open a private chat with me', url: link }] : undefined,
      note: extra.note,
    });
    await draft.save();
    return chunks;
  }

  function send(target: Target, chunks: RenderedChunk[]): Promise<SendOutcome[]> {
    const log = logOf(target);
    return Promise.all(chunks.map((chunk, i) => sender.send(target.chatId, payloadOf(chunk, i === 0 ? target.replyTo : undefined), { threadId: target.threadId, log, evenIfDead: target.push })));
  }

  function editInPlace(target: Target, messageId: number, chunks: RenderedChunk[], wasPhoto: boolean): Promise<SendOutcome[]> {
    const [first, ...rest] = chunks;
    const log = logOf(target);
    if (!first || first.kind !== 'text' || wasPhoto) {
      void sender.send(target.chatId, { method: 'editMessageReplyMarkup', params: { message_id: messageId } }, { log });
      return send(target, chunks);
    }
    const edit = sender.send(target.chatId, {
      method: 'editMessageText',
      params: { message_id: messageId, text: first.html, parse_mode: 'HTML', reply_markup: first.keyboard, link_preview_options: { is_disabled: true } },
    }, { log }).then(async (outcome) => (outcome.status === 'failed' ? (await send(target, [first]))[0]! : outcome));
    return Promise.all([edit, send({ ...target, replyTo: undefined }, rest)]).then(([e, r]) => [e, ...r]);
  }

  async function deliverPrivately(from: User, group: Target, message: RichMessage): Promise<void> {
    const outcomes = await send({ chatId: from.id, updateId: group.updateId }, await render(message, from));
    const reached = outcomes.length > 0 && outcomes.every((o) => o.status === 'sent');
    const notice: RichMessage = reached
      ? { tone: 'info', text: `📬 ${from.first_name}, I sent you the answer in our private chat.` }
      : { tone: 'warning', text: `${from.first_name}, I can't message you privately yet: open a chat with me, press Start, then send the command again.` };
    await send(group, await render(notice, undefined, { openPrivate: !reached }));
  }

  async function broadcast(targets: BroadcastTarget[], message: RichMessage): Promise<BroadcastReport> {
    const chunks = await render(message, undefined);
    if (chunks.length === 1) return sender.broadcast(targets, payloadOf(chunks[0]!));
    const perTarget = await Promise.all(targets.map((t) => Promise.all(chunks.map((c) => sender.send(t.chatId, payloadOf(c), { threadId: t.threadId })))));
    const outcomes = perTarget.map((list) => list.find((o) => o.status !== 'sent' && o.status !== 'unchanged') ?? list[0]!);
    const count = (status: SendOutcome['status']) => outcomes.filter((o) => o.status === status).length;
    return { sent: count('sent') + count('unchanged'), dead: count('dead'), failed: count('failed'), outcomes };
  }

  return {
    render,
    send,
    editInPlace,
    deliverPrivately,
    updatedNote: () => `Updated ${new Date(now()).toISOString().slice(11, 19)} UTC`,
    post: async (chatId, message, threadId, options = {}) => send({ chatId, threadId, push: options.push }, await render(message, undefined)),
    broadcast,
  };
}
