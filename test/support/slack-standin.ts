/**
 * A loopback stand-in for Slack, so the real @slack/web-api WebClient and a real Bolt app run in
 * tests over real HTTP. Two sides:
 *
 *  - Slack's side, served by the stand-in:
 *      `POST <url>/api/<method>` — the Web API (point WebClient's `slackApiUrl` at `<url>/api/`).
 *        Form-encoded or JSON bodies; the token from `Authorization: Bearer` (or a `token` field);
 *        answers `{ok: true, ...}` in Slack's shapes, or HTTP 200 `{ok: false, error}`; an injected
 *        rate limit answers HTTP 429 with `Retry-After` (seconds) and `{ok: false, error: 'ratelimited'}`.
 *        Methods: auth.test, chat.postMessage, chat.postEphemeral, chat.update, chat.delete,
 *        conversations.open, views.publish, users.info (is_admin / is_owner / is_primary_owner per
 *        user). chat.postMessage answers is_archived, not_in_channel or channel_not_found for an
 *        archived channel, one the bot was removed from, or a deleted one; `fail` answers HTTP 5xx.
 *        Blocks are validated against Slack's limits
 *        (`invalid_blocks` with `errors` and `response_metadata.messages`), text against 40,000.
 *      `POST <url>/response/<id>` — the response_url of one slash command or block action.
 *
 *  - the users' side, driven by tests: signed requests to the bot's request URL
 *    (`slashCommand`, `blockAction`, `event`, `urlVerification`; the membership events
 *    `removeBot`, `addBot`, `archive`, `unarchive`, `removeChannel`), exactly as Slack sends them
 *    (v0 signature over `v0:<timestamp>:<raw body>`), with switches to sign badly, leave the
 *    signature out, send an old timestamp or mark a retry.
 *
 * Readers show what users would see: a channel as one user sees it (ephemeral messages only for
 * their user), a user's DM with the bot, the response_url posts of an invocation, a user's App Home.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';

export const STANDIN_BOT_TOKEN = 'xoxb-1000000001-2000000002-StandInBotTokenForTests';
export const STANDIN_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

// ---- Slack's limits ----------------------------------------------------------------------------

export const SLACK_LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  messageText: 40_000,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  actionsElements: 25,
  contextElements: 10,
  buttonText: 75,
  actionId: 255,
  blockId: 255,
  buttonValue: 2000,
  buttonUrl: 3000,
  /** Slack refuses requests whose timestamp is more than 5 minutes from now. */
  signatureMaxAgeSeconds: 300,
  /** A response_url may be used up to 5 times within 30 minutes. */
  responseUrlUses: 5,
} as const;

// ---- types ---------------------------------------------------------------------------------------

export interface SlackUser {
  id: string;
  name: string;
  realName: string;
  email?: string;
  tz?: string;
  isBot?: boolean;
  /** Workspace admin / owner / primary owner, as users.info reports them. */
  isAdmin?: boolean;
  isOwner?: boolean;
  isPrimaryOwner?: boolean;
}

export interface SlackChannel {
  id: string;
  name: string;
  /** 'im' for a DM with the bot. */
  kind: 'channel' | 'im';
  /** For a DM: the user. */
  user?: string;
  /** chat.postMessage answers is_archived. */
  archived?: boolean;
  /** The bot was removed from the channel: chat.postMessage answers not_in_channel. */
  botRemoved?: boolean;
  /** A private channel: its membership events are group_left, group_archive, group_unarchive. */
  isPrivate?: boolean;
}

export type Block = Record<string, any>;

/** A message as the channel shows it now (after edits). */
export interface SlackMessage {
  channel: string;
  ts: string;
  /** Who wrote it: the bot user id for the bot's messages. */
  user: string;
  fromBot: boolean;
  text: string;
  blocks?: Block[];
  threadTs?: string;
  /** Only this user sees it (chat.postEphemeral, or an ephemeral response_url / ack answer). */
  ephemeralTo?: string;
  /** How it was made. */
  via: 'chat.postMessage' | 'chat.postEphemeral' | 'response_url' | 'ack';
  /** The invocation (slash command or block action) whose response_url / ack made it. */
  invocation?: string;
  /** Earlier texts, oldest first. */
  history: string[];
  deleted: boolean;
}

export interface ApiCall {
  method: string;
  params: Record<string, any>;
  /** The token the call carried (Authorization header or `token` field). */
  token?: string;
  contentType?: string;
  status: number;
  ok: boolean;
  error?: string;
  /** Answered with an injected 429. */
  rateLimited?: boolean;
  at: number;
}

export interface ResponsePost {
  /** The JSON the bot POSTed. */
  body: Record<string, any>;
  status: number;
  ok: boolean;
  error?: string;
  at: number;
}

export interface Invocation {
  id: string;
  kind: 'slash_command' | 'block_actions';
  user: string;
  channel: string;
  command?: string;
  text?: string;
  actionId?: string;
  /** For a block action: the message whose button was pressed. */
  messageTs?: string;
  responseUrl: string;
  triggerId: string;
  /** The immediate HTTP answer of the bot. */
  ack?: { status: number; body: string };
  /** Everything POSTed to the response_url, in order. */
  responses: ResponsePost[];
}

export interface HomeView {
  id: string;
  user: string;
  view: Record<string, any>;
  hash: string;
  publishedAt: number;
}

export interface SignOptions {
  /** 'bad' signs with the wrong secret, 'none' omits both signature headers. Default 'good'. */
  signature?: 'good' | 'bad' | 'none';
  /** Seconds added to the request timestamp (e.g. -600 for a request 10 minutes old). */
  timestampOffset?: number;
  /** Mark the request as Slack's retry: X-Slack-Retry-Num / X-Slack-Retry-Reason. */
  retry?: { num: number; reason?: string };
}

export interface DeliveryResult {
  status: number;
  /** The raw body of the bot's answer. */
  raw: string;
  /** The body as JSON when it is JSON, else the raw text ('' for an empty ack). */
  body: any;
  headers: Record<string, string>;
}

export interface InvocationResult extends DeliveryResult {
  invocation: Invocation;
}

export interface EventResult extends DeliveryResult {
  eventId: string;
  envelope: Record<string, any>;
}

export interface SlackStandinOptions {
  botToken?: string;
  signingSecret?: string;
  /** The bot's request URL (e.g. http://127.0.0.1:P/slack/events); can be set later. */
  requestUrl?: string;
  teamId?: string;
  teamDomain?: string;
  /** Set to make the workspace part of an Enterprise Grid org. */
  enterpriseId?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  /** The clock (ms) for message timestamps and request signatures; Date.now by default. */
  now?: () => number;
}

export interface SlackButton {
  text: string;
  actionId: string;
  blockId?: string;
  value?: string;
  url?: string;
  style?: string;
}

