/**
 * Event intake: each Telegram update, whichever transport brought it, is claimed once in the
 * store, queued behind the earlier updates of its chat, and turned into the core's terms
 * (mapping.ts): a typed command or a button press goes to the dispatcher and its result to
 * replies.ts; a membership change tells the sender whether the chat can be written to.
 */
import type { Chat, Message, Update, User } from 'telegraf/types';
import type { Core } from '../../core/app';
import type { ButtonLookup, ChatButtons } from '../../core/buttons';
import type { DispatchResult } from '../../core/dispatcher';
import { identityKey, type IdentityRef } from '../../core/domain';
import type { Logger } from '../../core/ports';
import { buttonOf } from './buttons';
import { errorSummary } from './errors';
import { chatIdentityOf, chatRefOf, GROUP_ANONYMOUS_BOT_ID, identityOf, ownerOf, threadOf } from './mapping';
import type { Menus } from './menus';
import type { Replies, Target } from './replies';
import type { TelegramCall, TelegramSender } from './sender';

/** The update kinds the bot asks Telegram for (polling and webhook alike). */
export const ALLOWED_UPDATES = ['message', 'channel_post', 'callback_query', 'my_chat_member'] as const;
/** Telegram keeps an unconfirmed update for at most 24 hours, so a redelivery comes sooner. */
const UPDATE_CLAIM_MS = 24 * 60 * 60_000;
const COMMAND = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)/;

type CallbackQuery = Extract<Update, { callback_query: unknown }>['callback_query'];
type MemberUpdate = Extract<Update, { my_chat_member: unknown }>['my_chat_member'];

/** Who sent a command, in the core's terms. */
interface Actor {
  identity: IdentityRef;
  /** Who may press the answer's buttons (an identity key). */
  owner: string;
  /** A person (absent when a channel or an anonymous admin speaks as the chat). */
  user?: User;
  /** How replies address them. */
  name: string;
  /** Groups and channels only (see IncomingCommand.isChatAdmin). */
  isChatAdmin?: () => Promise<boolean>;
}

/** Chat members Telegram counts as the chat's administrators. */
const ADMIN_STATUSES = new Set(['creator', 'administrator']);

export interface UpdateIntakeOptions {
  core: Core;
  logger: Logger;
  /** The bot token: its first part, the bot id, scopes update claims. */
  token: string;
  now: () => number;
  call: TelegramCall;
  sender: TelegramSender;
  buttons: ChatButtons;
  replies: Replies;
  menus: Menus;
  /** The bot's username once connected: a command addressed to another bot is not ours. */
  username: () => string | undefined;
}

export interface UpdateIntake {
  /** Handles one update; never rejects (a failure is logged and the claim given up). */
  handle(update: Update): Promise<void>;
  /** Waits for the updates being handled (at most `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
}

export function createUpdateIntake(options: UpdateIntakeOptions): UpdateIntake {
  const { core, logger, now, call, sender, buttons, replies, menus, username } = options;
  const chains = new Map<string, Promise<void>>();
  const handlers = new Set<Promise<unknown>>();
  const commandSpec = (name: string | undefined) => core.registry.commands.find((c) => c.name === name);

  /**
   * Asks Telegram, when a command wants to know, whether the user administers the chat. Asked at
   * most once per message and never remembered longer, so a demoted admin loses the right at once.
   */
  function adminCheck(chatId: number, userId: number, updateId: number): () => Promise<boolean> {
    let answer: Promise<boolean> | undefined;
    return () => (answer ??= call('getChatMember', { chat_id: chatId, user_id: userId }).then(
      (member) => ADMIN_STATUSES.has(String((member as { status?: unknown } | null)?.status)),
      (error) => {
        // Not knowing is not being an admin: the command refuses, and the user may try again.
        logger.warn({ updateId, chatId, ...errorSummary(error) }, 'could not ask telegram who administers a chat');
        return false;
      },
    ));
  }

  /**
   * Who sent a message: a person; or the chat itself, for a channel's post (no `from`; only the
   * channel's administrators can post) and for an anonymous group admin (GroupAnonymousBot with
   * sender_chat the group), both administrators of the chat by Telegram's own rules. 'unknown'
   * when someone posts as another chat (a linked channel), 'ignore' for other bots.
   */
  function actorOf(msg: Message, updateId: number): Actor | 'unknown' | 'ignore' {
    const chat = msg.chat;
    const senderChat = (msg as { sender_chat?: Chat }).sender_chat;
    const from = msg.from;
    if (chat.type === 'channel' || (senderChat?.id === chat.id && (!from || from.id === GROUP_ANONYMOUS_BOT_ID))) {
      const identity = chatIdentityOf(chat);
      const title = 'title' in chat && chat.title ? chat.title : 'this chat';
      return { identity, owner: identityKey(identity), name: title, isChatAdmin: async () => true };
    }
    if (senderChat || !from) return 'unknown';
    if (from.is_bot) return 'ignore';
    return {
      identity: identityOf(from), owner: ownerOf(from), user: from, name: from.first_name,
      isChatAdmin: chat.type === 'private' ? undefined : adminCheck(chat.id, from.id, updateId),
    };
  }

