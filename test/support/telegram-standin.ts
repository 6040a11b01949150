/**
 * A loopback stand-in for the Telegram Bot API, so the real telegraf bot runs in tests over real
 * HTTP. It speaks the Bot API's routes (`POST /bot<token>/<method>`, JSON or form bodies) and its
 * answers (`{ok, result}` or `{ok: false, error_code, description, parameters}`), and it checks
 * what Telegram checks:
 *   - HTML parse mode is parsed like Telegram does (known tags only, balanced, `<`, `>`, `&`
 *     escaped), and messages over 4,096 characters or captions over 1,024 are refused;
 *   - callback_data is 1-64 bytes; setMyCommands names and descriptions are validated;
 *   - getUpdates long-polls with offset/limit/timeout; a second poller gets 409; getUpdates while a
 *     webhook is set gets 409; with a webhook set, updates are POSTed to it with the secret header;
 *   - blocked users and kicked bots get 403, unknown chats 400 "chat not found", a user who never
 *     opened a private chat 403 "bot can't initiate conversation";
 *   - deleting someone else's message in a group needs admin rights;
 *   - getChatMember answers a ChatMember (creator, administrator, member or left) from the
 *     chat's admins and the users who wrote there;
 *   - channels: the bot posts there only as an administrator (else 400 "need administrator
 *     rights"); a channel's posts come as channel_post updates with sender_chat and no `from`;
 *   - optional rate limits (global / per chat / per group) answered with 429 and retry_after.
 * Test controls play the users (send, press), inject faults (429 storms, 5xx) and read back what
 * the bot did (messages as users see them, edits, callback answers, menus).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';

export const STANDIN_TOKEN = '123456789:AAStandInTokenForTests_abcdefghijk';

export interface StandinUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
  language_code?: string;
}

export interface StandinChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  /** Private chat: the user. */
  user?: StandinUser;
  isForum: boolean;
  botIsAdmin: boolean;
  /** Private chat: the user pressed Start (wrote to the bot) at least once. */
  started: boolean;
  blocked: boolean;
  kicked: boolean;
  topics: Set<number>;
  nextMessageId: number;
  /** Groups and channels: who getChatMember says is the creator, and the other administrators. */
  creator?: number;
  admins: Set<number>;
  /** Users who wrote in the chat (members by getChatMember), beside the admins. */
  members: Set<number>;
}

type Markup = { inline_keyboard: Array<Array<{ text: string; callback_data?: string; url?: string }>> };

/** A message as the chat shows it now (after edits). */
export interface StandinMessage {
  chatId: number;
  messageId: number;
  fromBot: boolean;
  from?: StandinUser;
  threadId?: number;
  /** The text as users read it (entities parsed); for a photo, the caption. */
  text: string;
  /** What the bot sent, with parse_mode HTML. */
  html?: string;
  photo?: string;
  replyMarkup?: Markup;
  replyTo?: number;
  /** Earlier texts, oldest first: an edit in place keeps the message and grows this list. */
  history: string[];
  deleted: boolean;
  date: number;
}

export interface ApiCall {
  method: string;
  params: Record<string, any>;
  at: number;
  ok: boolean;
  errorCode?: number;
  description?: string;
  /** A 429 the test asked for. */
  injected?: boolean;
  /** A 429 from the stand-in's own rate limits. */
  enforced?: boolean;
}

export interface RateRule {
  limit: number;
  windowMs: number;
}

export interface StandinLimits {
  global?: RateRule;
  perChat?: RateRule;
  perGroup?: RateRule;
}

/** Telegram's limits as the stand-in enforces them when asked to. */
export const REAL_LIMITS: Required<StandinLimits> = {
  global: { limit: 30, windowMs: 1000 },
  perChat: { limit: 1, windowMs: 1000 },
  perGroup: { limit: 20, windowMs: 60_000 },
};

export interface Fault {
  /** Only this method (default: any message-sending method). */
  method?: string;
  chatId?: number;
  /** How many calls it answers (default 1). */
  count?: number;
  errorCode: number;
  description?: string;
  retryAfter?: number;
}

export interface StandinOptions {
  token?: string;
  botUsername?: string;
  /** Rate limits to enforce with 429s; none by default. */
  limits?: StandinLimits;
  /** The clock that dates messages (ms): the bot's own test clock, so message ages are real to it. */
  now?: () => number;
}

type ApiResult = { ok: true; result: unknown } | { ok: false; error_code: number; description: string; parameters?: Record<string, unknown> };

class ApiError extends Error {
  constructor(readonly code: number, readonly description: string, readonly parameters?: Record<string, unknown>) {
    super(description);
  }
}

const badRequest = (description: string) => new ApiError(400, `Bad Request: ${description}`);