export interface SlackStandin {
  /** Base URL, e.g. http://127.0.0.1:P */
  url: string;
  /** For WebClient's `slackApiUrl`: `<url>/api/`. */
  apiUrl: string;
  botToken: string;
  signingSecret: string;
  teamId: string;
  enterpriseId?: string;
  appId: string;
  botUserId: string;
  botId: string;
  /** Where user-side requests are POSTed. */
  requestUrl?: string;
  calls: ApiCall[];
  invocations: Map<string, Invocation>;

  /** Adds (or replaces) a workspace member. */
  user(id: string, name?: string, extra?: Partial<Omit<SlackUser, 'id' | 'name'>>): SlackUser;
  /** Adds a public channel (slashCommand adds the channel it names when unknown). */
  channel(id: string, name?: string): SlackChannel;
  /** The DM channel between the bot and a user (created as conversations.open would). */
  dmChannel(user: string): string;

  /** The next `count` calls of `method` (or of any method with '*') answer 429 with Retry-After. */
  rateLimit(method: string, options?: { count?: number; retryAfter?: number }): void;
  /** The next `count` calls of `method` fail with HTTP `status` (default 500), as Slack's servers sometimes do. */
  fail(method: string, options?: { count?: number; status?: number }): void;
  /** Deletes a channel: calls naming it then answer channel_not_found. */
  deleteChannel(channel: string): void;
  /** Someone removes the bot from a channel (botRemoved) and Slack tells it: channel_left, or
   *  group_left for a private channel, `{channel, actor_id}`. */
  removeBot(channel: string, actor?: string, options?: SignOptions): Promise<EventResult>;
  /** Someone adds the bot to a channel: member_joined_channel `{user: <bot>, channel, channel_type, team, inviter}`. */
  addBot(channel: string, inviter?: string, options?: SignOptions): Promise<EventResult>;
  /** Someone archives a channel (archived): channel_archive `{channel, user}` (group_archive `{channel}` if private). */
  archive(channel: string, by?: string, options?: SignOptions): Promise<EventResult>;
  /** Someone unarchives it: channel_unarchive `{channel, user}` (group_unarchive `{channel}` if private). */
  unarchive(channel: string, by?: string, options?: SignOptions): Promise<EventResult>;
  /** Deletes a channel (as deleteChannel) and Slack tells the bot: channel_deleted `{channel}`. */
  removeChannel(channel: string, options?: SignOptions): Promise<EventResult>;

  /** Signs a body as Slack does: `v0=` + HMAC-SHA256(secret, `v0:<ts>:<body>`). */
  sign(body: string, timestamp: number, secret?: string): string;
  /** Sends a user's slash command, form-encoded, to the request URL. */
  slashCommand(user: string, channel: string, command: string, text?: string, options?: SignOptions): Promise<InvocationResult>;
  /** The user presses the button `actionId` under `message`. */
  blockAction(user: string, message: SlackMessage, actionId: string, options?: SignOptions): Promise<InvocationResult>;
  /** Sends an Events API envelope; `event('url_verification', {challenge})` sends the handshake. */
  event(type: string, data?: Record<string, any>, options?: SignOptions): Promise<EventResult>;
  /** The URL verification handshake: true when the bot echoes the challenge. */
  urlVerification(challenge?: string, options?: SignOptions): Promise<{ ok: boolean; result: DeliveryResult }>;
  /** Sends app_home_opened for a user's Home tab. */
  openHome(user: string, options?: SignOptions): Promise<EventResult>;

  /** Messages in a channel as `asUser` sees them (their own ephemeral messages included), oldest first. */
  messages(channel: string, asUser?: string): SlackMessage[];
  /** The bot's DM with a user, as the user sees it. */
  dmsOf(user: string): SlackMessage[];
  message(channel: string, ts: string): SlackMessage | undefined;
  /** What the bot POSTed to an invocation's response_url. */
  responsesOf(invocation: string | Invocation): ResponsePost[];
  /** The App Home view published for a user. */
  homeOf(user: string): HomeView | undefined;
  callsTo(method: string): ApiCall[];
  /** Resolves with the first truthy value of `probe`, checked after every call, post or delivery. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

// ---- block validation -------------------------------------------------------------------------

const BLOCK_TYPES = new Set(['section', 'header', 'actions', 'context', 'divider', 'image', 'input', 'rich_text', 'markdown', 'video', 'file', 'context_actions']);
const INTERACTIVE = new Set(['button', 'static_select', 'external_select', 'users_select', 'conversations_select', 'channels_select', 'overflow', 'datepicker', 'timepicker', 'datetimepicker', 'checkboxes', 'radio_buttons', 'multi_static_select', 'multi_users_select', 'multi_conversations_select', 'multi_channels_select', 'multi_external_select', 'plain_text_input', 'image', 'workflow_button', 'rich_text_input', 'email_text_input', 'url_text_input', 'number_text_input']);

/** Validates Block Kit blocks like Slack does for a message (or a view); returns Slack-style error strings. */
export function validateBlocks(blocks: unknown, max: number = SLACK_LIMITS.messageBlocks): string[] {
  const errors: string[] = [];
  const err = (message: string, pointer: string) => errors.push(`${message} [json-pointer:${pointer}]`);
  if (!Array.isArray(blocks)) {
    err('must be an array', '/blocks');
    return errors;
  }
  if (blocks.length > max) err(`no more than ${max} items allowed`, '/blocks');
  const blockIds = new Set<string>();
  const text = (obj: any, pointer: string, limit: number, plainOnly = false) => {
    if (!obj || typeof obj !== 'object') return err('must provide an object', pointer);
    if (obj.type !== 'plain_text' && obj.type !== 'mrkdwn') return err('must be a valid enum value', `${pointer}/type`);
    if (plainOnly && obj.type !== 'plain_text') return err('must be a valid enum value', `${pointer}/type`);
    if (typeof obj.text !== 'string' || obj.text.length < 1) return err('must be more than 0 characters', `${pointer}/text`);
    if (obj.text.length > limit) err(`must be less than ${limit + 1} characters`, `${pointer}/text`);
  };
  const element = (el: any, pointer: string) => {
    if (!el || typeof el !== 'object' || !INTERACTIVE.has(el.type)) return err('must be a valid enum value', `${pointer}/type`);
    if (el.action_id !== undefined && (typeof el.action_id !== 'string' || el.action_id.length > SLACK_LIMITS.actionId)) err(`must be less than ${SLACK_LIMITS.actionId + 1} characters`, `${pointer}/action_id`);
    if (el.type === 'button') {
      text(el.text, `${pointer}/text`, SLACK_LIMITS.buttonText, true);
      if (el.value !== undefined && (typeof el.value !== 'string' || el.value.length > SLACK_LIMITS.buttonValue)) err(`must be less than ${SLACK_LIMITS.buttonValue + 1} characters`, `${pointer}/value`);
      if (el.url !== undefined && (typeof el.url !== 'string' || el.url.length > SLACK_LIMITS.buttonUrl)) err(`must be less than ${SLACK_LIMITS.buttonUrl + 1} characters`, `${pointer}/url`);
      if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') err('must be a valid enum value', `${pointer}/style`);
    }
  };
  blocks.forEach((block: any, i) => {
    const p = `/blocks/${i}`;
    if (!block || typeof block !== 'object' || !BLOCK_TYPES.has(block.type)) return err('must be a valid enum value', `${p}/type`);
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== 'string' || block.block_id.length > SLACK_LIMITS.blockId) err(`must be less than ${SLACK_LIMITS.blockId + 1} characters`, `${p}/block_id`);
      else if (blockIds.has(block.block_id)) err('duplicate block_id', `${p}/block_id`);
      else blockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'section': {
        if (block.text === undefined && block.fields === undefined) return err('must contain either text or fields', p);
        if (block.text !== undefined) text(block.text, `${p}/text`, SLACK_LIMITS.sectionText);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > SLACK_LIMITS.sectionFields) err(`no more than ${SLACK_LIMITS.sectionFields} items allowed`, `${p}/fields`);
          else block.fields.forEach((f: any, j: number) => text(f, `${p}/fields/${j}`, SLACK_LIMITS.sectionFieldText));
        }
        if (block.accessory !== undefined) element(block.accessory, `${p}/accessory`);
        break;
      }
      case 'header':
        text(block.text, `${p}/text`, SLACK_LIMITS.headerText, true);
        break;
      case 'actions': {
        if (!Array.isArray(block.elements) || block.elements.length < 1) return err('must provide at least 1 items', `${p}/elements`);
        if (block.elements.length > SLACK_LIMITS.actionsElements) err(`no more than ${SLACK_LIMITS.actionsElements} items allowed`, `${p}/elements`);
        const ids = new Set<string>();
        block.elements.forEach((el: any, j: number) => {
          element(el, `${p}/elements/${j}`);
          if (typeof el?.action_id === 'string') {
            if (ids.has(el.action_id)) err('duplicate action_id', `${p}/elements/${j}/action_id`);
            ids.add(el.action_id);
          }
        });
        break;
      }
      case 'context': {
        if (!Array.isArray(block.elements) || block.elements.length < 1) return err('must provide at least 1 items', `${p}/elements`);
        if (block.elements.length > SLACK_LIMITS.contextElements) err(`no more than ${SLACK_LIMITS.contextElements} items allowed`, `${p}/elements`);
        block.elements.forEach((el: any, j: number) => {
          if (el?.type === 'image') return;
          text(el, `${p}/elements/${j}`, SLACK_LIMITS.sectionText);
        });
        break;
      }
      case 'image':
        if (typeof block.image_url !== 'string' && !block.slack_file) err('must provide image_url or slack_file', p);
        if (typeof block.alt_text !== 'string') err('must provide a string', `${p}/alt_text`);
        break;
      default:
        break;
    }
  });
  return errors;
}

