/**
 * The core in Telegram, through telegraf: long polling (default) or a webhook, commands from the
 * core's registry (menus set with setMyCommands), replies rendered as HTML with inline buttons,
 * and every outbound message through the rate-limited sender.
 *
 * How Telegram things map to the core:
 *   identity   {platform: 'telegram', userId: String(from.id)}
 *   chat       {type: private | group, id: 'telegram:<chat id>'}; a forum topic is answered in it
 *   messageId  the Telegram message id (the core scopes it by chat), so a redelivered update never
 *              trades twice; a Confirm press uses the prompt's message id; update ids are also
 *              claimed in the store, so a redelivery is not even answered twice, after a
 *              restart or on another instance either
 *   buttons    confirm / cancel / refresh / paging, kept in the store by the core (core/buttons.ts),
 *              so they work after a restart and on any instance; a press by anyone but the
 *              person who sent the command is refused
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Telegraf } from 'telegraf';
import type { BotCommand, Chat, Message, Update, User } from 'telegraf/types';
import type { Core } from '../../core/app';
import { ChatButtons, type ButtonLookup, type ButtonTtls } from '../../core/buttons';
import type { ChatRef, ChatType } from '../../core/context';
import { identityKey, type Caller, type IdentityRef } from '../../core/domain';
import type { DispatchResult } from '../../core/dispatcher';
import type { RichMessage } from '../../core/messages';
import type { Logger } from '../../core/ports';
import type { CommandRegistry } from '../../core/registry';
import { buttonOf, callbackData } from './buttons';
import { renderRichMessage, type RenderedChunk } from './render';
import { TelegramSender, type BroadcastReport, type BroadcastTarget, type OutboundPayload, type SendOutcome, type SenderLimits } from './sender';

export interface TelegramWebhookOptions {
  /** The public HTTPS URL Telegram posts to; its path is where the server listens. */
  url: string;
  /** Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token; requests without it are refused. */
  secret: string;
  port: number;
  /**
   * The interface to listen on (plain HTTP; TLS ends at a load balancer or reverse proxy in front).
   * Default: loopback only, 127.0.0.1; `0.0.0.0` (or `::`) for every interface.
   */
  host?: string;
}

export interface TelegramBotOptions {
  token: string;
  /** Another Bot API server (self-hosted, or a test stand-in). Default https://api.telegram.org. */
  apiRoot?: string;
  core: Core;
  logger: Logger;
  /** Webhook mode; long polling when absent. */
  webhook?: TelegramWebhookOptions;
  /** Outbound limits; Telegram's by default. */
  limits?: Partial<SenderLimits>;
  /** How long buttons work. */
  buttonTtl?: Partial<ButtonTtls>;
  /** Clock for button expiry and "updated at" notes. Default: the core's clock. */
  now?: () => number;
}

export interface TelegramBot {
  bot: Telegraf;
  sender: TelegramSender;
  /** Connects (getMe), sets the command menus, and starts polling or serving the webhook. */
  start(): Promise<void>;
  /** Stops receiving, lets queued messages go out (a few seconds at most), and closes. */
  stop(): Promise<void>;
  /** Sends a reply-less message (a fired alert, a notice) to a chat: 'telegram:<id>' or the id. */
  post(chat: string | number, message: RichMessage, options?: { threadId?: number }): Promise<SendOutcome[]>;
  /** One message to many chats or forum topics, within Telegram's limits. */
  broadcast(targets: BroadcastTarget[], message: RichMessage): Promise<BroadcastReport>;
  /** Where the webhook server listens, once started in webhook mode. */
  webhookAddress(): AddressInfo | undefined;
  /** The webhook as a request handler, to mount on another server instead of the bot's own. */
  handleWebhookRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const ALLOWED_UPDATES = ['message', 'callback_query', 'my_chat_member'] as const;
const STAFF_ROLES: readonly Caller[] = ['admin', 'analyst', 'moderator'];
/** A private chat's role is looked up again after this long (roles change from other chats). */
const MENU_RECHECK_MS = 60_000;
/** Commands after which the caller's role may have changed. */
const IDENTITY_COMMANDS = new Set(['signup', 'login', 'link', 'start', 'unlink']);
/** Telegram keeps an unconfirmed update for at most 24 hours, so a redelivery comes sooner. */
const UPDATE_CLAIM_MS = 24 * 60 * 60_000;
const COMMAND = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)/;

/** Where a reply goes; `updateId` (the update it answers) goes into the sender's log lines. */
type Target = { chatId: number; threadId?: number; replyTo?: number; updateId?: number };