// ---- Telegram's HTML parse mode --------------------------------------------------------------

const TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'code', 'pre', 'blockquote', 'tg-emoji']);
const ENTITY = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

/** Parses Telegram HTML into the text users see, or says why Telegram would refuse it. */
export function parseTelegramHtml(html: string): { ok: true; text: string } | { ok: false; error: string } {
  const stack: string[] = [];
  let text = '';
  let i = 0;
  const offset = () => Buffer.byteLength(html.slice(0, i));
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === '<') {
      const tag = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*>/.exec(html.slice(i));
      if (!tag) return { ok: false, error: `can't parse entities: Unexpected character "<" at byte offset ${offset()}` };
      const [whole, closing, rawName, attributes] = tag;
      const name = rawName!.toLowerCase();
      if (closing) {
        const open = stack.pop();
        if (open !== name) return { ok: false, error: `can't parse entities: Unmatched end tag at byte offset ${offset()}, expected "</${open ?? ''}>", found "</${name}>"` };
      } else {
        if (!TAGS.has(name)) return { ok: false, error: `can't parse entities: Unsupported start tag "${name}" at byte offset ${offset()}` };
        if (name === 'a' && !/\bhref\s*=/.test(attributes ?? '')) return { ok: false, error: `can't parse entities: Can't find href in a tag at byte offset ${offset()}` };
        stack.push(name);
      }
      i += whole.length;
      continue;
    }
    if (ch === '&') {
      const entity = ENTITY.exec(html.slice(i, i + 12));
      if (!entity) return { ok: false, error: `can't parse entities: Unsupported entity at byte offset ${offset()}` };
      const name = entity[1]!;
      text += NAMED[name] ?? String.fromCodePoint(name.startsWith('#x') ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
      i += entity[0].length;
      continue;
    }
    if (ch === '>') return { ok: false, error: `can't parse entities: Unexpected character ">" at byte offset ${offset()}` };
    text += ch;
    i++;
  }
  if (stack.length) return { ok: false, error: `can't parse entities: Can't find end tag corresponding to start tag "${stack[stack.length - 1]}"` };
  return { ok: true, text };
}

// ---- rate limits: arrivals in a sliding window ----------------------------------------------

class Arrivals {
  private readonly times: number[] = [];
  constructor(readonly rule: RateRule) {}
  /** 0 when one more fits now, else milliseconds until it would. */
  wait(now: number): number {
    while (this.times.length && this.times[0]! <= now - this.rule.windowMs) this.times.shift();
    if (this.times.length < this.rule.limit) return 0;
    return this.times[this.times.length - this.rule.limit]! + this.rule.windowMs - now;
  }
  add(now: number): void {
    this.times.push(now);
  }
}

const RATE_LIMITED = new Set(['sendMessage', 'sendPhoto', 'editMessageText', 'editMessageCaption', 'editMessageReplyMarkup']);

export interface TelegramStandin {
  /** For telegraf's `telegram.apiRoot`. */
  apiRoot: string;
  token: string;
  botUser: StandinUser;
  calls: ApiCall[];
  /** callback_query_id -> the bot's answer. */
  answers: Map<string, { text?: string; show_alert?: boolean }>;
  counts: { injected429: number; enforced429: number };
  webhook?: { url: string; secretToken?: string };
  /** Where webhook updates are actually POSTed (the bot's local listener), instead of webhook.url. */
  webhookTarget?: string;