// ---- reading messages -------------------------------------------------------------------------

const flattenText = (obj: any): string => (obj && typeof obj.text === 'string' ? obj.text : '');

function richText(elements: any[]): string {
  return (elements ?? [])
    .map((el: any) => {
      if (Array.isArray(el?.elements)) return richText(el.elements);
      if (el?.type === 'text') return el.text;
      if (el?.type === 'link') return el.text ?? el.url;
      if (el?.type === 'user') return `<@${el.user_id}>`;
      if (el?.type === 'emoji') return `:${el.name}:`;
      return '';
    })
    .join('');
}

/** The text of a message as a reader would see it: its blocks flattened, one line per block (the `text` field when there are no blocks). */
export function textOf(message: Pick<SlackMessage, 'text' | 'blocks'> | { text?: string; blocks?: Block[] }): string {
  const blocks = message.blocks;
  if (!blocks || !blocks.length) return message.text ?? '';
  const lines: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'section': {
        const parts = [flattenText(b.text), ...((b.fields ?? []) as any[]).map(flattenText)].filter(Boolean);
        if (b.accessory?.type === 'button') parts.push(`[${flattenText(b.accessory.text)}]`);
        lines.push(parts.join('\n'));
        break;
      }
      case 'header':
        lines.push(flattenText(b.text));
        break;
      case 'context':
        lines.push(((b.elements ?? []) as any[]).map((e) => (e.type === 'image' ? e.alt_text ?? '' : flattenText(e))).filter(Boolean).join(' '));
        break;
      case 'actions':
        lines.push(((b.elements ?? []) as any[]).map((e) => `[${flattenText(e.text) || e.action_id}]`).join(' '));
        break;
      case 'divider':
        lines.push('---');
        break;
      case 'markdown':
        lines.push(b.text ?? '');
        break;
      case 'rich_text':
        lines.push(richText(b.elements));
        break;
      case 'image':
        lines.push(b.alt_text ?? '');
        break;
      default:
        break;
    }
  }
  return lines.join('\n');
}

/** The buttons of a message (section accessories and actions blocks), in order. */
export function buttons(message: { blocks?: Block[] }): SlackButton[] {
  const out: SlackButton[] = [];
  const add = (el: any, blockId?: string) => {
    if (el?.type !== 'button') return;
    out.push({ text: flattenText(el.text), actionId: el.action_id, blockId, value: el.value, url: el.url, style: el.style });
  };
  for (const b of message.blocks ?? []) {
    if (b.type === 'actions') for (const el of b.elements ?? []) add(el, b.block_id);
    if (b.type === 'section' && b.accessory) add(b.accessory, b.block_id);
  }
  return out;
}

// ---- the server -------------------------------------------------------------------------------

class SlackApiError extends Error {
  constructor(readonly error: string, readonly extra: Record<string, unknown> = {}) {
    super(error);
  }
}

const parseJsonField = (value: unknown, field: string): any => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new SlackApiError(field === 'blocks' ? 'invalid_blocks_format' : `invalid_arguments`);
  }
};

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