  /** Delivers a dispatch result for a typed command. */
  async function answerCommand(msg: Message, actor: Actor, result: DispatchResult, updateId: number): Promise<void> {
    const chat = msg.chat;
    const inGroup = chat.type !== 'private';
    let passwordLeft = false;
    if (result.deleteInput) {
      try {
        await call('deleteMessage', { chat_id: chat.id, message_id: msg.message_id });
      } catch (error) {
        passwordLeft = true;
        logger.warn({ updateId, chatId: chat.id, ...errorSummary(error) }, 'could not delete a message that carried a password');
      }
    }
    const group: Target = { chatId: chat.id, threadId: threadOf(msg), replyTo: inGroup && !result.deleteInput ? msg.message_id : undefined, updateId };
    if (passwordLeft) {
      void replies.send(group, await replies.render({ tone: 'warning', text: `${actor.name}, your message contained a password and I can't delete it here (I'm not an admin). Delete it yourself now, and ask an admin for a new password if others may have seen it.` }, undefined));
    }
    if (result.message.private && inGroup) {
      if (actor.user) {
        void replies.deliverPrivately(actor.user, group, result.message).catch((error) => logger.error({ updateId, ...errorSummary(error) }, 'private reply failed'));
      } else {
        // A channel or an anonymous admin has no private chat to send it to: it is not shown here.
        void replies.send(group, await replies.render({ tone: 'warning', text: 'That answer is for one person only: send the command to me in a private chat, as yourself.' }, undefined, { openPrivate: true }));
      }
      return;
    }
    const refusedHere = inGroup && commandSpec(result.command)?.chats === 'private';
    void replies.send(group, await replies.render(result.message, actor.user ?? actor.owner, { openPrivate: refusedHere }));
  }

  async function handleMessage(msg: Message, updateId: number): Promise<void> {
    const chat = msg.chat;
    // Anything from a chat shows the bot can be heard there again (a blocked user came back).
    sender.revive(chat.id);
    const text = 'text' in msg ? msg.text : undefined;
    if (text === undefined) return;
    const match = COMMAND.exec(text);
    if (!match) {
      if (chat.type === 'private') {
        void replies.send({ chatId: chat.id, updateId }, await replies.render({ tone: 'info', text: 'I answer commands, like /price btc or /portfolio. /help lists them all.' }, undefined));
      }
      return;
    }
    const [head, name, addressee] = match;
    const me = username();
    if (addressee && me && addressee.toLowerCase() !== me.toLowerCase()) return; // for another bot
    const actor = actorOf(msg, updateId);
    if (actor === 'ignore') return;
    if (actor === 'unknown') {
      void replies.send({ chatId: chat.id, threadId: threadOf(msg), replyTo: msg.message_id, updateId }, await replies.render({
        tone: 'warning', text: 'I cannot tell who you are when you post as another chat: send commands as yourself.',
      }, undefined));
      return;
    }
    const result = await core.dispatcher.dispatch({
      identity: actor.identity,
      chat: chatRefOf(chat, msg),
      text: `/${name}${text.slice(head!.length)}`,
      messageId: String(msg.message_id),
      sentAt: msg.date * 1000,
      canConfirm: true,
      isChatAdmin: actor.isChatAdmin,
    });
    await answerCommand(msg, actor, result, updateId);
    if (chat.type === 'private') void menus.update(chat.id, actor.identity, result.command).catch((error) => logger.warn({ updateId, ...errorSummary(error) }, 'could not update a command menu'));
  }