  user(id: number, firstName: string, username?: string): StandinUser;
  /** A group (a supergroup when its id starts with -100); `creator` and `admins` are user ids. */
  group(options: { id: number; title?: string; forum?: boolean; botIsAdmin?: boolean; creator?: number; admins?: number[] }): StandinChat;
  /** A channel; the bot is one of its administrators unless `botIsAdmin: false`. */
  channel(options: { id: number; title?: string; botIsAdmin?: boolean }): StandinChat;
  /** The channel publishes a post (a channel_post update: sender_chat the channel, no `from`). */
  post(channelId: number, text: string): Promise<{ updateId: number; message: StandinMessage; webhookStatus?: number }>;
  chat(id: number): StandinChat;
  /** A user writes in a chat (their private chat with the bot when chatId is omitted). */
  /** `asChat: true` posts as the group's anonymous admin (GroupAnonymousBot, sender_chat the
   *  group); `asChat: <channel id>` on behalf of a channel (Channel_Bot, sender_chat that channel). */
  send(from: StandinUser, text: string, options?: { chatId?: number; threadId?: number; asChat?: boolean | number; /** When the user sent it (ms), for late deliveries. */ sentAt?: number }): Promise<{ updateId: number; message: StandinMessage; webhookStatus?: number }>;
  /** A user presses the inline button labelled `label` (or carrying `data`) under a bot message. */
  press(from: StandinUser, message: StandinMessage, label: string, options?: { data?: string }): Promise<{ updateId: number; callbackId: string; webhookStatus?: number }>;
  /** Delivers an update again, as Telegram does when it was not confirmed (after a crash or a failed webhook call). */
  redeliver(updateId: number): Promise<number | undefined>;
  /** The bot was blocked, kicked, or added back: sends my_chat_member. */
  membership(chatId: number, status: 'member' | 'kicked' | 'left' | 'administrator'): Promise<void>;
  /** The bot's messages in a chat, as they look now. */
  botMessages(chatId: number): StandinMessage[];
  message(chatId: number, messageId: number): StandinMessage | undefined;
  /** Menu set with setMyCommands for a scope (default scope when omitted). */
  commands(scope?: Record<string, unknown>): Array<{ command: string; description: string }> | undefined;
  inject(fault: Fault): void;
  /** Every message-sending call for the next `ms` answers 429 with retry_after. */
  flood(ms: number, retryAfter: number): void;
  setLimits(limits: StandinLimits | undefined): void;
  /** Resolves with the first truthy value of `probe`, checked after every API call. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startTelegramStandin(options: StandinOptions = {}): Promise<TelegramStandin> {
  const token = options.token ?? STANDIN_TOKEN;
  const botUser: StandinUser = { id: Number(token.split(':')[0]), is_bot: true, first_name: 'CryptoPulse', username: options.botUsername ?? 'CryptoPulseTestBot' };
  const events = new EventEmitter();
  events.setMaxListeners(1000);
  const chats = new Map<number, StandinChat>();
  const messages = new Map<string, StandinMessage>();
  const updates = new Map<number, Record<string, unknown>>();
  const callbacks = new Map<string, { answered: boolean }>();
  const answers = new Map<string, { text?: string; show_alert?: boolean }>();
  const commandMenus = new Map<string, Array<{ command: string; description: string }>>();
  const calls: ApiCall[] = [];
  const counts = { injected429: 0, enforced429: 0 };
  let pending: Array<Record<string, unknown>> = [];
  const replays: Array<Record<string, unknown>> = [];
  let poller: { res: ServerResponse; params: Record<string, any>; timer: NodeJS.Timeout } | undefined;
  let nextUpdateId = 100_000;
  let nextCallbackId = 7_000_000;
  const faults: Array<Fault & { remaining: number }> = [];
  let floodUntil = 0;
  let floodRetryAfter = 1;
  let limits: { global?: Arrivals; chats: Map<number, Arrivals>; groups: Map<number, Arrivals>; rules: StandinLimits } | undefined;
  const setLimits = (rules: StandinLimits | undefined) => {
    limits = rules ? { rules, global: rules.global && new Arrivals(rules.global), chats: new Map(), groups: new Map() } : undefined;
  };
  setLimits(options.limits);

  const key = (chatId: number, messageId: number) => `${chatId}/${messageId}`;
  const nowSeconds = () => Math.floor((options.now ?? Date.now)() / 1000);

  const chatObject = (chat: StandinChat) =>
    chat.type === 'private'
      ? { id: chat.id, type: 'private', first_name: chat.user?.first_name, username: chat.user?.username }
      : { id: chat.id, type: chat.type, title: chat.title, ...(chat.isForum ? { is_forum: true } : {}) };

  const apiMessage = (m: StandinMessage) => {
    const chat = chats.get(m.chatId)!;
    const out: Record<string, unknown> = { message_id: m.messageId, from: m.fromBot ? botUser : m.from, chat: chatObject(chat), date: m.date };
    // A channel's posts are the channel's: sender_chat, and no `from` at all.
    if (chat.type === 'channel') {
      delete out.from;
      out.sender_chat = chatObject(chat);
    }
    if (m.threadId !== undefined) Object.assign(out, { message_thread_id: m.threadId, is_topic_message: true });
    if (m.photo) Object.assign(out, { photo: [{ file_id: `photo-${m.messageId}`, file_unique_id: `u${m.messageId}`, width: 800, height: 600 }], caption: m.text || undefined });
    else out.text = m.text;
    if (m.replyMarkup) out.reply_markup = m.replyMarkup;
    return out;
  };

  function user(id: number, firstName: string, username?: string): StandinUser {
    const u: StandinUser = { id, is_bot: false, first_name: firstName, username, language_code: 'en' };
    if (!chats.has(id)) {
      chats.set(id, { id, type: 'private', user: u, isForum: false, botIsAdmin: false, started: false, blocked: false, kicked: false, topics: new Set(), nextMessageId: 1, admins: new Set(), members: new Set([id]) });
    }
    return u;
  }

  function group(o: { id: number; title?: string; forum?: boolean; botIsAdmin?: boolean; creator?: number; admins?: number[] }): StandinChat {
    const chat: StandinChat = {
      id: o.id, type: String(o.id).startsWith('-100') ? 'supergroup' : 'group', title: o.title ?? `Group ${o.id}`, isForum: o.forum ?? false,
      botIsAdmin: o.botIsAdmin ?? false, started: true, blocked: false, kicked: false, topics: new Set(), nextMessageId: 1,
      creator: o.creator, admins: new Set(o.admins ?? []), members: new Set(),
    };
    chats.set(o.id, chat);
    return chat;
  }

  function channel(o: { id: number; title?: string; botIsAdmin?: boolean }): StandinChat {
    const chat: StandinChat = {
      id: o.id, type: 'channel', title: o.title ?? `Channel ${o.id}`, isForum: false, botIsAdmin: o.botIsAdmin ?? true, started: true, blocked: false, kicked: false,
      topics: new Set(), nextMessageId: 1, admins: new Set(), members: new Set(),
    };
    chats.set(o.id, chat);
    return chat;
  }

  function chat(id: number): StandinChat {
    const found = chats.get(id);
    if (!found) throw new Error(`stand-in: no chat ${id}`);
    return found;
  }

  // ---- delivering updates ------------------------------------------------------------------

  function answerPoller(): void {
    if (!poller) return;
    const batch = selectUpdates(poller.params);
    if (!batch.length) return;
    const { res, timer } = poller;
    poller = undefined;
    clearTimeout(timer);
    reply(res, { ok: true, result: batch });
  }

  function selectUpdates(params: Record<string, any>): Array<Record<string, unknown>> {
    const offset = Number(params.offset ?? 0);
    if (offset > 0) pending = pending.filter((u) => (u.update_id as number) >= offset);
    const limit = Math.min(100, Math.max(1, Number(params.limit ?? 100)));
    const allowed: string[] | undefined = Array.isArray(params.allowed_updates) && params.allowed_updates.length ? params.allowed_updates : undefined;
    const batch = [...replays.splice(0), ...pending].filter((u) => !allowed || allowed.some((type) => type in u)).slice(0, limit);
    return batch;
  }

  async function deliver(update: Record<string, unknown>): Promise<number | undefined> {
    if (webhookState.webhook) {
      const target = standin.webhookTarget ?? webhookState.webhook.url;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (webhookState.webhook.secretToken) headers['x-telegram-bot-api-secret-token'] = webhookState.webhook.secretToken;
      const res = await fetch(target, { method: 'POST', headers, body: JSON.stringify(update) });
      await res.arrayBuffer();
      return res.status;
    }
    pending.push(update);
    answerPoller();
    return undefined;
  }

  function newUpdate(body: Record<string, unknown>): Record<string, unknown> {
    const update = { update_id: ++nextUpdateId, ...body };
    updates.set(update.update_id, update);
    return update;
  }

  async function send(from: StandinUser, text: string, o: { chatId?: number; threadId?: number; asChat?: boolean | number; sentAt?: number } = {}) {
    const target = chat(o.chatId ?? from.id);
    if (target.type === 'private') {
      target.started = true;
      target.blocked = false;
    }
    if (o.threadId !== undefined) target.topics.add(o.threadId);
    if (target.type !== 'private') target.members.add(from.id);
    const message: StandinMessage = {
      chatId: target.id, messageId: target.nextMessageId++, fromBot: false, from, text, history: [], deleted: false, date: o.sentAt === undefined ? nowSeconds() : Math.floor(o.sentAt / 1000),
      threadId: target.isForum ? o.threadId : undefined,
    };
    messages.set(key(target.id, message.messageId), message);
    const api = apiMessage(message);
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
    if (command) api.entities = [{ type: 'bot_command', offset: 0, length: command[0].length }];
    if (typeof o.asChat === 'number') {
      api.sender_chat = chatObject(chat(o.asChat));
      api.from = { id: 136817688, is_bot: true, first_name: 'Channel', username: 'Channel_Bot' };
    } else if (o.asChat) {
      api.sender_chat = chatObject(target);
      api.from = { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' };
    }
    const update = newUpdate({ message: api });
    const webhookStatus = await deliver(update);
    return { updateId: update.update_id as number, message, webhookStatus };
  }

  async function post(channelId: number, text: string) {
    const target = chat(channelId);
    if (target.type !== 'channel') throw new Error(`stand-in: ${channelId} is not a channel`);
    const message: StandinMessage = { chatId: target.id, messageId: target.nextMessageId++, fromBot: false, text, history: [], deleted: false, date: nowSeconds() };
    messages.set(key(target.id, message.messageId), message);
    const api = apiMessage(message);
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
    if (command) api.entities = [{ type: 'bot_command', offset: 0, length: command[0].length }];
    const update = newUpdate({ channel_post: api });
    const webhookStatus = await deliver(update);
    return { updateId: update.update_id as number, message, webhookStatus };
  }

  async function press(from: StandinUser, message: StandinMessage, label: string, o: { data?: string } = {}) {
    const button = o.data !== undefined ? { callback_data: o.data } : message.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
    if (!button?.callback_data) throw new Error(`stand-in: no button "${label}" under message ${message.messageId}: ${JSON.stringify(message.replyMarkup)}`);
    const callbackId = String(++nextCallbackId);
    callbacks.set(callbackId, { answered: false });
    const update = newUpdate({
      callback_query: { id: callbackId, from, message: apiMessage(message), chat_instance: `ci${message.chatId}`, data: button.callback_data },
    });
    const webhookStatus = await deliver(update);
    return { updateId: update.update_id as number, callbackId, webhookStatus };
  }

  async function redeliver(updateId: number): Promise<number | undefined> {
    const update = updates.get(updateId);
    if (!update) throw new Error(`stand-in: no update ${updateId}`);
    if (webhookState.webhook) return deliver(update);
    replays.push(update);
    answerPoller();
    return undefined;
  }

  async function membership(chatId: number, status: 'member' | 'kicked' | 'left' | 'administrator'): Promise<void> {
    const target = chat(chatId);
    if (target.type === 'private') target.blocked = status === 'kicked';
    else target.kicked = status === 'kicked' || status === 'left';
    const actor = target.user ?? { id: 42, is_bot: false, first_name: 'Admin' };
    const update = newUpdate({
      my_chat_member: {
        chat: chatObject(target), from: actor, date: nowSeconds(),
        old_chat_member: { user: botUser, status: status === 'member' || status === 'administrator' ? 'left' : 'member' },
        new_chat_member: { user: botUser, status },
      },
    });
    await deliver(update);
  }

  // ---- the Bot API methods -----------------------------------------------------------------

  const webhookState: { webhook?: { url: string; secretToken?: string } } = {};

  function writableChat(params: Record<string, any>): StandinChat {
    const id = Number(params.chat_id);
    const target = chats.get(id);
    if (!target) throw badRequest('chat not found');
    if (target.type === 'private') {
      if (target.blocked) throw new ApiError(403, 'Forbidden: bot was blocked by the user');
      if (!target.started) throw new ApiError(403, "Forbidden: bot can't initiate conversation with a user");
    } else if (target.kicked) {
      throw new ApiError(403, `Forbidden: bot was kicked from the ${target.type} chat`);
    } else if (target.type === 'channel' && !target.botIsAdmin) {
      throw badRequest('need administrator rights in the channel chat');
    }
    return target;
  }

  function parsedText(raw: unknown, parseMode: unknown, limit: number, what: 'text' | 'caption'): { text: string; html?: string } {
    const source = typeof raw === 'string' ? raw : raw === undefined ? '' : String(raw);
    let text = source;
    if (parseMode === 'HTML') {
      const parsed = parseTelegramHtml(source);
      if (!parsed.ok) throw badRequest(parsed.error);
      text = parsed.text;
    } else if (parseMode !== undefined) {
      throw badRequest('unsupported parse_mode in the stand-in');
    }
    if (what === 'text' && !text.trim()) throw badRequest('message text is empty');
    if (text.length > limit) throw badRequest(what === 'text' ? 'message is too long' : 'message caption is too long');
    return { text, html: parseMode === 'HTML' ? source : undefined };
  }

  function markupOf(raw: unknown): Markup | undefined {
    if (raw === undefined) return undefined;
    const markup = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Markup;
    if (!markup || !Array.isArray(markup.inline_keyboard)) throw badRequest('only inline keyboards in the stand-in');
    for (const row of markup.inline_keyboard) {
      if (!Array.isArray(row)) throw badRequest('field "inline_keyboard" must be an Array of Arrays');
      for (const button of row) {
        if (!button.text) throw badRequest('text buttons are unallowed in the inline keyboard');
        if (button.callback_data !== undefined) {
          const bytes = Buffer.byteLength(String(button.callback_data));
          if (bytes < 1 || bytes > 64) throw badRequest('BUTTON_DATA_INVALID');
        } else if (button.url !== undefined) {
          if (!/^(https?|tg):\/\//.test(button.url)) throw badRequest(`inline keyboard button URL '${button.url}' is invalid: Wrong HTTP URL`);
        } else {
          throw badRequest("can't parse inline keyboard button: Field \"callback_data\" or \"url\" must be specified");
        }
      }
    }
    return markup.inline_keyboard.length ? markup : undefined;
  }

  function threadFor(target: StandinChat, params: Record<string, any>): number | undefined {
    if (params.message_thread_id === undefined) return undefined;
    const thread = Number(params.message_thread_id);
    if (!target.isForum) return undefined;
    if (!target.topics.has(thread)) throw badRequest('message thread not found');
    return thread;
  }

  function replyTarget(target: StandinChat, params: Record<string, any>): number | undefined {
    const rp = typeof params.reply_parameters === 'string' ? JSON.parse(params.reply_parameters) : params.reply_parameters;
    if (!rp) return undefined;
    const original = messages.get(key(target.id, Number(rp.message_id)));
    if (!original || original.deleted) {
      if (rp.allow_sending_without_reply) return undefined;
      throw badRequest('message to be replied not found');
    }
    return original.messageId;
  }

  function store(target: StandinChat, m: Omit<StandinMessage, 'chatId' | 'messageId' | 'fromBot' | 'history' | 'deleted' | 'date'>): StandinMessage {
    const message: StandinMessage = { chatId: target.id, messageId: target.nextMessageId++, fromBot: true, history: [], deleted: false, date: nowSeconds(), ...m };
    messages.set(key(target.id, message.messageId), message);
    return message;
  }

  function botMessage(params: Record<string, any>): StandinMessage {
    const target = writableChat(params);
    const message = messages.get(key(target.id, Number(params.message_id)));
    if (!message || message.deleted) throw badRequest('message to edit not found');
    if (!message.fromBot) throw badRequest("message can't be edited");
    return message;
  }

  const sameMarkup = (a?: Markup, b?: Markup) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

  const methods: Record<string, (params: Record<string, any>) => unknown> = {
    getMe: () => ({ ...botUser, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
    getUpdates: () => {
      throw new Error('handled separately');
    },
    setWebhook: (params) => {
      const url = String(params.url ?? '');
      if (!url) {
        delete webhookState.webhook;
        return true;
      }
      if (!/^https:\/\//.test(url)) throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
      if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(params.secret_token))) throw badRequest('secret token contains unallowed characters');
      webhookState.webhook = { url, secretToken: params.secret_token };
      if (poller) {
        reply(poller.res, { ok: false, error_code: 409, description: 'Conflict: terminated by setWebhook request' });
        clearTimeout(poller.timer);
        poller = undefined;
      }
      return true;
    },
    deleteWebhook: (params) => {
      delete webhookState.webhook;
      if (params.drop_pending_updates) pending = [];
      return true;
    },
    getWebhookInfo: () => ({ url: webhookState.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: pending.length }),
    setMyCommands: (params) => {
      const list = typeof params.commands === 'string' ? JSON.parse(params.commands) : params.commands;
      if (!Array.isArray(list) || list.length > 100) throw badRequest('too many commands');
      for (const c of list) {
        if (!/^[a-z0-9_]{1,32}$/.test(String(c.command))) throw badRequest('BOT_COMMAND_INVALID');
        if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
      }
      commandMenus.set(JSON.stringify(params.scope ?? { type: 'default' }) + (params.language_code ?? ''), list);
      return true;
    },
    deleteMyCommands: (params) => {
      commandMenus.delete(JSON.stringify(params.scope ?? { type: 'default' }) + (params.language_code ?? ''));
      return true;
    },
    getMyCommands: (params) => commandMenus.get(JSON.stringify(params.scope ?? { type: 'default' }) + (params.language_code ?? '')) ?? [],
    sendChatAction: (params) => {
      writableChat(params);
      return true;
    },
    sendMessage: (params) => {
      const target = writableChat(params);
      const { text, html } = parsedText(params.text, params.parse_mode, 4096, 'text');
      const replyMarkup = markupOf(params.reply_markup);
      const message = store(target, { text, html, replyMarkup, threadId: threadFor(target, params), replyTo: replyTarget(target, params) });
      return apiMessage(message);
    },
    sendPhoto: (params) => {
      const target = writableChat(params);
      if (typeof params.photo !== 'string' || !params.photo) throw badRequest('there is no photo in the request');
      const { text, html } = parsedText(params.caption, params.caption === undefined ? undefined : params.parse_mode, 1024, 'caption');
      const message = store(target, { text, html, photo: params.photo, replyMarkup: markupOf(params.reply_markup), threadId: threadFor(target, params), replyTo: replyTarget(target, params) });
      return apiMessage(message);
    },
    editMessageText: (params) => {
      const message = botMessage(params);
      if (message.photo) throw badRequest('there is no text in the message to edit');
      const { text, html } = parsedText(params.text, params.parse_mode, 4096, 'text');
      const replyMarkup = markupOf(params.reply_markup);
      if (text === message.text && html === message.html && sameMarkup(replyMarkup, message.replyMarkup)) {
        throw badRequest('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
      }
      message.history.push(message.text);
      Object.assign(message, { text, html, replyMarkup });
      return apiMessage(message);
    },
    editMessageReplyMarkup: (params) => {
      const message = botMessage(params);
      const replyMarkup = markupOf(params.reply_markup);
      if (sameMarkup(replyMarkup, message.replyMarkup)) {
        throw badRequest('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
      }
      message.replyMarkup = replyMarkup;
      return apiMessage(message);
    },
    deleteMessage: (params) => {
      const target = writableChat(params);
      const message = messages.get(key(target.id, Number(params.message_id)));
      if (!message || message.deleted) throw badRequest('message to delete not found');
      if (target.type !== 'private' && !message.fromBot && !target.botIsAdmin) throw badRequest("message can't be deleted");
      message.deleted = true;
      return true;
    },
    getChatMember: (params) => {
      const target = chats.get(Number(params.chat_id));
      if (!target) throw badRequest('chat not found');
      const userId = Number(params.user_id);
      const person = chats.get(userId)?.user;
      if (!person) throw badRequest('user not found');
      if (target.type === 'private') return { status: 'member', user: person };
      if (target.creator === userId) return { status: 'creator', user: person, is_anonymous: false };
      if (target.admins.has(userId)) {
        return {
          status: 'administrator', user: person, can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true, can_manage_video_chats: true,
          can_restrict_members: true, can_promote_members: false, can_change_info: true, can_invite_users: true, can_post_stories: false, can_edit_stories: false, can_delete_stories: false,
        };
      }
      return { status: target.members.has(userId) ? 'member' : 'left', user: person };
    },
    answerCallbackQuery: (params) => {
      const id = String(params.callback_query_id);
      const callback = callbacks.get(id);
      if (!callback || callback.answered) throw badRequest('query is too old and response timeout expired or query ID is invalid');
      callback.answered = true;
      answers.set(id, { text: params.text, show_alert: params.show_alert });
      return true;
    },
  };

  // ---- faults and limits -------------------------------------------------------------------

  function faultFor(method: string, params: Record<string, any>): ApiError | undefined {
    const chatId = params.chat_id === undefined ? undefined : Number(params.chat_id);
    if (RATE_LIMITED.has(method) && Date.now() < floodUntil) {
      counts.injected429++;
      return new ApiError(429, `Too Many Requests: retry after ${floodRetryAfter}`, { retry_after: floodRetryAfter });
    }
    const index = faults.findIndex((f) => (f.method ? f.method === method : RATE_LIMITED.has(method)) && (f.chatId === undefined || f.chatId === chatId));
    if (index < 0) return undefined;
    const fault = faults[index]!;
    if (--fault.remaining <= 0) faults.splice(index, 1);
    if (fault.errorCode === 429) {
      counts.injected429++;
      const after = fault.retryAfter ?? 1;
      return new ApiError(429, fault.description ?? `Too Many Requests: retry after ${after}`, { retry_after: after });
    }
    return new ApiError(fault.errorCode, fault.description ?? (fault.errorCode >= 500 ? 'Internal Server Error' : 'Bad Request: injected'));
  }

  function limitFor(method: string, params: Record<string, any>, now: number): { error?: ApiError; commit?: () => void } {
    if (!limits || !RATE_LIMITED.has(method)) return {};
    const chatId = Number(params.chat_id);
    const target = chats.get(chatId);
    const windows: Arrivals[] = [];
    if (limits.global) windows.push(limits.global);
    if (limits.rules.perChat) {
      if (!limits.chats.has(chatId)) limits.chats.set(chatId, new Arrivals(limits.rules.perChat));
      windows.push(limits.chats.get(chatId)!);
    }
    if (limits.rules.perGroup && target && target.type !== 'private') {
      if (!limits.groups.has(chatId)) limits.groups.set(chatId, new Arrivals(limits.rules.perGroup));
      windows.push(limits.groups.get(chatId)!);
    }
    const wait = Math.max(0, ...windows.map((w) => w.wait(now)));
    if (wait > 0) {
      counts.enforced429++;
      const after = Math.max(1, Math.ceil(wait / 1000));
      return { error: new ApiError(429, `Too Many Requests: retry after ${after}`, { retry_after: after }) };
    }
    return { commit: () => windows.forEach((w) => w.add(now)) };
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  function reply(res: ServerResponse, body: ApiResult): void {
    if (res.writableEnded || res.destroyed) return;
    const status = body.ok ? 200 : body.error_code;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, any>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const params: Record<string, any> = Object.fromEntries(url.searchParams);
    const type = req.headers['content-type'] ?? '';
    if (!raw) return params;
    if (type.includes('application/json')) return { ...params, ...JSON.parse(raw) };
    if (type.includes('application/x-www-form-urlencoded')) return { ...params, ...Object.fromEntries(new URLSearchParams(raw)) };
    throw badRequest('unsupported content type in the stand-in');
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!match) return reply(res, { ok: false, error_code: 404, description: 'Not Found' });
    const [, requestToken, method] = match;
    if (requestToken !== token) return reply(res, { ok: false, error_code: 401, description: 'Unauthorized' });
    let params: Record<string, any> = {};
    const call: ApiCall = { method: method!, params, at: Date.now(), ok: false };
    try {
      params = await readParams(req, url);
      call.params = params;
      call.at = Date.now();
      if (method === 'getUpdates') return getUpdates(res, params, call);
      const handler = methods[method!];
      if (!handler) throw new ApiError(404, 'Not Found');
      const fault = faultFor(method!, params);
      if (fault) throw Object.assign(fault, { injected: true });
      const limit = limitFor(method!, params, call.at);
      if (limit.error) throw Object.assign(limit.error, { enforced: true });
      const result = handler(params);
      limit.commit?.();
      call.ok = true;
      calls.push(call);
      reply(res, { ok: true, result });
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(400, `Bad Request: ${error instanceof Error ? error.message : String(error)}`);
      Object.assign(call, { errorCode: apiError.code, description: apiError.description });
      if (apiError.code === 429) Object.assign(call, { injected: (error as { injected?: boolean }).injected, enforced: (error as { enforced?: boolean }).enforced });
      calls.push(call);
      reply(res, { ok: false, error_code: apiError.code, description: apiError.description, ...(apiError.parameters ? { parameters: apiError.parameters } : {}) });
    } finally {
      events.emit('call');
    }
  });

  function getUpdates(res: ServerResponse, params: Record<string, any>, call: ApiCall): void {
    call.ok = true;
    calls.push(call);
    if (webhookState.webhook) {
      call.ok = false;
      return reply(res, { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
    }
    if (poller) {
      reply(poller.res, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
      clearTimeout(poller.timer);
      poller = undefined;
    }
    const batch = selectUpdates(params);
    const timeout = Math.min(50, Math.max(0, Number(params.timeout ?? 0)));
    if (batch.length || timeout === 0) return reply(res, { ok: true, result: batch });
    const timer = setTimeout(() => {
      if (poller?.res === res) poller = undefined;
      reply(res, { ok: true, result: [] });
    }, timeout * 1000);
    poller = { res, params, timer };
    // The client gave up (telegraf aborts its poll on stop): forget it.
    res.on('close', () => {
      if (poller?.res === res) {
        clearTimeout(poller.timer);
        poller = undefined;
      }
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const standin: TelegramStandin = {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    botUser,
    calls,
    answers,
    counts,
    get webhook() {
      return webhookState.webhook;
    },
    webhookTarget: undefined,
    user,
    group,
    channel,
    post,
    chat,
    send,
    press,
    redeliver,
    membership,
    botMessages: (chatId) => [...messages.values()].filter((m) => m.chatId === chatId && m.fromBot).sort((a, b) => a.messageId - b.messageId),
    message: (chatId, messageId) => messages.get(key(chatId, messageId)),
    commands: (scope) => commandMenus.get(JSON.stringify(scope ?? { type: 'default' })),
    inject: (fault) => void faults.push({ ...fault, remaining: fault.count ?? 1 }),
    flood: (ms, retryAfter) => {
      floodUntil = Date.now() + ms;
      floodRetryAfter = retryAfter;
    },
    setLimits,
    waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 4000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const value = probe();
          if (value) {
            cleanup();
            resolve(value);
          }
        };
        const interval = setInterval(check, 20);
        const timer = setTimeout(() => {
          cleanup();
          const recent = calls.slice(-8).map((c) => `${c.method} ${c.ok ? 'ok' : `${c.errorCode} ${c.description}`}`).join('\n  ');
          reject(new Error(`stand-in: waited ${timeoutMs} ms in vain. Last calls:\n  ${recent}`));
        }, timeoutMs);
        const cleanup = () => {
          clearInterval(interval);
          clearTimeout(timer);
          events.off('call', check);
        };
        events.on('call', check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (poller) {
          clearTimeout(poller.timer);
          reply(poller.res, { ok: true, result: [] });
          poller = undefined;
        }
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return standin;
}