/** Short description of a Telegram or network error for logs (never the request payload). */
function errorSummary(error: unknown): Record<string, unknown> {
  const response = (error as { response?: { error_code?: number; description?: string } } | null)?.response;
  if (response) return { code: response.error_code, description: response.description };
  return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

/** Builds the menu Telegram shows for a set of roles and a chat type: the registry's list, as
 *  Telegram's rules allow (top-level names of 1-32 [a-z0-9_], at most 100). */
export function menuCommands(registry: CommandRegistry, roles: readonly Caller[], chat: ChatType): BotCommand[] {
  return registry.menu(roles, chat)
    .filter((entry) => /^[a-z0-9_]{1,32}$/.test(entry.name))
    .slice(0, 100)
    .map((entry) => ({ command: entry.name, description: entry.summary.length > 256 ? `${entry.summary.slice(0, 255)}…` : entry.summary || entry.name }));
}

export function createTelegramBot(options: TelegramBotOptions): TelegramBot {
  const { core, logger } = options;
  if (options.webhook && !/^[A-Za-z0-9_-]{1,256}$/.test(options.webhook.secret)) {
    throw new Error('The Telegram webhook needs a secret token of 1-256 characters A-Z a-z 0-9 _ - (TELEGRAM_WEBHOOK_SECRET).');
  }
  const now = options.now ?? (() => core.services.clock.now());
  const bot = new Telegraf(options.token, { telegram: { apiRoot: options.apiRoot, webhookReply: false } });
  const call = (method: string, params: Record<string, unknown>) => bot.telegram.callApi(method as never, params as never) as Promise<unknown>;
  const sender = new TelegramSender({ call, logger, limits: options.limits });
  const buttons = new ChatButtons(core.services.store, now, options.buttonTtl);

  const chains = new Map<string, Promise<void>>();
  const handlers = new Set<Promise<unknown>>();
  const menus = new Map<number, { role: Caller; checkedAt: number }>();
  let stopping = false;
  let server: Server | undefined;
  let pollingLoop: Promise<void> | undefined;
  let wakePoller: (() => void) | undefined;

  const username = () => bot.botInfo?.username;
  const privateChatLink = () => (username() ? `https://t.me/${username()}` : undefined);

  // ---- rendering and sending ---------------------------------------------------------------

  /** Renders a reply; what its buttons do is in the store before it can be sent, and pressed. `owner`
   *  is who may press them (anyone when absent). */
  async function render(message: RichMessage, owner: User | undefined, extra: { note?: string; openPrivate?: boolean } = {}): Promise<RenderedChunk[]> {
    const draft = buttons.draft(owner && ownerOf(owner));
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

  function payloadOf(chunk: RenderedChunk, replyTo?: number): OutboundPayload {
    const reply_parameters = replyTo ? { message_id: replyTo, allow_sending_without_reply: true } : undefined;
    if (chunk.kind === 'photo') {
      return { method: 'sendPhoto', params: { photo: chunk.url, caption: chunk.caption, parse_mode: chunk.caption ? 'HTML' : undefined, reply_markup: chunk.keyboard, reply_parameters } };
    }
    return { method: 'sendMessage', params: { text: chunk.html, parse_mode: 'HTML', reply_markup: chunk.keyboard, reply_parameters, link_preview_options: { is_disabled: true } } };
  }

  /** Queues the chunks in order (all at once, so nothing else for the chat slips between them). */
  function sendChunks(target: Target, chunks: RenderedChunk[]): Promise<SendOutcome[]> {
    const log = target.updateId === undefined ? undefined : { updateId: target.updateId };
    return Promise.all(chunks.map((chunk, i) => sender.send(target.chatId, payloadOf(chunk, i === 0 ? target.replyTo : undefined), { threadId: target.threadId, log })));
  }

  /** Replaces a message's text and buttons in place; falls back to a new message if it cannot. */
  function editInPlace(target: Target, messageId: number, chunks: RenderedChunk[], wasPhoto: boolean): Promise<SendOutcome[]> {
    const [first, ...rest] = chunks;
    const log = target.updateId === undefined ? undefined : { updateId: target.updateId };
    if (!first || first.kind !== 'text' || wasPhoto) {
      void sender.send(target.chatId, { method: 'editMessageReplyMarkup', params: { message_id: messageId } }, { log });
      return sendChunks(target, chunks);
    }
    const edit = sender.send(target.chatId, {
      method: 'editMessageText',
      params: { message_id: messageId, text: first.html, parse_mode: 'HTML', reply_markup: first.keyboard, link_preview_options: { is_disabled: true } },
    }, { log }).then(async (outcome) => (outcome.status === 'failed' ? (await sendChunks(target, [first]))[0]! : outcome));
    return Promise.all([edit, sendChunks({ ...target, replyTo: undefined }, rest)]).then(([e, r]) => [e, ...r]);
  }

  function updatedNote(): string {
    return `Updated ${new Date(now()).toISOString().slice(11, 19)} UTC`;
  }

  // ---- mapping Telegram to the core ---------------------------------------------------------

  const identityOf = (user: User): IdentityRef => ({ platform: 'telegram', userId: String(user.id) });
  const ownerOf = (user: User): string => identityKey(identityOf(user));
  const chatRefOf = (chat: Chat): ChatRef => ({ type: chat.type === 'private' ? 'private' : 'group', id: `telegram:${chat.id}` });
  const threadOf = (message: Message): number | undefined =>
    (message as { is_topic_message?: boolean }).is_topic_message ? (message as { message_thread_id?: number }).message_thread_id : undefined;
  const commandSpec = (name: string | undefined) => core.registry.commands.find((c) => c.name === name);

  /** Sends a reply meant for the caller alone to their private chat, and says so in the group. */
  async function deliverPrivately(from: User, group: Target, message: RichMessage): Promise<void> {
    const outcomes = await sendChunks({ chatId: from.id, updateId: group.updateId }, await render(message, from));
    const reached = outcomes.length > 0 && outcomes.every((o) => o.status === 'sent');
    const notice: RichMessage = reached
      ? { tone: 'info', text: `📬 ${from.first_name}, I sent you the answer in our private chat.` }
      : { tone: 'warning', text: `${from.first_name}, I can't message you privately yet: open a chat with me, press Start, then send the command again.` };
    await sendChunks(group, await render(notice, undefined, { openPrivate: !reached }));
  }

  /** Delivers a dispatch result for a typed command. */
  async function answerCommand(msg: Message, from: User, result: DispatchResult, updateId: number): Promise<void> {
    const chat = msg.chat;
    const inGroup = chat.type !== 'private';
    const threadId = threadOf(msg);
    let passwordLeft = false;
    if (result.deleteInput) {
      try {
        await call('deleteMessage', { chat_id: chat.id, message_id: msg.message_id });
      } catch (error) {
        passwordLeft = true;
        logger.warn({ updateId, chatId: chat.id, ...errorSummary(error) }, 'could not delete a message that carried a password');
      }
    }
    const group: Target = { chatId: chat.id, threadId, replyTo: inGroup && !result.deleteInput ? msg.message_id : undefined, updateId };
    if (passwordLeft) {
      void sendChunks(group, await render({ tone: 'warning', text: `${from.first_name}, your message contained a password and I can't delete it here (I'm not an admin). Delete it yourself now, and ask an admin for a new password if others may have seen it.` }, undefined));
    }
    if (result.message.private && inGroup) {
      void deliverPrivately(from, group, result.message).catch((error) => logger.error({ updateId, ...errorSummary(error) }, 'private reply failed'));
      return;
    }
    const refusedHere = inGroup && commandSpec(result.command)?.chats === 'private';
    void sendChunks(group, await render(result.message, from, { openPrivate: refusedHere }));
  }

  async function handleMessage(msg: Message, updateId: number): Promise<void> {
    const chat = msg.chat;
    if (chat.type === 'channel') return;
    sender.revive(chat.id);
    const text = 'text' in msg ? msg.text : undefined;
    if (text === undefined) return;
    const match = COMMAND.exec(text);
    if (!match) {
      if (chat.type === 'private') {
        void sendChunks({ chatId: chat.id, updateId }, await render({ tone: 'info', text: 'I answer commands, like /price btc or /portfolio. /help lists them all.' }, undefined));
      }
      return;
    }
    const [head, name, addressee] = match;
    const me = username();
    if (addressee && me && addressee.toLowerCase() !== me.toLowerCase()) return; // for another bot
    const from = msg.from;
    if ((msg as { sender_chat?: Chat }).sender_chat || !from) {
      void sendChunks({ chatId: chat.id, threadId: threadOf(msg), replyTo: msg.message_id, updateId }, await render({
        tone: 'warning', text: 'I cannot tell who you are when you post as the group or a channel: send commands as yourself (turn off "Remain anonymous").',
      }, undefined));
      return;
    }
    if (from.is_bot) return;
    const identity = identityOf(from);
    const result = await core.dispatcher.dispatch({
      identity,
      chat: chatRefOf(chat),
      text: `/${name}${text.slice(head!.length)}`,
      messageId: String(msg.message_id),
      sentAt: msg.date * 1000,
      canConfirm: true,
    });
    await answerCommand(msg, from, result, updateId);
    if (chat.type === 'private') void updateMenu(chat.id, identity, result.command).catch((error) => logger.warn({ updateId, ...errorSummary(error) }, 'could not update a command menu'));
  }

  async function handleCallback(query: Extract<Update, { callback_query: unknown }>['callback_query'], updateId: number): Promise<void> {
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
    const target: Target = { chatId: chat.id, threadId: threadOf(message), updateId };
    const wasPhoto = 'photo' in message;
    if (button.kind === 'cancel') {
      await answer('Cancelled');
      void editInPlace(target, message.message_id, await render({ tone: 'info', text: `Cancelled: ${button.command} was not run. Nothing changed.` }, undefined), wasPhoto);
      return;
    }
    await answer(button.kind === 'confirm' ? 'Confirmed' : undefined);
    const result = await core.dispatcher.dispatch({
      identity: identityOf(query.from),
      chat: chatRefOf(chat),
      text: button.command,
      // A confirmation is keyed by the prompt, so a second Confirm on it never trades again.
      messageId: button.kind === 'confirm' ? `confirm:${message.message_id}` : `button:${query.id}`,
      canConfirm: true,
      confirmed: button.kind === 'confirm',
    });
    if (result.message.private && chat.type !== 'private') {
      void deliverPrivately(query.from, target, result.message).catch((error) => logger.error({ updateId, ...errorSummary(error) }, 'private reply failed'));
      return;
    }
    const chunks = await render(result.message, query.from, { note: button.kind === 'refresh' ? updatedNote() : undefined });
    void editInPlace(target, message.message_id, chunks, wasPhoto);
  }

  function handleMembership(update: Extract<Update, { my_chat_member: unknown }>['my_chat_member']): void {
    const status = update.new_chat_member.status;
    if (status === 'kicked' || status === 'left') sender.markDead(update.chat.id, `bot ${status}`);
    else sender.revive(update.chat.id);
  }

  /** Staff get their commands in their private chat's menu (Telegram menus are per chat, not per role). */
  async function updateMenu(chatId: number, identity: IdentityRef, command: string | undefined): Promise<void> {
    const known = menus.get(chatId);
    const clock = now();
    if (known && !IDENTITY_COMMANDS.has(command ?? '') && clock - known.checkedAt < MENU_RECHECK_MS) return;
    const { store } = core.services;
    const linked = await store.findIdentity(identityKey(identity));
    const account = linked ? await store.getAccount(linked.username) : null;
    const role: Caller = account?.role ?? 'guest';
    menus.set(chatId, { role, checkedAt: clock });
    if (known?.role === role) return;
    const scope = { type: 'chat', chat_id: chatId };
    if (STAFF_ROLES.includes(role)) {
      await call('setMyCommands', { commands: menuCommands(core.registry, [role], 'private'), scope });
    } else if (known && STAFF_ROLES.includes(known.role)) {
      await call('deleteMyCommands', { scope });
    }
  }

  async function registerMenus(): Promise<void> {
    const everyone: Caller[] = ['guest', 'user'];
    for (const [type, chat] of [['all_private_chats', 'private'], ['all_group_chats', 'group']] as const) {
      try {
        await call('setMyCommands', { commands: menuCommands(core.registry, everyone, chat), scope: { type } });
      } catch (error) {
        logger.warn({ scope: type, ...errorSummary(error) }, 'could not set the Telegram command menu');
      }
    }
  }

  // ---- updates ------------------------------------------------------------------------------

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

  async function handleUpdate(update: Update): Promise<void> {
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
      } else if ('callback_query' in update) {
        const chatId = update.callback_query.message?.chat.id ?? `user:${update.callback_query.from.id}`;
        await inOrder(String(chatId), () => handleCallback(update.callback_query, updateId));
      } else if ('my_chat_member' in update) {
        handleMembership(update.my_chat_member);
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

  bot.use(async (ctx) => {
    await handleUpdate(ctx.update);
  });
  bot.catch((error, ctx) => {
    logger.error({ updateId: ctx.update?.update_id, ...errorSummary(error) }, 'telegram update failed');
  });

  // ---- transport: webhook or long polling ---------------------------------------------------

  const webhookPath = options.webhook ? (() => {
    const url = new URL(options.webhook.url);
    return `${url.pathname}${url.search}`;
  })() : '/';
  const webhookCallback = bot.webhookCallback(webhookPath, { secretToken: options.webhook?.secret });

  async function handleWebhookRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await webhookCallback(req, res, () => {
        // telegraf's filter said no: say why, without reading the body.
        const path = (req.url ?? '').split('?')[0];
        res.statusCode = req.method !== 'POST' ? (path === webhookPath.split('?')[0] ? 405 : 404) : path === webhookPath.split('?')[0] ? 401 : 404;
        if (res.statusCode === 401) logger.warn({ ip: req.socket.remoteAddress }, 'telegram webhook request without the right secret token: refused');
        res.end();
      });
    } catch (error) {
      logger.error({ ...errorSummary(error) }, 'telegram webhook request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    }
  }

  async function startWebhook(webhook: TelegramWebhookOptions): Promise<void> {
    const http = createServer((req, res) => void handleWebhookRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(webhook.port, webhook.host ?? '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    http.on('error', (error) => logger.error({ ...errorSummary(error) }, 'telegram webhook server error'));
    server = http;
    try {
      await call('setWebhook', { url: webhook.url, secret_token: webhook.secret, allowed_updates: ALLOWED_UPDATES, drop_pending_updates: false });
    } catch (error) {
      await closeServer();
      throw error;
    }
    const { address, port } = http.address() as AddressInfo;
    logger.info({ path: webhookPath, host: address, port }, 'telegram bot receiving updates by webhook');
  }

  async function pollForever(): Promise<void> {
    let delay = 1000;
    while (!stopping) {
      const began = Date.now();
      try {
        await bot.launch({ allowedUpdates: [...ALLOWED_UPDATES] });
      } catch (error) {
        if (!stopping) logger.error({ ...errorSummary(error) }, 'telegram long polling stopped with an error: restarting');
      }
      if (stopping) break;
      if (Date.now() - began > 60_000) delay = 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wakePoller = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, 60_000);
    }
  }

  async function closeServer(): Promise<void> {
    const http = server;
    server = undefined;
    if (!http) return;
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }

  return {
    bot,
    sender,
    async start() {
      stopping = false;
      bot.botInfo = await bot.telegram.getMe();
      await registerMenus();
      if (options.webhook) {
        await startWebhook(options.webhook);
      } else {
        pollingLoop = pollForever();
        logger.info({ bot: username() }, 'telegram bot receiving updates by long polling');
      }
    },
    async stop() {
      stopping = true;
      wakePoller?.();
      if (pollingLoop) {
        // telegraf can only stop a poll that has begun: keep asking until the loop ends.
        const loop = pollingLoop;
        let ended = false;
        void loop.then(() => (ended = true));
        for (let waited = 0; !ended && waited < 10_000; waited += 50) {
          try {
            bot.stop('shutdown');
          } catch {
            // not polling yet (still connecting), or between restarts
          }
          await Promise.race([loop, new Promise((r) => setTimeout(r, 50))]);
        }
        pollingLoop = undefined;
      }
      await closeServer();
      await Promise.race([Promise.allSettled([...handlers]), new Promise((r) => setTimeout(r, 5000).unref())]);
      await sender.idle(5000);
      sender.close();
    },
    async post(chat, message, postOptions = {}) {
      const chatId = typeof chat === 'number' ? chat : Number(chat.replace(/^telegram:/, ''));
      if (!Number.isSafeInteger(chatId)) return [{ status: 'failed', chatId: String(chat), reason: 'not a Telegram chat id' }];
      return sendChunks({ chatId, threadId: postOptions.threadId }, await render(message, undefined));
    },
    async broadcast(targets, message) {
      const chunks = await render(message, undefined);
      if (chunks.length === 1) return sender.broadcast(targets, payloadOf(chunks[0]!));
      const perTarget = await Promise.all(targets.map((t) => Promise.all(chunks.map((c) => sender.send(t.chatId, payloadOf(c), { threadId: t.threadId })))));
      const outcomes = perTarget.map((list) => list.find((o) => o.status !== 'sent' && o.status !== 'unchanged') ?? list[0]!);
      const count = (status: SendOutcome['status']) => outcomes.filter((o) => o.status === status).length;
      return { sent: count('sent') + count('unchanged'), dead: count('dead'), failed: count('failed'), outcomes };
    },
    webhookAddress: () => (server?.address() as AddressInfo | null) ?? undefined,
    handleWebhookRequest,
  };
}