  async function handleCallback(query: CallbackQuery, updateId: number): Promise<void> {
    const answer = (text?: string, alert = false) =>
      call('answerCallbackQuery', { callback_query_id: query.id, text, show_alert: alert || undefined }).catch((error) =>
        logger.warn({ updateId, ...errorSummary(error) }, 'answerCallbackQuery failed'));
    const ref = buttonOf('data' in query ? query.data : undefined);
    const found: ButtonLookup = ref ? await buttons.lookup(ref, ownerOf(query.from)) : { ok: false, reason: 'invalid' };
    const message = query.message && query.message.date !== 0 ? (query.message as Message) : undefined;
    if (!found.ok) {
      if (found.reason === 'used') {
        await answer('Already done.');
        return;
      }
      if (found.reason === 'not-yours') {
        await answer('Only the person who sent the command can use these buttons.', true);
        return;
      }
      await answer(found.reason === 'expired' ? 'This button has expired: send the command again.' : 'This button does not work any more: send the command again.', true);
      if (message) void sender.send(message.chat.id, { method: 'editMessageReplyMarkup', params: { message_id: message.message_id } }, { log: { updateId } });
      return;
    }
    const { ref: pressed, button } = found;
    if (!message) {
      await answer('That message is too old to change: send the command again.', true);
      return;
    }
    // The first press of the message's buttons, on any instance, takes them; the rest were too late.
    if (!(await buttons.take(pressed))) {
      await answer('Already done.');
      return;
    }
    const chat = message.chat;
    sender.revive(chat.id);
    const target: Target = { chatId: chat.id, threadId: threadOf(message), updateId };
    const wasPhoto = 'photo' in message;
    if (button.kind === 'cancel') {
      await answer('Cancelled');
      void replies.editInPlace(target, message.message_id, await replies.render({ tone: 'info', text: `Cancelled: ${button.command} was not run. Nothing changed.` }, undefined), wasPhoto);
      return;
    }
    await answer(button.kind === 'confirm' ? 'Confirmed' : undefined);
    const result = await core.dispatcher.dispatch({
      identity: identityOf(query.from),
      chat: chatRefOf(chat, message),
      text: button.command,
      // A confirmation is keyed by the prompt, so a second Confirm on it never trades again.
      messageId: button.kind === 'confirm' ? `confirm:${message.message_id}` : `button:${query.id}`,
      canConfirm: true,
      confirmed: button.kind === 'confirm',
      isChatAdmin: chat.type === 'private' ? undefined : adminCheck(chat.id, query.from.id, updateId),
    });
    if (result.message.private && chat.type !== 'private') {
      void replies.deliverPrivately(query.from, target, result.message).catch((error) => logger.error({ updateId, ...errorSummary(error) }, 'private reply failed'));
      return;
    }
    const chunks = await replies.render(result.message, query.from, { note: button.kind === 'refresh' ? replies.updatedNote() : undefined });
    void replies.editInPlace(target, message.message_id, chunks, wasPhoto);
  }

  /** The bot was blocked, removed or added back: the sender stops or resumes at once, and the
   *  store (which pushes consult, on every instance) is told too. */
  async function handleMembership(update: MemberUpdate, updateId: number): Promise<void> {
    const status = update.new_chat_member.status;
    // A private chat's id is the user's, so this is also their identity key.
    const address = `telegram:${update.chat.id}`;
    const { store } = core.services;
    try {
      if (status === 'kicked' || status === 'left') {
        sender.markDead(update.chat.id, `bot ${status}`);
        await store.markUnreachable(address, `bot ${status}`, now());
      } else {
        sender.revive(update.chat.id);
        await store.clearUnreachable(address);
      }
    } catch (error) {
      logger.warn({ updateId, chatId: update.chat.id, ...errorSummary(error) }, 'could not record whether a telegram chat is reachable');
    }
  }

  /** Runs `task` after the previous one for the same chat, so a chat's commands run in order. */
  function inOrder(key: string, task: () => Promise<void>): Promise<void> {
    const previous = chains.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    chains.set(key, next);
    const tracked = next.catch(() => undefined).finally(() => {
      handlers.delete(tracked);
      if (chains.get(key) === next) chains.delete(key);
    });
    handlers.add(tracked);
    return next;
  }

  // Update ids count per bot: the bot id (the token's first part) keeps two bots on one store apart.
  const updateClaim = (updateId: number) => `telegram-update:${options.token.split(':')[0]}:${updateId}`;

  async function handle(update: Update): Promise<void> {
    const updateId = update.update_id;
    // Claimed in the store, not in memory: a redelivery is recognised after a restart and by
    // another instance, for every command (not only those the core keeps from running twice).
    let claimed = false;
    try {
      claimed = await core.services.store.claimOnce(updateClaim(updateId), now() + UPDATE_CLAIM_MS);
      if (!claimed) {
        logger.info({ updateId }, 'telegram update delivered again: ignored');
        return;
      }
      if ('message' in update) {
        await inOrder(String(update.message.chat.id), () => handleMessage(update.message, updateId));
      } else if ('channel_post' in update) {
        await inOrder(String(update.channel_post.chat.id), () => handleMessage(update.channel_post as Message, updateId));
      } else if ('callback_query' in update) {
        const chatId = update.callback_query.message?.chat.id ?? `user:${update.callback_query.from.id}`;
        await inOrder(String(chatId), () => handleCallback(update.callback_query, updateId));
      } else if ('my_chat_member' in update) {
        await handleMembership(update.my_chat_member, updateId);
      }
    } catch (error) {
      // The bot goes on. The claim is given up, so a redelivery of this update runs again (the
      // core's idempotency keeps it from trading or changing anything twice).
      if (claimed) {
        await core.services.store.releaseOnce(updateClaim(updateId))
          .catch((failure) => logger.warn({ updateId, ...errorSummary(failure) }, 'could not release a telegram update claim'));
      }
      logger.error({ updateId, ...errorSummary(error) }, 'telegram update failed');
    }
  }

  return {
    handle,
    async drain(timeoutMs) {
      await Promise.race([Promise.allSettled([...handlers]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    },
  };
}