export async function startSlackStandin(options: SlackStandinOptions = {}): Promise<SlackStandin> {
  const now = options.now ?? Date.now;
  const botToken = options.botToken ?? STANDIN_BOT_TOKEN;
  const signingSecret = options.signingSecret ?? STANDIN_SIGNING_SECRET;
  const teamId = options.teamId ?? 'T0STANDIN';
  const teamDomain = options.teamDomain ?? 'cryptopulse-test';
  const enterpriseId = options.enterpriseId;
  const appId = options.appId ?? 'A0STANDIN';
  const botUserId = options.botUserId ?? 'U0BOTUSER';
  const botId = options.botId ?? 'B0STANDIN';

  const events = new EventEmitter();
  events.setMaxListeners(1000);
  const changed = () => events.emit('change');

  const users = new Map<string, SlackUser>();
  const channels = new Map<string, SlackChannel>();
  const dms = new Map<string, string>();
  const messages = new Map<string, SlackMessage[]>();
  const homes = new Map<string, HomeView>();
  const calls: ApiCall[] = [];
  const invocations = new Map<string, Invocation>();
  const limits: Array<{ method: string; remaining: number; retryAfter: number }> = [];
  const failures: Array<{ method: string; remaining: number; status: number }> = [];
  let seq = 0;
  let lastTs = '';
  let nextId = 1;

  users.set(botUserId, { id: botUserId, name: 'cryptopulse', realName: 'CryptoPulse', isBot: true });

  const id = (prefix: string, width = 9) => `${prefix}${String(nextId++).padStart(width, '0')}`;
  /** Slack message timestamps: seconds, a dot, six digits; unique and increasing. */
  const newTs = () => {
    const seconds = Math.floor(now() / 1000);
    let ts = `${seconds}.${String(++seq % 1_000_000).padStart(6, '0')}`;
    while (ts <= lastTs) ts = `${seconds}.${String(++seq % 1_000_000).padStart(6, '0')}`;
    lastTs = ts;
    return ts;
  };

  function user(uid: string, name?: string, extra: Partial<Omit<SlackUser, 'id' | 'name'>> = {}): SlackUser {
    const u: SlackUser = { id: uid, name: name ?? uid.toLowerCase(), realName: extra.realName ?? name ?? uid, tz: 'Europe/London', ...extra };
    users.set(uid, u);
    return u;
  }
  function channel(cid: string, name?: string): SlackChannel {
    const c: SlackChannel = { id: cid, name: name ?? cid.toLowerCase(), kind: 'channel' };
    channels.set(cid, c);
    return c;
  }
  function dmChannel(uid: string): string {
    let cid = dms.get(uid);
    if (!cid) {
      cid = id('D', 10);
      dms.set(uid, cid);
      channels.set(cid, { id: cid, name: uid, kind: 'im', user: uid });
    }
    return cid;
  }
  const knownUser = (uid: string) => {
    if (!users.has(uid)) user(uid);
    return users.get(uid)!;
  };
  const knownChannel = (cid: string) => {
    if (!channels.has(cid)) channel(cid);
    return channels.get(cid)!;
  };
  const channelMessages = (cid: string) => {
    let list = messages.get(cid);
    if (!list) messages.set(cid, (list = []));
    return list;
  };
  const findMessage = (cid: string, ts: string) => messages.get(cid)?.find((m) => m.ts === ts);

  const apiMessage = (m: SlackMessage) => ({
    type: 'message',
    ...(m.fromBot ? { bot_id: botId, app_id: appId } : {}),
    user: m.user,
    text: m.text,
    ts: m.ts,
    team: teamId,
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(m.fromBot ? { bot_profile: { id: botId, app_id: appId, name: 'CryptoPulse', team_id: teamId, deleted: false } } : {}),
  });

  /** text, blocks: checks like chat.postMessage does; returns normalised content. */
  function content(params: Record<string, any>, required = true): { text: string; blocks?: Block[] } {
    const blocks = params.blocks === undefined || params.blocks === '' ? undefined : parseJsonField(params.blocks, 'blocks');
    const text = params.text === undefined ? '' : String(params.text);
    if (blocks !== undefined) {
      const errors = validateBlocks(blocks);
      if (errors.length) throw new SlackApiError('invalid_blocks', { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
    }
    if (required && !text && !(Array.isArray(blocks) && blocks.length) && !params.attachments) throw new SlackApiError('no_text');
    if (text.length > SLACK_LIMITS.messageText) throw new SlackApiError('msg_too_long');
    return { text, blocks };
  }

  const channelParam = (params: Record<string, any>): SlackChannel => {
    const cid = params.channel;
    if (!cid) throw new SlackApiError('channel_not_found');
    const c = channels.get(String(cid));
    if (!c) throw new SlackApiError('channel_not_found');
    return c;
  };

  // ---- Web API methods ----

  const methods: Record<string, (params: Record<string, any>) => Record<string, unknown>> = {
    'auth.test': () => ({
      url: `https://${teamDomain}.slack.com/`,
      team: 'CryptoPulse Test',
      user: 'cryptopulse',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      ...(enterpriseId ? { enterprise_id: enterpriseId } : {}),
      is_enterprise_install: false,
    }),
    'chat.postMessage': (params) => {
      const c = channelParam(params);
      if (c.archived) throw new SlackApiError('is_archived');
      if (c.botRemoved) throw new SlackApiError('not_in_channel');
      const { text, blocks } = content(params);
      const m: SlackMessage = { channel: c.id, ts: newTs(), user: botUserId, fromBot: true, text, blocks, threadTs: params.thread_ts || undefined, via: 'chat.postMessage', history: [], deleted: false };
      channelMessages(c.id).push(m);
      return { channel: c.id, ts: m.ts, message: apiMessage(m) };
    },
    'chat.postEphemeral': (params) => {
      const c = channelParam(params);
      if (!params.user || !users.has(String(params.user))) throw new SlackApiError('user_not_found');
      if (c.kind === 'im' && c.user !== String(params.user)) throw new SlackApiError('user_not_in_channel');
      const { text, blocks } = content(params);
      const m: SlackMessage = { channel: c.id, ts: newTs(), user: botUserId, fromBot: true, text, blocks, threadTs: params.thread_ts || undefined, ephemeralTo: String(params.user), via: 'chat.postEphemeral', history: [], deleted: false };
      channelMessages(c.id).push(m);
      return { message_ts: m.ts };
    },
    'chat.update': (params) => {
      const c = channelParam(params);
      const m = findMessage(c.id, String(params.ts ?? ''));
      if (!m || m.deleted || m.ephemeralTo) throw new SlackApiError('message_not_found');
      if (!m.fromBot) throw new SlackApiError('cant_update_message');
      const next = content(params, params.blocks === undefined);
      m.history.push(m.text);
      if (params.text !== undefined) m.text = next.text;
      if (params.blocks !== undefined) m.blocks = next.blocks;
      return { channel: c.id, ts: m.ts, text: m.text, message: apiMessage(m) };
    },
    'chat.delete': (params) => {
      const c = channelParam(params);
      const m = findMessage(c.id, String(params.ts ?? ''));
      if (!m || m.deleted || m.ephemeralTo) throw new SlackApiError('message_not_found');
      if (!m.fromBot) throw new SlackApiError('cant_delete_message');
      m.deleted = true;
      return { channel: c.id, ts: m.ts };
    },
    'conversations.open': (params) => {
      if (params.channel) {
        const c = channelParam(params);
        return { channel: { id: c.id }, no_op: true, already_open: true };
      }
      const list = String(params.users ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (!list.length) throw new SlackApiError('users_list_not_supplied');
      if (list.length > 8) throw new SlackApiError('too_many_users');
      for (const u of list) if (!users.has(u)) throw new SlackApiError('user_not_found');
      if (list.length > 1) throw new SlackApiError('not_supported_by_standin', { detail: 'multi-person DMs are not modelled' });
      const existed = dms.has(list[0]!);
      const cid = dmChannel(list[0]!);
      const extra = existed ? { no_op: true, already_open: true } : {};
      const wantFull = params.return_im === true || params.return_im === 'true' || params.return_im === '1';
      return { ...extra, channel: wantFull ? { id: cid, is_im: true, user: list[0], created: Math.floor(now() / 1000), is_open: true } : { id: cid } };
    },
    'views.publish': (params) => {
      const uid = String(params.user_id ?? '');
      if (!users.has(uid)) throw new SlackApiError('user_not_found');
      const view = parseJsonField(params.view, 'view');
      if (!view || typeof view !== 'object' || view.type !== 'home') throw new SlackApiError('invalid_arguments', { response_metadata: { messages: ['[ERROR] must be a valid enum value [json-pointer:/view/type]'] } });
      const errors = validateBlocks(view.blocks ?? [], SLACK_LIMITS.viewBlocks).map((e) => e.replace('[json-pointer:/blocks', '[json-pointer:/view/blocks'));
      if (errors.length) throw new SlackApiError('invalid_arguments', { response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
      const current = homes.get(uid);
      if (params.hash !== undefined && params.hash !== '' && current && params.hash !== current.hash) throw new SlackApiError('hash_conflict');
      const home: HomeView = { id: current?.id ?? id('V', 10), user: uid, view, hash: `${Math.floor(now() / 1000)}.${id('h', 8)}`, publishedAt: now() };
      homes.set(uid, home);
      return {
        view: {
          id: home.id, team_id: teamId, type: 'home', blocks: view.blocks ?? [], private_metadata: view.private_metadata ?? '', callback_id: view.callback_id ?? '',
          external_id: view.external_id ?? '', state: { values: {} }, hash: home.hash, title: { type: 'plain_text', text: 'View Title' }, close: null, submit: null,
          previous_view_id: null, root_view_id: home.id, app_id: appId, app_installed_team_id: teamId, bot_id: botId,
        },
      };
    },
    'users.info': (params) => {
      const u = users.get(String(params.user ?? ''));
      if (!u) throw new SlackApiError('user_not_found');
      return {
        user: {
          id: u.id, team_id: teamId, name: u.name, deleted: false, real_name: u.realName, tz: u.tz ?? 'Europe/London', is_bot: !!u.isBot, is_app_user: false,
          is_admin: !!(u.isAdmin || u.isOwner || u.isPrimaryOwner), is_owner: !!(u.isOwner || u.isPrimaryOwner), is_primary_owner: !!u.isPrimaryOwner, is_restricted: false, is_ultra_restricted: false,
          ...(enterpriseId ? { enterprise_user: { id: u.id, enterprise_id: enterpriseId, enterprise_name: 'Standin Grid', is_admin: false, is_owner: false, teams: [teamId] } } : {}),
          profile: { real_name: u.realName, display_name: u.name, ...(u.email ? { email: u.email } : {}), team: teamId, ...(u.isBot ? { bot_id: botId } : {}) },
        },
      };
    },
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string, query: URLSearchParams): Promise<void> {
    const raw = await readBody(req);
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    const params: Record<string, any> = Object.fromEntries(query);
    try {
      if (contentType.startsWith('application/json')) Object.assign(params, raw ? JSON.parse(raw) : {});
      else if (raw) Object.assign(params, Object.fromEntries(new URLSearchParams(raw)));
    } catch {
      const call: ApiCall = { method, params: { raw }, contentType, status: 200, ok: false, error: 'invalid_json', at: now() };
      calls.push(call);
      sendJson(res, 200, { ok: false, error: 'invalid_json' });
      changed();
      return;
    }
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : typeof params.token === 'string' ? params.token : undefined;
    delete params.token;
    const call: ApiCall = { method, params, token, contentType, status: 200, ok: false, at: now() };
    calls.push(call);
    try {
      const limit = limits.find((l) => l.remaining > 0 && (l.method === method || l.method === '*'));
      const failure = failures.find((f) => f.remaining > 0 && f.method === method);
      if (failure) {
        failure.remaining--;
        call.status = failure.status;
        call.error = 'server_error';
        res.writeHead(failure.status, { 'content-type': 'text/html' });
        res.end('<html><body>Server error</body></html>');
        return;
      }
      if (limit) {
        limit.remaining--;
        call.status = 429;
        call.error = 'ratelimited';
        call.rateLimited = true;
        sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
        return;
      }
      if (!token) throw new SlackApiError('not_authed');
      if (token !== botToken) throw new SlackApiError('invalid_auth');
      const handler = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : undefined;
      if (!handler) throw new SlackApiError('unknown_method');
      const result = handler(params);
      call.ok = true;
      sendJson(res, 200, { ok: true, ...result, response_metadata: { warnings: [] } });
    } catch (e) {
      const error = e instanceof SlackApiError ? e : new SlackApiError('internal_error', { detail: String(e) });
      call.error = error.error;
      sendJson(res, 200, { ok: false, error: error.error, ...error.extra });
    } finally {
      changed();
    }
  }

  // ---- response_url ----

  function postResponse(inv: Invocation, body: Record<string, any>, via: 'response_url' | 'ack'): void {
    const replace = body.replace_original === true || body.replace_original === 'true';
    const del = body.delete_original === true || body.delete_original === 'true';
    const original = inv.messageTs ? findMessage(inv.channel, inv.messageTs) : undefined;
    if (del) {
      if (!original || original.deleted) throw new SlackApiError('message_not_found');
      original.deleted = true;
      return;
    }
    const { text, blocks } = content(body);
    if (replace) {
      if (!original || original.deleted) throw new SlackApiError('message_not_found');
      original.history.push(original.text);
      original.text = text;
      original.blocks = blocks;
      return;
    }
    const ephemeral = body.response_type !== 'in_channel';
    const m: SlackMessage = {
      channel: inv.channel, ts: newTs(), user: botUserId, fromBot: true, text, blocks, threadTs: body.thread_ts || undefined,
      ephemeralTo: ephemeral ? inv.user : undefined, via, invocation: inv.id, history: [], deleted: false,
    };
    channelMessages(inv.channel).push(m);
  }

  async function handleResponseUrl(req: IncomingMessage, res: ServerResponse, rid: string): Promise<void> {
    const raw = await readBody(req);
    const inv = invocations.get(rid);
    if (!inv) return sendJson(res, 404, { ok: false, error: 'expired_url' });
    const post: ResponsePost = { body: {}, status: 200, ok: false, at: now() };
    try {
      try {
        post.body = JSON.parse(raw);
      } catch {
        post.body = { raw };
        throw new SlackApiError('invalid_payload');
      }
      inv.responses.push(post);
      if (inv.responses.length > SLACK_LIMITS.responseUrlUses) {
        post.status = 404;
        throw new SlackApiError('used_url');
      }
      postResponse(inv, post.body, 'response_url');
      post.ok = true;
      sendJson(res, 200, { ok: true });
    } catch (e) {
      const error = e instanceof SlackApiError ? e : new SlackApiError('internal_error');
      post.error = error.error;
      if (post.status === 200) post.status = 400;
      if (!inv.responses.includes(post)) inv.responses.push(post);
      sendJson(res, post.status, { ok: false, error: error.error, ...error.extra });
    } finally {
      changed();
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const work = async () => {
      if (url.pathname.startsWith('/api/')) return handleApi(req, res, decodeURIComponent(url.pathname.slice(5)), url.searchParams);
      if (req.method === 'POST' && url.pathname.startsWith('/response/')) return handleResponseUrl(req, res, decodeURIComponent(url.pathname.slice(10)));
      sendJson(res, 404, { ok: false, error: 'not_found' });
    };
    work().catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal_error', detail: String(e) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // ---- the users' side ----

  const sign = (body: string, timestamp: number, secret = signingSecret) => `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;

  async function deliver(body: string, contentType: string, o: SignOptions = {}): Promise<DeliveryResult> {
    const target = standin.requestUrl;
    if (!target) throw new Error('slack stand-in: no requestUrl set (options.requestUrl or standin.requestUrl)');
    const timestamp = Math.floor(now() / 1000) + (o.timestampOffset ?? 0);
    const headers: Record<string, string> = { 'content-type': contentType, 'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)' };
    const mode = o.signature ?? 'good';
    if (mode !== 'none') {
      headers['x-slack-request-timestamp'] = String(timestamp);
      headers['x-slack-signature'] = sign(body, timestamp, mode === 'bad' ? `${signingSecret}-wrong` : signingSecret);
    }
    if (o.retry) {
      headers['x-slack-retry-num'] = String(o.retry.num);
      headers['x-slack-retry-reason'] = o.retry.reason ?? 'http_timeout';
    }
    const res = await fetch(target, { method: 'POST', headers, body });
    const raw = await res.text();
    let parsed: any = raw;
    if (raw && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }
    return { status: res.status, raw, body: parsed, headers: Object.fromEntries(res.headers.entries()) };
  }

  /** An ack with a body is shown like a response: Slack posts it (ephemeral unless in_channel). */
  function recordAck(inv: Invocation, result: DeliveryResult): void {
    inv.ack = { status: result.status, body: result.raw };
    if (result.status !== 200 || !result.raw) return;
    const body = typeof result.body === 'object' && result.body !== null ? result.body : { text: result.raw };
    if (inv.kind === 'block_actions' && !body.replace_original && !body.delete_original && !body.text && !body.blocks) return;
    try {
      postResponse(inv, body, 'ack');
    } catch {
      /* an ack Slack cannot show: recorded in inv.ack only */
    }
  }

  const newInvocation = (kind: Invocation['kind'], uid: string, cid: string, extra: Partial<Invocation>): Invocation => {
    const rid = `${teamId}/${id('', 12)}/${id('x', 8)}`;
    const inv: Invocation = {
      id: rid, kind, user: uid, channel: cid, responseUrl: `${base}/response/${rid}`, triggerId: `${id('', 13)}.${id('', 13)}.${id('t', 10)}`, responses: [], ...extra,
    };
    invocations.set(rid, inv);
    return inv;
  };

  async function slashCommand(uid: string, cid: string, command: string, text = '', o: SignOptions = {}): Promise<InvocationResult> {
    const u = knownUser(uid);
    const c = knownChannel(cid);
    const cmd = command.startsWith('/') ? command : `/${command}`;
    const inv = newInvocation('slash_command', uid, c.id, { command: cmd, text });
    const form = new URLSearchParams({
      token: 'standinVerificationToken',
      team_id: teamId,
      team_domain: teamDomain,
      ...(enterpriseId ? { enterprise_id: enterpriseId, enterprise_name: 'Standin Grid' } : {}),
      channel_id: c.id,
      channel_name: c.kind === 'im' ? 'directmessage' : c.name,
      user_id: u.id,
      user_name: u.name,
      command: cmd,
      text,
      api_app_id: appId,
      is_enterprise_install: 'false',
      response_url: inv.responseUrl,
      trigger_id: inv.triggerId,
    });
    const result = await deliver(form.toString(), 'application/x-www-form-urlencoded', o);
    recordAck(inv, result);
    changed();
    return { ...result, invocation: inv };
  }

  async function blockAction(uid: string, message: SlackMessage, actionId: string, o: SignOptions = {}): Promise<InvocationResult> {
    const u = knownUser(uid);
    const current = findMessage(message.channel, message.ts) ?? message;
    if (current.deleted) throw new Error(`slack stand-in: message ${message.ts} was deleted`);
    if (current.ephemeralTo && current.ephemeralTo !== uid) throw new Error(`slack stand-in: ${uid} cannot see ephemeral message ${message.ts}`);
    const button = buttons(current).find((b) => b.actionId === actionId);
    if (!button) throw new Error(`slack stand-in: no button ${actionId} under message ${message.ts} (have ${buttons(current).map((b) => b.actionId).join(', ')})`);
    const c = knownChannel(current.channel);
    const inv = newInvocation('block_actions', uid, c.id, { actionId, messageTs: current.ts });
    const actionTs = `${Math.floor(now() / 1000)}.${String(++seq % 1_000_000).padStart(6, '0')}`;
    const ephemeral = !!current.ephemeralTo;
    const payload = {
      type: 'block_actions',
      user: { id: u.id, username: u.name, name: u.name, team_id: teamId },
      api_app_id: appId,
      token: 'standinVerificationToken',
      container: { type: 'message', message_ts: current.ts, channel_id: c.id, is_ephemeral: ephemeral },
      trigger_id: inv.triggerId,
      team: { id: teamId, domain: teamDomain, ...(enterpriseId ? { enterprise_id: enterpriseId } : {}) },
      enterprise: enterpriseId ? { id: enterpriseId, name: 'Standin Grid' } : null,
      is_enterprise_install: false,
      channel: { id: c.id, name: c.kind === 'im' ? 'directmessage' : c.name },
      // Slack leaves the message out of the payload for an ephemeral message.
      ...(ephemeral ? {} : { message: apiMessage(current) }),
      state: { values: {} },
      response_url: inv.responseUrl,
      actions: [{ action_id: button.actionId, block_id: button.blockId ?? 'standin', text: { type: 'plain_text', text: button.text, emoji: true }, ...(button.value !== undefined ? { value: button.value } : {}), ...(button.style ? { style: button.style } : {}), type: 'button', action_ts: actionTs }],
    };
    const form = new URLSearchParams({ payload: JSON.stringify(payload) });
    const result = await deliver(form.toString(), 'application/x-www-form-urlencoded', o);
    recordAck(inv, result);
    changed();
    return { ...result, invocation: inv };
  }

  async function event(type: string, data: Record<string, any> = {}, o: SignOptions = {}): Promise<EventResult> {
    const eventId = id('Ev', 10);
    let envelope: Record<string, any>;
    if (type === 'url_verification') {
      envelope = { token: 'standinVerificationToken', challenge: data.challenge ?? `challenge-${eventId}`, type: 'url_verification' };
    } else {
      const eventTs = `${Math.floor(now() / 1000)}.${String(++seq % 1_000_000).padStart(6, '0')}`;
      envelope = {
        token: 'standinVerificationToken',
        team_id: teamId,
        ...(enterpriseId ? { enterprise_id: enterpriseId } : {}),
        api_app_id: appId,
        event: { type, ...data, event_ts: data.event_ts ?? eventTs },
        type: 'event_callback',
        event_id: eventId,
        event_time: Math.floor(now() / 1000),
        authorizations: [{ enterprise_id: enterpriseId ?? null, team_id: teamId, user_id: botUserId, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
        event_context: `4-${eventId}`,
      };
    }
    const result = await deliver(JSON.stringify(envelope), 'application/json', o);
    changed();
    return { ...result, eventId, envelope };
  }

  async function urlVerification(challenge = 'standin-challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', o: SignOptions = {}) {
    const result = await event('url_verification', { challenge }, o);
    const echoed = typeof result.body === 'object' && result.body ? result.body.challenge : result.raw;
    return { ok: result.status === 200 && echoed === challenge, result };
  }

  function openHome(uid: string, o: SignOptions = {}) {
    knownUser(uid);
    const home = homes.get(uid);
    return event('app_home_opened', { user: uid, channel: dmChannel(uid), tab: 'home', ...(home ? { view: { id: home.id, type: 'home', blocks: home.view.blocks ?? [], hash: home.hash, team_id: teamId, app_id: appId } } : {}) }, o);
  }

  // ---- readers ----

  const visible = (cid: string, asUser?: string) =>
    (messages.get(cid) ?? []).filter((m) => !m.deleted && (!m.ephemeralTo || m.ephemeralTo === asUser)).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));

  const standin: SlackStandin = {
    url: base,
    apiUrl: `${base}/api/`,
    botToken,
    signingSecret,
    teamId,
    enterpriseId,
    appId,
    botUserId,
    botId,
    requestUrl: options.requestUrl,
    calls,
    invocations,
    user,
    channel,
    dmChannel,
    rateLimit(method, o = {}) {
      limits.push({ method, remaining: o.count ?? 1, retryAfter: o.retryAfter ?? 1 });
    },
    fail(method, o = {}) {
      failures.push({ method, remaining: o.count ?? 1, status: o.status ?? 500 });
    },
    deleteChannel(cid) {
      channels.delete(cid);
    },
    // The Events API's membership events, in Slack's shapes (docs.slack.dev/reference/events/<type>).
    removeBot(cid, actor = 'U0ADMIN', o = {}) {
      const c = channels.get(cid) ?? channel(cid);
      c.botRemoved = true;
      return event(c.isPrivate ? 'group_left' : 'channel_left', { channel: cid, actor_id: actor }, o);
    },
    addBot(cid, inviter = 'U0ADMIN', o = {}) {
      const c = channels.get(cid) ?? channel(cid);
      c.botRemoved = false;
      return event('member_joined_channel', { user: botUserId, channel: cid, channel_type: c.isPrivate ? 'G' : 'C', team: teamId, inviter }, o);
    },
    archive(cid, by = 'U0ADMIN', o = {}) {
      const c = channels.get(cid) ?? channel(cid);
      c.archived = true;
      return c.isPrivate ? event('group_archive', { channel: cid }, o) : event('channel_archive', { channel: cid, user: by }, o);
    },
    unarchive(cid, by = 'U0ADMIN', o = {}) {
      const c = channels.get(cid) ?? channel(cid);
      c.archived = false;
      return c.isPrivate ? event('group_unarchive', { channel: cid }, o) : event('channel_unarchive', { channel: cid, user: by }, o);
    },
    removeChannel(cid, o = {}) {
      channels.delete(cid);
      return event('channel_deleted', { channel: cid }, o);
    },
    sign,
    slashCommand,
    blockAction,
    event,
    urlVerification,
    openHome,
    messages: visible,
    dmsOf: (uid) => (dms.has(uid) ? visible(dms.get(uid)!, uid) : []),
    message: findMessage,
    responsesOf: (inv) => invocations.get(typeof inv === 'string' ? inv : inv.id)?.responses ?? [],
    homeOf: (uid) => homes.get(uid),
    callsTo: (method) => calls.filter((c) => c.method === method),
    waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const value = probe();
          if (value) {
            clearTimeout(timer);
            events.off('change', check);
            resolve(value);
          }
        };
        const timer = setTimeout(() => {
          events.off('change', check);
          reject(new Error('slack stand-in: waitFor timed out'));
        }, timeoutMs);
        events.on('change', check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return standin;
}

// ---- Socket Mode ------------------------------------------------------------------------------

export const STANDIN_APP_TOKEN = 'xapp-1-A0STANDIN-3000000003-StandInAppTokenForTests';

/** What the app sent back over the WebSocket for one envelope. */
export interface SocketModeAck {
  envelope_id: string;
  payload?: Record<string, any>;
}

export interface SocketModeDelivery {
  envelopeId: string;
  invocation: Invocation;
  /** Resolves with the app's ack (rejects after 3 s, as Slack would give up on it). */
  ack: Promise<SocketModeAck>;
}

export interface SocketModeStandin {
  /** The Web API for an app in Socket Mode (`slackApiUrl`): answers `apps.connections.open` (with
   *  the app-level token) with a ws:// URL to this stand-in, and passes every other method to the
   *  stand-in's Web API. */
  apiUrl: string;
  appToken: string;
  /** WebSocket connections open now. */
  connections(): number;
  /** Every ack the app sent, in order. */
  acks: SocketModeAck[];
  /** Sends a slash command as a `slash_commands` envelope over the app's connection. */
  slashCommand(user: string, channel: string, command: string, text?: string): Promise<SocketModeDelivery>;
  /** The user presses `actionId` under `message`: an `interactive` (block_actions) envelope. */
  blockAction(user: string, message: SlackMessage, actionId: string): Promise<SocketModeDelivery>;
  close(): Promise<void>;
}

/**
 * Socket Mode in front of a stand-in: `apps.connections.open` hands out a one-time ws:// URL; on
 * connecting the app gets `hello`, then the envelopes the test sends, each of which it must ack
 * with `{envelope_id}`. Answers still go through the invocation's response_url on the stand-in.
 */
export async function startSocketModeStandin(standin: SlackStandin, options: { appToken?: string } = {}): Promise<SocketModeStandin> {
  const appToken = options.appToken ?? STANDIN_APP_TOKEN;
  const tickets = new Set<string>();
  const sockets = new Set<WebSocket>();
  const acks: SocketModeAck[] = [];
  const waiting = new Map<string, (ack: SocketModeAck) => void>();
  let n = 0;

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (!url.pathname.startsWith('/api/')) return sendJson(res, 404, { ok: false, error: 'not_found' });
      const method = decodeURIComponent(url.pathname.slice(5));
      const raw = await readBody(req);
      if (method !== 'apps.connections.open') {
        // Everything else is the stand-in's Web API.
        const forwarded = await fetch(`${standin.apiUrl}${method}${url.search}`, {
          method: req.method, body: req.method === 'GET' ? undefined : raw,
          headers: Object.fromEntries(['authorization', 'content-type'].filter((h) => req.headers[h]).map((h) => [h, String(req.headers[h])])),
        });
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'retry-after']) if (forwarded.headers.get(h)) headers[h] = forwarded.headers.get(h)!;
        res.writeHead(forwarded.status, headers);
        return res.end(await forwarded.text());
      }
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : new URLSearchParams(raw).get('token') ?? undefined;
      const call: ApiCall = { method, params: {}, token, contentType: req.headers['content-type'] ?? '', status: 200, ok: false, at: Date.now() };
      standin.calls.push(call);
      const error = !token ? 'not_authed' : token === appToken ? undefined : token.startsWith('xapp-') ? 'invalid_auth' : 'not_allowed_token_type';
      if (error) {
        call.error = error;
        return sendJson(res, 200, { ok: false, error });
      }
      const ticket = `ticket-${++n}-${Math.random().toString(36).slice(2, 10)}`;
      tickets.add(ticket);
      call.ok = true;
      sendJson(res, 200, { ok: true, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/link/?ticket=${ticket}&app_id=${standin.appId}` });
    })().catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal_error', detail: String(e) });
    });
  });
  const wss = new WebSocketServer({ server, path: '/link/' });
  wss.on('connection', (socket, req) => {
    const ticket = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('ticket') ?? '';
    if (!tickets.delete(ticket)) return socket.close(1008, 'invalid ticket');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data) => {
      let ack: SocketModeAck;
      try {
        ack = JSON.parse(String(data));
      } catch {
        return;
      }
      acks.push(ack);
      waiting.get(ack.envelope_id)?.(ack);
      waiting.delete(ack.envelope_id);
    });
    socket.send(JSON.stringify({ type: 'hello', num_connections: sockets.size, debug_info: { host: 'applink-standin', build_number: 1, approximate_connection_time: 18060 }, connection_info: { app_id: standin.appId } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));

  function envelope(type: 'slash_commands' | 'interactive', payload: Record<string, any>, invocation: Invocation): SocketModeDelivery {
    const socket = [...sockets][0];
    if (!socket) throw new Error('slack stand-in: the app has no Socket Mode connection');
    const envelopeId = `${++n}-sm-${Math.random().toString(36).slice(2, 10)}`;
    const ack = new Promise<SocketModeAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(envelopeId);
        reject(new Error(`slack stand-in: envelope ${envelopeId} was not acked within 3 s`));
      }, 3000);
      waiting.set(envelopeId, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
    });
    socket.send(JSON.stringify({ envelope_id: envelopeId, payload, type, accepts_response_payload: type === 'slash_commands' }));
    return { envelopeId, invocation, ack };
  }

  function newInvocation(kind: Invocation['kind'], uid: string, cid: string, extra: Partial<Invocation>): Invocation {
    const rid = `${standin.teamId}/sm${String(++n).padStart(10, '0')}/x${Math.random().toString(36).slice(2, 10)}`;
    const inv: Invocation = { id: rid, kind, user: uid, channel: cid, responseUrl: `${standin.url}/response/${rid}`, triggerId: `${Date.now()}.${++n}.sm${n}`, responses: [], ...extra };
    standin.invocations.set(rid, inv);
    return inv;
  }

  return {
    apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`,
    appToken,
    connections: () => sockets.size,
    acks,
    async slashCommand(uid, cid, command, text = '') {
      const cmd = command.startsWith('/') ? command : `/${command}`;
      const inv = newInvocation('slash_command', uid, cid, { command: cmd, text });
      return envelope('slash_commands', {
        token: 'standinVerificationToken', team_id: standin.teamId, team_domain: 'cryptopulse-test', channel_id: cid, channel_name: cid.toLowerCase(),
        user_id: uid, user_name: uid.toLowerCase(), command: cmd, text, api_app_id: standin.appId, is_enterprise_install: 'false',
        response_url: inv.responseUrl, trigger_id: inv.triggerId,
      }, inv);
    },
    async blockAction(uid, message, actionId) {
      const current = standin.message(message.channel, message.ts) ?? message;
      const button = buttons(current).find((b) => b.actionId === actionId);
      if (!button) throw new Error(`slack stand-in: no button ${actionId} under message ${message.ts}`);
      const inv = newInvocation('block_actions', uid, current.channel, { actionId, messageTs: current.ts });
      const ephemeral = !!current.ephemeralTo;
      return envelope('interactive', {
        type: 'block_actions', user: { id: uid, username: uid.toLowerCase(), name: uid.toLowerCase(), team_id: standin.teamId }, api_app_id: standin.appId,
        token: 'standinVerificationToken', container: { type: 'message', message_ts: current.ts, channel_id: current.channel, is_ephemeral: ephemeral },
        trigger_id: inv.triggerId, team: { id: standin.teamId, domain: 'cryptopulse-test' }, is_enterprise_install: false,
        channel: { id: current.channel, name: current.channel.toLowerCase() },
        ...(ephemeral ? {} : { message: { type: 'message', bot_id: standin.botId, user: current.user, text: current.text, ts: current.ts, blocks: current.blocks } }),
        state: { values: {} }, response_url: inv.responseUrl,
        actions: [{ action_id: button.actionId, block_id: button.blockId ?? 'standin', text: { type: 'plain_text', text: button.text, emoji: true }, ...(button.value !== undefined ? { value: button.value } : {}), type: 'button', action_ts: `${Math.floor(Date.now() / 1000)}.${String(++n).padStart(6, '0')}` }],
      }, inv);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
