/**
 * A loopback stand-in for Discord, so the real discord.js Client (REST through @discordjs/rest,
 * gateway through @discordjs/ws) runs in tests over real HTTP and a real WebSocket. Point the client
 * at it with `new Client({ rest: { api: standin.api } })`; the gateway address comes from
 * `GET /api/v10/gateway/bot`, which answers with the stand-in's own `ws://` URL.
 *
 * Gateway (JSON encoding; zlib-stream transport compression and identify payload compression
 * supported, although discord.js asks for neither unless the optional `zlib-sync` is installed):
 *   - HELLO (op 10) with heartbeat_interval; heartbeats (op 1) answered with HEARTBEAT_ACK (op 11);
 *     `requestHeartbeat()` sends op 1 to the client, which must answer at once;
 *   - IDENTIFY (op 2): the token, `properties`, `shard` and the intents are checked: an unknown
 *     token closes with 4004, unknown intent bits with 4013, privileged intents (GUILD_MEMBERS,
 *     GUILD_PRESENCES, MESSAGE_CONTENT) not enabled in the options with 4014, a second IDENTIFY
 *     with 4005, anything but a heartbeat before IDENTIFY with 4003, an unknown opcode with 4001,
 *     a payload that is not JSON with 4002, a wrong `?v=` with 4012;
 *   - READY (session_id, resume_gateway_url, application {id, flags}, user, guilds unavailable),
 *     then a GUILD_CREATE for each guild the bot is in (with the GUILDS intent);
 *   - GUILD_DELETE `{id}` when the bot is removed (`removeBot`), `{id, unavailable: true}` for an
 *     outage (`outage`), GUILD_CREATE when it is added back (`addBot`), CHANNEL_DELETE with the
 *     channel object when a guild channel is deleted (`deleteChannel`);
 *   - INTERACTION_CREATE for slash commands (type 2), message components (type 3) and
 *     autocomplete (type 4), with options typed from the commands the bot registered;
 *   - sequence numbers on every dispatch; `dropConnection()` closes the socket with a resumable
 *     code (4000 by default) or cuts it; dispatches meanwhile are kept; the client RESUMEs (op 6)
 *     at resume_gateway_url (a different path from the gateway URL, so a test can tell them
 *     apart) and gets the missed dispatches replayed with their sequence numbers, then RESUMED.
 *     A RESUME with an unknown session or a sequence ahead of the server's gets op 9 (false).
 *     A client that closes with 1000/1001 ends its session, as on Discord.
 *
 * REST (`/api/v10/...`): the routes the bot uses, with Discord's JSON shapes and error bodies
 * (`{message, code}` or `{message: "Invalid Form Body", code: 50035, errors}`):
 *   - `Authorization: Bot <token>` on bot routes (401 `{"message": "401: Unauthorized", "code": 0}`);
 *     interaction callbacks and interaction webhooks are authorised by their token instead, as on
 *     Discord (discord.js sends them with `auth: false`);
 *   - rate-limit headers on every answer (X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket),
 *     per-route buckets and the global 50/s enforced with real 429s (X-RateLimit-Scope), and
 *     injectable 429s (`inject429`) with `{message, retry_after, global}` and Retry-After;
 *   - messages validated like Discord: content 2000, 10 embeds, title 256, description 4096,
 *     25 fields (name 256, value 1024), footer 2048, author 256, 6000 in all, 5 action rows of
 *     5 buttons, custom_id 100 and unique, label 80, link buttons, select menus; an empty message
 *     is 50006;
 *   - interactions: the callback (types 4, 5, 6, 7, 8, 9) must come within 3 s of the interaction's
 *     creation on the stand-in's clock (`now` option, so a test moves time instead of waiting), or
 *     it gets 404 10062 "Unknown interaction"; a second callback gets 400 40060; the token then
 *     works for 15 minutes on `/webhooks/{app}/{token}` (original response GET/PATCH/DELETE,
 *     follow-ups; the first follow-up after a defer edits the loading message, as documented);
 *   - commands: bulk overwrite (PUT) of global and guild commands with Discord's validation
 *     (names `^[-_\p{L}\p{N}]{1,32}$` in lower case, descriptions 1-100, at most 25 options and
 *     25 choices, required options first, sub-commands exclusive with other options, unique
 *     names, 100 global chat-input commands); GET, POST (upsert) and DELETE;
 *   - guild interactions carry member.permissions (every permission for an admin or the owner, a
 *     plain member's otherwise, or exactly what `join(..., { permissions })` gave); a deleted
 *     channel answers 404 10003, a guild that removed the bot 403 50001, closed DMs 403 50007;
 *   - DMs (`POST /users/@me/channels`, one channel per recipient), channel messages (POST, GET,
 *     PATCH, DELETE), `GET /users/@me`, `GET /applications/@me`, `GET /gateway(/bot)`.
 * Test controls play the users (slash, press, autocomplete), inject faults, drop the connection,
 * and read back what the bot did as a user would see it (ephemeral messages only to their user).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { constants as zlibConstants, createDeflate, deflateSync, type Deflate } from 'node:zlib';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

// ---- constants ----------------------------------------------------------------------------------

export const DISCORD_EPOCH = 1_420_070_400_000;
export const STANDIN_APPLICATION_ID = '1100000000000000001';
export const STANDIN_DISCORD_TOKEN = `${Buffer.from(STANDIN_APPLICATION_ID).toString('base64')}.GStand.in-token-for-tests_abcdefghijklmnopqrstuvwxyz012`;

export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;
/** Intent bits Discord defines (0-16, 20, 21, 24, 25). */
const KNOWN_INTENTS = 0x1ffff | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
const PRIVILEGED = { guildMembers: Intents.GuildMembers, presences: Intents.GuildPresences, messageContent: Intents.MessageContent };
/** Application flags that say a privileged intent is enabled (the "_LIMITED" variants, for unverified bots). */
const PRIVILEGED_FLAGS = { presences: 1 << 13, guildMembers: 1 << 15, messageContent: 1 << 19 };

export const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, PresenceUpdate: 3, VoiceStateUpdate: 4, Resume: 6, Reconnect: 7, RequestGuildMembers: 8, InvalidSession: 9, Hello: 10, HeartbeatAck: 11, RequestSoundboardSounds: 31 } as const;

export const CallbackType = { Pong: 1, ChannelMessageWithSource: 4, DeferredChannelMessageWithSource: 5, DeferredUpdateMessage: 6, UpdateMessage: 7, AutocompleteResult: 8, Modal: 9 } as const;
export const InteractionKind = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;
export const OptionType = { SubCommand: 1, SubCommandGroup: 2, String: 3, Integer: 4, Boolean: 5, User: 6, Channel: 7, Role: 8, Mentionable: 9, Number: 10, Attachment: 11 } as const;
export const MessageFlag = { SuppressEmbeds: 1 << 2, Ephemeral: 1 << 6, Loading: 1 << 7, SuppressNotifications: 1 << 12, IsComponentsV2: 1 << 15 } as const;

const ADMINISTRATOR = 1n << 3n;
/** Permission bits a test may give a member (Discord's numbering). */
export const Permission = { Administrator: ADMINISTRATOR, ManageChannels: 1n << 4n, ManageGuild: 1n << 5n } as const;
/** Permissions of a plain member: view channel, send messages, embed links, read history, use application commands and the like. */
export const MEMBER_PERMISSIONS = 0x0000_0000_0006_4fc0_0n | (1n << 31n);
const ALL_PERMISSIONS = (1n << 50n) - 1n;

// ---- types --------------------------------------------------------------------------------------

export interface DiscordUser {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: string | null;
  bot?: boolean;
  public_flags?: number;
}

export interface StandinChannel {
  id: string;
  /** 0 guild text, 1 DM. */
  type: 0 | 1;
  guildId?: string;
  name?: string;
  /** DM: the other party. */
  recipient?: DiscordUser;
}

export interface StandinMember {
  user: DiscordUser;
  admin: boolean;
  /** Their permissions in the guild's channels, as interactions carry them in member.permissions;
   *  default every permission for an admin or the owner, a plain member's otherwise. */
  permissions?: bigint;
  joinedAt: string;
}

export interface StandinGuild {
  id: string;
  name: string;
  ownerId: string;
  channels: StandinChannel[];
  members: Map<string, StandinMember>;
  /** The bot is in the guild (it gets GUILD_CREATE, may post in its channels). */
  botMember: boolean;
}

export interface StandinButton {
  label?: string;
  customId?: string;
  style: number;
  url?: string;
  disabled: boolean;
}

/** A message as the channel shows it now (after edits). */
export interface StandinMessage {
  id: string;
  channelId: string;
  guildId?: string;
  author: DiscordUser;
  content: string;
  embeds: Array<Record<string, any>>;
  components: Array<Record<string, any>>;
  flags: number;
  ephemeral: boolean;
  /** Ephemeral: the only user who sees it. */
  visibleTo?: string;
  /** A deferred response still showing "<bot> is thinking...". */
  loading: boolean;
  /** 0 default, 20 chat input command response, 19 reply. */
  type: number;
  /** The interaction that created it (responses and follow-ups). */
  interactionId?: string;
  allowedMentions?: unknown;
  attachments: Array<{ filename: string; size: number }>;
  /** Earlier versions, oldest first: an edit in place keeps the message and grows this list. */
  history: Array<{ content: string; embeds: Array<Record<string, any>>; components: Array<Record<string, any>> }>;
  deleted: boolean;
  timestamp: number;
  editedTimestamp?: number;
  replyTo?: string;
}

export interface InteractionResponse {
  type: number;
  data?: Record<string, any>;
  at: number;
}

export interface StandinInteraction {
  id: string;
  token: string;
  /** 2 command, 3 component, 4 autocomplete. */
  type: number;
  user: DiscordUser;
  guildId?: string;
  channelId: string;
  /** On the stand-in's clock (ms). */
  createdAt: number;
  /** The `data` field sent to the bot. */
  data: Record<string, any>;
  /** The full payload dispatched. */
  payload: Record<string, any>;
  /** Callback accepted (any type). */
  acknowledged: boolean;
  /** Every callback the stand-in accepted (one at most) and the refused ones are in `requests`. */
  responses: InteractionResponse[];
  /** The message `@original` refers to, when there is one. */
  originalId?: string;
  /** Component interactions: the message whose button was pressed. */
  sourceMessageId?: string;
  followupIds: string[];
  /** Autocomplete answer. */
  choices?: Array<{ name: string; value: string | number }>;
  modal?: Record<string, any>;
  /** Sent on a live connection (true) or kept for a resume / never delivered (false). */
  delivered: boolean;
}

export interface StoredCommand {
  id: string;
  application_id: string;
  version: string;
  type: number;
  name: string;
  description: string;
  options?: Array<Record<string, any>>;
  default_member_permissions: string | null;
  dm_permission?: boolean;
  contexts?: number[] | null;
  integration_types?: number[];
  nsfw: boolean;
  guild_id?: string;
  name_localizations?: Record<string, string> | null;
  description_localizations?: Record<string, string> | null;
}

export interface RestCall {
  method: string;
  path: string;
  /** The route's template, e.g. `POST /channels/:id/messages`. */
  route: string;
  query: Record<string, string>;
  body: any;
  status: number;
  /** Discord's JSON error code for refused calls. */
  code?: number;
  response?: unknown;
  /** A 429 or fault the test injected. */
  injected?: boolean;
  /** A 429 of the stand-in's own (enforced) limits. */
  enforced?: boolean;
  at: number;
  authorized: boolean;
  userAgent?: string;
}

export interface GatewayConnection {
  id: number;
  /** `/gateway` or `/resume` (the resume_gateway_url). */
  path: string;
  query: Record<string, string>;
  /** Payloads received, in order. */
  received: Array<{ op: number; d: unknown }>;
  /** Payloads sent, in order (dispatches with their sequence number and event name). */
  sent: Array<{ op: number; s: number | null; t: string | null }>;
  heartbeats: number;
  acks: number;
  identified: boolean;
  resumed: boolean;
  closedWith?: number;
  closedBy?: 'server' | 'client';
  compression: 'none' | 'zlib-stream' | 'payload';
}

export interface Inject429 {
  /** Route template (`POST /channels/:id/messages`) or a pattern tested against `METHOD /path`. */
  route?: string | RegExp;
  /** How many calls it answers (default 1). */
  count?: number;
  /** Seconds, the body's `retry_after` (default 1). */
  retryAfter?: number;
  /**
   * The Retry-After header, seconds. Discord sends whole seconds (the default is retryAfter rounded
   * up); a test may send a fraction so the client's wait stays short.
   */
  retryAfterHeader?: number;
  global?: boolean;
  scope?: 'user' | 'shared' | 'global';
}

export interface InjectFault {
  route?: string | RegExp;
  count?: number;
  status: number;
  code?: number;
  message?: string;
}

export interface RateRule {
  limit: number;
  windowMs: number;
}

export interface DiscordStandinOptions {
  token?: string;
  applicationId?: string;
  botName?: string;
  /** The clock of interactions (3 s deadline, 15 min tokens), snowflakes and timestamps (ms). Rate limits use real time: discord.js waits them out in real time. */
  now?: () => number;
  heartbeatIntervalMs?: number;
  /** Privileged intents enabled for the application (all off by default). */
  privilegedIntents?: { guildMembers?: boolean; presences?: boolean; messageContent?: boolean };
  /** Per-route buckets and the global limit, enforced with 429s; `false` turns enforcement off (headers stay). */
  limits?: { route?: RateRule; global?: RateRule } | false;
  interactionDeadlineMs?: number;
  tokenLifetimeMs?: number;
}

export type SlashWhere = StandinGuild | StandinChannel | 'dm';
export type OptionValue = string | number | boolean | DiscordUser | StandinChannel;

export interface DiscordStandin {
  /** For discord.js `rest: { api }`. */
  api: string;
  /** The gateway URL that `GET /gateway/bot` returns. */
  gatewayUrl: string;
  resumeGatewayUrl: string;
  token: string;
  applicationId: string;
  botUser: DiscordUser;
  requests: RestCall[];
  connections: GatewayConnection[];
  interactions: Map<string, StandinInteraction>;
  counts: { injected429: number; enforced429: number; identifies: number; resumes: number };

  user(options: { id?: string; username: string; globalName?: string; dmsOpen?: boolean }): DiscordUser;
  /** A guild with text channels (default `general`); the bot is a member unless `bot: false`. Announced with GUILD_CREATE when the bot is connected. */
  guild(options: { id?: string; name?: string; channels?: string[]; members?: DiscordUser[]; admins?: DiscordUser[]; bot?: boolean }): StandinGuild;
  /** `permissions` sets the member's permission bits exactly (e.g. MEMBER_PERMISSIONS | Permission.ManageChannels). */
  join(guild: StandinGuild, user: DiscordUser, options?: { admin?: boolean; permissions?: bigint }): void;
  /** Deletes a channel: every call naming it then gets 404 10003 Unknown Channel, and the bot gets
   *  CHANNEL_DELETE (a guild channel; Discord sends none for a DM). */
  deleteChannel(channel: StandinChannel): void;
  /** The bot is kicked from (or leaves) a guild: GUILD_DELETE `{id}` (no `unavailable`), and its
   *  channels then answer 403 50001. (Setting `botMember = false` instead removes it silently.) */
  removeBot(guild: StandinGuild): void;
  /** The bot is added to a guild again: GUILD_CREATE with the whole guild. */
  addBot(guild: StandinGuild): void;
  /** An outage: GUILD_DELETE `{id, unavailable: true}`; the bot is still a member. */
  outage(guild: StandinGuild): void;
  /** The DM channel between the bot and a user (the one `POST /users/@me/channels` returns). */
  dmChannel(user: DiscordUser): StandinChannel;
  channel(id: string): StandinChannel | undefined;
  setDmsOpen(user: DiscordUser, open: boolean): void;

  /** A user runs `/name` (`'alert add'` for a sub-command, `'settings email set'` for a group's). Options are typed from the registered command. */
  slash(user: DiscordUser, where: SlashWhere, name: string, options?: Record<string, OptionValue>): Promise<StandinInteraction>;
  /** A user types in an autocomplete option (`focused`); the others are as given. */
  autocomplete(user: DiscordUser, where: SlashWhere, name: string, options: Record<string, OptionValue>, focused: string): Promise<StandinInteraction>;
  /** A user presses the button with `customId` under a message they can see. */
  press(user: DiscordUser, message: StandinMessage | string, customId: string): Promise<StandinInteraction>;
  /** Any dispatch (for events the helpers above do not cover). */
  dispatch(event: string, data: unknown): void;

  /** Messages in a channel as `as` sees them (ephemeral ones only for their user; without `as`, every message). */
  messages(channelId: string, options?: { as?: DiscordUser; includeDeleted?: boolean }): StandinMessage[];
  /** The bot's messages in a user's DM channel. */
  dms(user: DiscordUser): StandinMessage[];
  message(id: string): StandinMessage | undefined;
  /** The message an interaction's `@original` is. */
  original(interaction: StandinInteraction | string): StandinMessage | undefined;
  followups(interaction: StandinInteraction | string): StandinMessage[];
  /** Commands as registered: global without a guild. */
  commands(guildId?: string): StoredCommand[];
  /** Text a user reads: content, then each embed's title, description and fields. */
  textOf(message: StandinMessage): string;
  buttons(message: StandinMessage): StandinButton[];

  inject429(options?: Inject429): void;
  inject(fault: InjectFault): void;
  /** Closes every live gateway connection with a resumable code (4000), or cuts it (`abrupt`, the client sees 1006). */
  dropConnection(options?: { code?: number; abrupt?: boolean; resumable?: boolean }): void;
  /** Op 7: the client should reconnect and resume. */
  sendReconnect(): void;
  /** Op 9 with `d: resumable`. */
  invalidateSession(resumable?: boolean): void;
  /** Op 1: the client must heartbeat now. */
  requestHeartbeat(): void;
  /** Resolves with the first truthy value of `probe`, checked after every request and gateway event. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

// ---- errors -------------------------------------------------------------------------------------

class DiscordError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>, readonly headers: Record<string, string> = {}) {
    super(String(body.message));
  }
}

const jsonError = (status: number, code: number, message: string) => new DiscordError(status, { message, code });
const unknown = {
  channel: () => jsonError(404, 10003, 'Unknown Channel'),
  message: () => jsonError(404, 10008, 'Unknown Message'),
  user: () => jsonError(404, 10013, 'Unknown User'),
  webhook: () => jsonError(404, 10015, 'Unknown Webhook'),
  interaction: () => jsonError(404, 10062, 'Unknown interaction'),
  command: () => jsonError(404, 10063, 'Unknown application command'),
  guild: () => jsonError(404, 10004, 'Unknown Guild'),
};

type FormIssue = [path: Array<string | number>, code: string, message: string];

/** Discord's 50035 "Invalid Form Body" with its nested `errors` object. */
function formError(issues: FormIssue[]): DiscordError {
  const errors: Record<string, any> = {};
  for (const [path, code, message] of issues) {
    let node = errors;
    for (const key of path) node = node[key] ??= {};
    (node._errors ??= []).push({ code, message });
  }
  return new DiscordError(400, { message: 'Invalid Form Body', code: 50035, errors });
}

// ---- validation ---------------------------------------------------------------------------------

const maxLength = (max: number): [string, string] => ['BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`];
const badLength = (min: number, max: number): [string, string] => ['BASE_TYPE_BAD_LENGTH', `Must be between ${min} and ${max} in length.`];
const required: [string, string] = ['BASE_TYPE_REQUIRED', 'This field is required'];

function checkString(issues: FormIssue[], path: Array<string | number>, value: unknown, max: number, options: { min?: number; needed?: boolean } = {}): void {
  if (value === undefined || value === null) {
    if (options.needed) issues.push([path, ...required]);
    return;
  }
  if (typeof value !== 'string') {
    issues.push([path, 'BASE_TYPE_STRING', 'Could not interpret value as string.']);
    return;
  }
  const length = [...value].length;
  if (options.min !== undefined && length < options.min) issues.push([path, ...badLength(options.min, max)]);
  else if (length > max) issues.push([path, ...(options.min !== undefined ? badLength(options.min, max) : maxLength(max))]);
}

const embedText = (embed: Record<string, any>): number =>
  [embed.title, embed.description, embed.footer?.text, embed.author?.name, ...(Array.isArray(embed.fields) ? embed.fields.flatMap((f: any) => [f?.name, f?.value]) : [])]
    .filter((s): s is string => typeof s === 'string')
    .reduce((sum, s) => sum + [...s].length, 0);

/** Checks a message body (create, edit, interaction response data) the way Discord does. */
export function validateMessage(body: Record<string, any>, options: { edit?: boolean; hasFiles?: boolean } = {}): void {
  const issues: FormIssue[] = [];
  if (body.content !== undefined && body.content !== null) checkString(issues, ['content'], body.content, 2000);
  if (body.embeds !== undefined && body.embeds !== null) {
    if (!Array.isArray(body.embeds)) issues.push([['embeds'], 'BASE_TYPE_ARRAY', 'Must be an array.']);
    else {
      if (body.embeds.length > 10) issues.push([['embeds'], ...maxLength(10)]);
      body.embeds.forEach((embed: any, i: number) => {
        const at = ['embeds', i];
        checkString(issues, [...at, 'title'], embed?.title, 256);
        checkString(issues, [...at, 'description'], embed?.description, 4096);
        checkString(issues, [...at, 'footer', 'text'], embed?.footer?.text, 2048, { needed: embed?.footer !== undefined && embed?.footer !== null });
        checkString(issues, [...at, 'author', 'name'], embed?.author?.name, 256, { needed: embed?.author !== undefined && embed?.author !== null });
        if (embed?.color !== undefined && embed?.color !== null && !(Number.isInteger(embed.color) && embed.color >= 0 && embed.color <= 0xffffff)) {
          issues.push([[...at, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.']);
        }
        if (embed?.fields !== undefined) {
          if (!Array.isArray(embed.fields)) issues.push([[...at, 'fields'], 'BASE_TYPE_ARRAY', 'Must be an array.']);
          else {
            if (embed.fields.length > 25) issues.push([[...at, 'fields'], ...maxLength(25)]);
            embed.fields.forEach((field: any, j: number) => {
              checkString(issues, [...at, 'fields', j, 'name'], field?.name, 256, { min: 1, needed: true });
              checkString(issues, [...at, 'fields', j, 'value'], field?.value, 1024, { min: 1, needed: true });
            });
          }
        }
      });
      if (body.embeds.reduce((sum: number, e: any) => sum + embedText(e ?? {}), 0) > 6000) {
        issues.push([['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000']);
      }
    }
  }
  if (body.components !== undefined && body.components !== null && !((body.flags ?? 0) & MessageFlag.IsComponentsV2)) validateComponents(issues, body.components);
  if (body.allowed_mentions !== undefined && body.allowed_mentions !== null) {
    const am = body.allowed_mentions;
    const parse: unknown[] = Array.isArray(am.parse) ? am.parse : [];
    for (const [i, p] of parse.entries()) {
      if (!['roles', 'users', 'everyone'].includes(String(p))) issues.push([['allowed_mentions', 'parse', i], 'BASE_TYPE_CHOICES', 'Value must be one of {\'roles\', \'users\', \'everyone\'}.']);
    }
    for (const kind of ['users', 'roles'] as const) {
      if (parse.includes(kind) && Array.isArray(am[kind]) && am[kind].length) {
        issues.push([['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`]);
      }
      if (Array.isArray(am[kind]) && am[kind].length > 100) issues.push([['allowed_mentions', kind], ...maxLength(100)]);
    }
  }
  if (issues.length) throw formError(issues);
  if (!options.edit) {
    const empty = !body.content && !(Array.isArray(body.embeds) && body.embeds.length) && !(Array.isArray(body.components) && body.components.length) &&
      !options.hasFiles && !body.sticker_ids?.length && !body.poll;
    if (empty) throw jsonError(400, 50006, 'Cannot send an empty message');
  }
}

function validateComponents(issues: FormIssue[], rows: unknown): void {
  if (!Array.isArray(rows)) {
    issues.push([['components'], 'BASE_TYPE_ARRAY', 'Must be an array.']);
    return;
  }
  if (rows.length > 5) issues.push([['components'], ...maxLength(5)]);
  const ids = new Set<string>();
  rows.forEach((row: any, i: number) => {
    if (row?.type !== 1) {
      issues.push([['components', i, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).']);
      return;
    }
    const items: any[] = Array.isArray(row.components) ? row.components : [];
    if (items.length < 1 || items.length > 5) issues.push([['components', i, 'components'], ...badLength(1, 5)]);
    const hasSelect = items.some((c) => [3, 5, 6, 7, 8].includes(c?.type));
    if (hasSelect && items.length > 1) issues.push([['components', i, 'components'], 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'The specified component exceeds the maximum width']);
    items.forEach((c: any, j: number) => {
      const at = ['components', i, 'components', j];
      if (c?.custom_id !== undefined) {
        checkString(issues, [...at, 'custom_id'], c.custom_id, 100, { min: 1 });
        if (ids.has(c.custom_id)) issues.push([[...at, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated']);
        ids.add(c.custom_id);
      }
      if (c?.type === 2) {
        if (!(Number.isInteger(c.style) && c.style >= 1 && c.style <= 6)) issues.push([[...at, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.']);
        checkString(issues, [...at, 'label'], c.label, 80);
        if (c.style === 5) {
          if (!c.url) issues.push([[...at, 'url'], ...required]);
          if (c.custom_id !== undefined) issues.push([[...at, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED', 'A custom id cannot be used with this button style']);
        } else if (c.style !== 6) {
          if (c.custom_id === undefined) issues.push([[...at, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED', 'A custom id is required']);
          if (c.url !== undefined) issues.push([[...at, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'A url cannot be used with this button style']);
        }
        if (c.style !== 6 && !c.label && !c.emoji) issues.push([[...at, 'label'], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or emoji is required']);
      } else if (c?.type === 3) {
        if (c.custom_id === undefined) issues.push([[...at, 'custom_id'], ...required]);
        checkString(issues, [...at, 'placeholder'], c.placeholder, 150);
        const options: any[] = Array.isArray(c.options) ? c.options : [];
        if (options.length < 1 || options.length > 25) issues.push([[...at, 'options'], ...badLength(1, 25)]);
        options.forEach((o, k) => {
          checkString(issues, [...at, 'options', k, 'label'], o?.label, 100, { min: 1, needed: true });
          checkString(issues, [...at, 'options', k, 'value'], o?.value, 100, { min: 1, needed: true });
          checkString(issues, [...at, 'options', k, 'description'], o?.description, 100);
        });
      } else if (![5, 6, 7, 8].includes(c?.type)) {
        issues.push([[...at, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (2, 3, 5, 6, 7, 8).']);
      }
    });
  });
}

const NAME = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const validName = (name: unknown): boolean => typeof name === 'string' && NAME.test(name) && name === name.toLowerCase();

/** Checks a list of commands the way Discord's bulk overwrite does. */
export function validateCommands(list: unknown, options: { global: boolean }): void {
  if (!Array.isArray(list)) throw formError([[[], 'BASE_TYPE_ARRAY', 'Must be an array.']]);
  const issues: FormIssue[] = [];
  const seen = new Set<string>();
  let chatInput = 0;
  list.forEach((command: any, i: number) => {
    const type = command?.type ?? 1;
    if (![1, 2, 3, 4].includes(type)) issues.push([[i, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.']);
    if (type === 1) {
      chatInput++;
      if (!validName(command?.name)) issues.push([[i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid']);
      checkString(issues, [i, 'description'], command?.description, 100, { min: 1, needed: true });
    } else {
      checkString(issues, [i, 'name'], command?.name, 32, { min: 1, needed: true });
      if (command?.description) issues.push([[i, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description']);
    }
    const key = `${type}:${command?.name}`;
    if (seen.has(key)) issues.push([[i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`]);
    seen.add(key);
    if (command?.default_member_permissions !== undefined && command.default_member_permissions !== null && !/^\d+$/.test(String(command.default_member_permissions))) {
      issues.push([[i, 'default_member_permissions'], 'BASE_TYPE_BAD_INT', 'Value "' + command.default_member_permissions + '" is not snowflake.']);
    }
    if (command?.contexts !== undefined && command.contexts !== null && (!Array.isArray(command.contexts) || command.contexts.some((c: unknown) => ![0, 1, 2].includes(c as number)))) {
      issues.push([[i, 'contexts'], 'BASE_TYPE_CHOICES', 'Value must be one of {0, 1, 2}.']);
    }
    if (command?.options !== undefined && command.options !== null) {
      if (type !== 1) issues.push([[i, 'options'], 'APPLICATION_COMMAND_OPTIONS_INVALID', 'Only chat input commands can have options']);
      else validateOptions(issues, [i, 'options'], command.options, 0);
    }
    const total = commandLength(command ?? {});
    if (total > 4000) issues.push([[i], 'APPLICATION_COMMAND_TOO_LARGE', 'Command exceeds maximum size (4000)']);
  });
  if (options.global && chatInput > 100) issues.push([[], 'APPLICATION_COMMANDS_MAX_EXCEEDED', 'Maximum number of application commands reached (100)']);
  if (!options.global && chatInput > 100) issues.push([[], 'APPLICATION_COMMANDS_MAX_EXCEEDED', 'Maximum number of application commands reached (100)']);
  if (issues.length) throw formError(issues);
}

function commandLength(node: Record<string, any>): number {
  let n = [node.name, node.description].filter((s) => typeof s === 'string').reduce((a, s) => a + s.length, 0);
  for (const c of Array.isArray(node.choices) ? node.choices : []) n += String(c?.name ?? '').length + String(c?.value ?? '').length;
  for (const o of Array.isArray(node.options) ? node.options : []) n += commandLength(o ?? {});
  return n;
}

function validateOptions(issues: FormIssue[], at: Array<string | number>, options: unknown, depth: number): void {
  if (!Array.isArray(options)) {
    issues.push([at, 'BASE_TYPE_ARRAY', 'Must be an array.']);
    return;
  }
  if (options.length > 25) issues.push([at, ...maxLength(25)]);
  const subs = options.filter((o: any) => o?.type === OptionType.SubCommand || o?.type === OptionType.SubCommandGroup).length;
  if (subs && subs !== options.length) {
    issues.push([at, 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command and sub-command group option types are mutually exclusive to all other types']);
  }
  const names = new Set<string>();
  let optionalSeen = false;
  options.forEach((o: any, i: number) => {
    const here = [...at, i];
    const type = o?.type;
    if (!Number.isInteger(type) || type < 1 || type > 11) {
      issues.push([[...here, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.']);
      return;
    }
    if (!validName(o.name)) issues.push([[...here, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid']);
    if (names.has(o.name)) issues.push([[...here, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option names must be unique']);
    names.add(o.name);
    checkString(issues, [...here, 'description'], o.description, 100, { min: 1, needed: true });
    if (type === OptionType.SubCommandGroup) {
      if (depth > 0) issues.push([[...here, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Sub-command groups can only be nested in a command']);
      const inner = Array.isArray(o.options) ? o.options : [];
      if (inner.some((x: any) => x?.type !== OptionType.SubCommand)) issues.push([[...here, 'options'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command groups may only contain sub-commands']);
      validateOptions(issues, [...here, 'options'], inner, depth + 1);
      return;
    }
    if (type === OptionType.SubCommand) {
      if (depth > 1) issues.push([[...here, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Sub-commands can only be nested in a command or a group']);
      const inner = Array.isArray(o.options) ? o.options : [];
      if (inner.some((x: any) => x?.type === OptionType.SubCommand || x?.type === OptionType.SubCommandGroup)) {
        issues.push([[...here, 'options'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-commands cannot contain sub-commands or groups']);
      }
      validateOptions(issues, [...here, 'options'], inner, 2);
      return;
    }
    if (o.required) {
      if (optionalSeen) issues.push([[...here, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options']);
    } else optionalSeen = true;
    if (o.options !== undefined) issues.push([[...here, 'options'], 'APPLICATION_COMMAND_OPTIONS_INVALID', 'Only sub-commands and groups have options']);
    if (o.choices !== undefined && o.choices !== null) {
      if (![OptionType.String, OptionType.Integer, OptionType.Number].includes(type)) issues.push([[...here, 'choices'], 'APPLICATION_COMMAND_OPTION_CHOICES_INVALID', 'Only string, integer and number options have choices']);
      if (!Array.isArray(o.choices)) issues.push([[...here, 'choices'], 'BASE_TYPE_ARRAY', 'Must be an array.']);
      else {
        if (o.choices.length > 25) issues.push([[...here, 'choices'], ...maxLength(25)]);
        o.choices.forEach((c: any, k: number) => {
          checkString(issues, [...here, 'choices', k, 'name'], c?.name, 100, { min: 1, needed: true });
          const ok = type === OptionType.String ? typeof c?.value === 'string' && c.value.length >= 1 && c.value.length <= 100
            : type === OptionType.Integer ? Number.isInteger(c?.value) : typeof c?.value === 'number';
          if (!ok) issues.push([[...here, 'choices', k, 'value'], 'APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID', 'Invalid choice value for the option type']);
        });
      }
      if (o.autocomplete && o.choices.length) issues.push([[...here, 'autocomplete'], 'APPLICATION_COMMAND_AUTOCOMPLETE_AND_CHOICES', 'Autocomplete and choices are mutually exclusive']);
    }
    if (o.autocomplete && ![OptionType.String, OptionType.Integer, OptionType.Number].includes(type)) {
      issues.push([[...here, 'autocomplete'], 'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID', 'Only string, integer and number options can autocomplete']);
    }
    for (const bound of ['min_length', 'max_length'] as const) {
      if (o[bound] !== undefined && (type !== OptionType.String || !Number.isInteger(o[bound]) || o[bound] < (bound === 'min_length' ? 0 : 1) || o[bound] > 6000)) {
        issues.push([[...here, bound], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 6000.']);
      }
    }
    for (const bound of ['min_value', 'max_value'] as const) {
      if (o[bound] !== undefined && ![OptionType.Integer, OptionType.Number].includes(type)) issues.push([[...here, bound], 'APPLICATION_COMMAND_OPTION_INVALID', 'Only integer and number options have bounds']);
    }
  });
}

// ---- rate limits ----------------------------------------------------------------------------------

class Window {
  started = 0;
  used = 0;
  constructor(readonly rule: RateRule) {}
  private roll(now: number): void {
    if (now >= this.started + this.rule.windowMs) {
      this.started = now;
      this.used = 0;
    }
  }
  /** 0 when one more fits now, else milliseconds until it would. */
  wait(now: number): number {
    this.roll(now);
    return this.used < this.rule.limit ? 0 : this.started + this.rule.windowMs - now;
  }
  take(now: number): void {
    this.roll(now);
    this.used++;
  }
  remaining(now: number): number {
    this.roll(now);
    return Math.max(0, this.rule.limit - this.used);
  }
  resetAfter(now: number): number {
    this.roll(now);
    return this.started + this.rule.windowMs - now;
  }
}

// ---- the stand-in ---------------------------------------------------------------------------------

interface Session {
  id: string;
  token: string;
  intents: number;
  seq: number;
  buffer: Array<{ op: 0; s: number; t: string; d: unknown }>;
  conn?: Conn;
  ended: boolean;
}

interface Conn {
  ws: WebSocket;
  info: GatewayConnection;
  session?: Session;
  /** Ready to receive dispatches (after READY or RESUMED was sent). */
  live: boolean;
  deflate?: Deflate;
  payloadCompress: boolean;
  chain: Promise<void>;
}

interface Route {
  method: string;
  pattern: RegExp;
  template: string;
  /** Bot token required. */
  auth: boolean;
  /** Counts against the global limit (interaction routes do not). */
  global: boolean;
  /** Index of the match group that is the route's major parameter. */
  major?: number;
  handler: (match: string[], request: ParsedRequest) => { status: number; body?: unknown };
}

interface ParsedRequest {
  method: string;
  body: any;
  query: Record<string, string>;
  files: Array<{ filename: string; size: number }>;
}

export async function startDiscordStandin(options: DiscordStandinOptions = {}): Promise<DiscordStandin> {
  const token = options.token ?? STANDIN_TOKEN_OR_DEFAULT(options);
  const applicationId = options.applicationId ?? STANDIN_APPLICATION_ID;
  const now = options.now ?? Date.now;
  const heartbeatInterval = options.heartbeatIntervalMs ?? 41_250;
  const deadlineMs = options.interactionDeadlineMs ?? 3000;
  const tokenLifetimeMs = options.tokenLifetimeMs ?? 15 * 60_000;
  const privileged = options.privilegedIntents ?? {};
  const allowedPrivileged = (privileged.guildMembers ? PRIVILEGED.guildMembers : 0) | (privileged.presences ? PRIVILEGED.presences : 0) | (privileged.messageContent ? PRIVILEGED.messageContent : 0);
  const applicationFlags = (privileged.guildMembers ? PRIVILEGED_FLAGS.guildMembers : 0) | (privileged.presences ? PRIVILEGED_FLAGS.presences : 0) | (privileged.messageContent ? PRIVILEGED_FLAGS.messageContent : 0);
  const limits = options.limits === false ? undefined : { route: options.limits?.route ?? { limit: 50, windowMs: 1000 }, global: options.limits?.global ?? { limit: 50, windowMs: 1000 } };

  const events = new EventEmitter();
  events.setMaxListeners(1000);
  const notify = () => events.emit('change');

  const botUser: DiscordUser = { id: applicationId, username: options.botName ?? 'CryptoPulse', discriminator: '4321', global_name: null, avatar: null, bot: true, public_flags: 0 };
  const users = new Map<string, DiscordUser & { dmsOpen: boolean }>();
  const guilds = new Map<string, StandinGuild>();
  const channels = new Map<string, StandinChannel>();
  const dmByUser = new Map<string, StandinChannel>();
  const messages = new Map<string, StandinMessage>();
  const interactions = new Map<string, StandinInteraction>();
  const byToken = new Map<string, StandinInteraction>();
  const globalCommands: StoredCommand[] = [];
  const guildCommands = new Map<string, StoredCommand[]>();
  const commandIds = new Map<string, string>();
  const requests: RestCall[] = [];
  const connections: GatewayConnection[] = [];
  const sessions = new Map<string, Session>();
  const conns = new Set<Conn>();
  const counts = { injected429: 0, enforced429: 0, identifies: 0, resumes: 0 };
  const injected429: Array<Inject429 & { remaining: number }> = [];
  const faults: Array<InjectFault & { remaining: number }> = [];
  const buckets = new Map<string, Window>();
  const globalWindow = limits ? new Window(limits.global) : undefined;
  let counter = 0;
  let nextConnId = 1;

  const snowflake = (at = now()): string => ((BigInt(Math.max(at, DISCORD_EPOCH)) - BigInt(DISCORD_EPOCH)) << 22n | BigInt(counter++ & 0x3fffff)).toString();
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

  // ---- model -----------------------------------------------------------------------------------

  function publicUser(u: DiscordUser): DiscordUser {
    const { id, username, discriminator, global_name, avatar, bot, public_flags } = u;
    return { id, username, discriminator, global_name, avatar, ...(bot ? { bot } : {}), public_flags: public_flags ?? 0 };
  }

  function user(o: { id?: string; username: string; globalName?: string; dmsOpen?: boolean }): DiscordUser {
    const u = { id: o.id ?? snowflake(), username: o.username, discriminator: '0', global_name: o.globalName ?? o.username, avatar: null, public_flags: 0, dmsOpen: o.dmsOpen ?? true };
    users.set(u.id, u);
    return u;
  }

  function dmChannel(u: DiscordUser): StandinChannel {
    let channel = dmByUser.get(u.id);
    if (!channel) {
      channel = { id: snowflake(), type: 1, recipient: u };
      dmByUser.set(u.id, channel);
      channels.set(channel.id, channel);
    }
    return channel;
  }

  function guildChannelObject(c: StandinChannel, position: number) {
    return { id: c.id, type: 0, guild_id: c.guildId, name: c.name, position, permission_overwrites: [], nsfw: false, parent_id: null, topic: null, rate_limit_per_user: 0, last_message_id: null, flags: 0 };
  }

  function channelObject(c: StandinChannel) {
    if (c.type === 1) return { id: c.id, type: 1, last_message_id: null, flags: 0, recipients: [publicUser(c.recipient!)] };
    const g = guilds.get(c.guildId!)!;
    return guildChannelObject(c, g.channels.indexOf(c));
  }

  function memberObject(g: StandinGuild, m: StandinMember, withUser = true) {
    return {
      ...(withUser ? { user: publicUser(m.user) } : {}),
      nick: null, avatar: null, banner: null, roles: [], joined_at: m.joinedAt, premium_since: null, deaf: false, mute: false, pending: false, flags: 0,
      communication_disabled_until: null,
      permissions: String(permissionsOf(g, m)),
    };
  }

  function permissionsOf(g: StandinGuild, m: StandinMember): bigint {
    return m.permissions ?? (m.admin || g.ownerId === m.user.id ? ALL_PERMISSIONS : MEMBER_PERMISSIONS);
  }

  function guildObject(g: StandinGuild) {
    const at = iso(now());
    return {
      id: g.id, name: g.name, icon: null, splash: null, discovery_splash: null, banner: null, description: null, owner_id: g.ownerId, afk_channel_id: null, afk_timeout: 300,
      verification_level: 0, default_message_notifications: 0, explicit_content_filter: 0, mfa_level: 0, nsfw_level: 0, premium_tier: 0, premium_subscription_count: 0,
      premium_progress_bar_enabled: false, preferred_locale: 'en-US', system_channel_id: g.channels[0]?.id ?? null, system_channel_flags: 0, rules_channel_id: null,
      public_updates_channel_id: null, safety_alerts_channel_id: null, vanity_url_code: null, application_id: null, features: [], max_members: 500000, max_video_channel_users: 25,
      roles: [{ id: g.id, name: '@everyone', color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, icon: null, unicode_emoji: null, position: 0, permissions: String(MEMBER_PERMISSIONS), managed: false, mentionable: false, flags: 0 }],
      emojis: [], stickers: [], soundboard_sounds: [],
      joined_at: at, large: false, unavailable: false, member_count: g.members.size + 1, voice_states: [], presences: [], stage_instances: [], guild_scheduled_events: [], threads: [],
      members: [{ user: publicUser(botUser), nick: null, avatar: null, roles: [], joined_at: at, premium_since: null, deaf: false, mute: false, pending: false, flags: 0 }],
      channels: g.channels.map((c, i) => guildChannelObject(c, i)),
    };
  }

  function guild(o: { id?: string; name?: string; channels?: string[]; members?: DiscordUser[]; admins?: DiscordUser[]; bot?: boolean }): StandinGuild {
    const id = o.id ?? snowflake();
    // The owner (who has every permission) is the first admin given, else someone outside the test's users.
    const g: StandinGuild = { id, name: o.name ?? `Guild ${guilds.size + 1}`, ownerId: o.admins?.[0]?.id ?? snowflake(), channels: [], members: new Map(), botMember: o.bot ?? true };
    for (const name of o.channels ?? ['general']) {
      const c: StandinChannel = { id: snowflake(), type: 0, guildId: id, name };
      g.channels.push(c);
      channels.set(c.id, c);
    }
    guilds.set(id, g);
    for (const u of o.members ?? []) join(g, u);
    for (const u of o.admins ?? []) join(g, u, { admin: true });
    if (g.botMember) dispatch('GUILD_CREATE', guildObject(g), Intents.Guilds, false);
    return g;
  }

  function join(g: StandinGuild, u: DiscordUser, o: { admin?: boolean; permissions?: bigint } = {}): void {
    g.members.set(u.id, { user: u, admin: o.admin ?? false, permissions: o.permissions, joinedAt: iso(now()) });
  }

  function deleteChannel(c: StandinChannel): void {
    const g = c.guildId ? guilds.get(c.guildId) : undefined;
    // Discord's CHANNEL_DELETE carries the channel object as it was (GUILDS intent).
    const deleted = g ? guildChannelObject(c, g.channels.indexOf(c)) : undefined;
    channels.delete(c.id);
    if (g) g.channels = g.channels.filter((x) => x.id !== c.id);
    if (deleted && g?.botMember) dispatch('CHANNEL_DELETE', deleted, Intents.Guilds);
  }

  // GUILD_DELETE's payload is an unavailable guild object: `unavailable: true` for an outage, the
  // field left out when the bot was removed.
  function removeBot(g: StandinGuild): void {
    g.botMember = false;
    dispatch('GUILD_DELETE', { id: g.id }, Intents.Guilds);
  }

  function addBot(g: StandinGuild): void {
    g.botMember = true;
    dispatch('GUILD_CREATE', guildObject(g), Intents.Guilds);
  }

  function outage(g: StandinGuild): void {
    dispatch('GUILD_DELETE', { id: g.id, unavailable: true }, Intents.Guilds);
  }

  function apiMessage(m: StandinMessage) {
    const out: Record<string, unknown> = {
      id: m.id, type: m.type, channel_id: m.channelId, author: publicUser(m.author), content: m.content, timestamp: iso(m.timestamp),
      edited_timestamp: m.editedTimestamp === undefined ? null : iso(m.editedTimestamp), tts: false, mention_everyone: false, mentions: [], mention_roles: [],
      attachments: m.attachments.map((a, i) => ({ id: String(i), filename: a.filename, size: a.size, url: `https://cdn.discordapp.com/attachments/${m.channelId}/${m.id}/${a.filename}`, proxy_url: '' })),
      embeds: m.embeds, components: m.components, pinned: false, flags: m.flags,
    };
    if (m.interactionId) {
      const i = interactions.get(m.interactionId)!;
      Object.assign(out, { webhook_id: applicationId, application_id: applicationId });
      const meta = { id: i.id, type: i.type, user: publicUser(i.user), authorizing_integration_owners: i.payload.authorizing_integration_owners ?? {} };
      if (i.type === InteractionKind.ApplicationCommand) {
        Object.assign(out, { interaction_metadata: { ...meta, name: fullName(i.data) }, interaction: { id: i.id, type: i.type, name: fullName(i.data), user: publicUser(i.user) } });
      } else {
        Object.assign(out, { interaction_metadata: { ...meta, interacted_message_id: i.sourceMessageId } });
      }
    }
    if (m.replyTo) out.message_reference = { type: 0, message_id: m.replyTo, channel_id: m.channelId, guild_id: m.guildId };
    return out;
  }

  const fullName = (data: Record<string, any>): string => {
    const parts = [data.name];
    let opts = data.options;
    while (Array.isArray(opts) && opts[0] && (opts[0].type === 1 || opts[0].type === 2)) {
      parts.push(opts[0].name);
      opts = opts[0].options;
    }
    return parts.join(' ');
  };

  function storeMessage(fields: Partial<StandinMessage> & { channelId: string }): StandinMessage {
    const channel = channels.get(fields.channelId)!;
    const m: StandinMessage = {
      id: snowflake(), guildId: channel.guildId, author: botUser, content: '', embeds: [], components: [], flags: 0, ephemeral: false, loading: false, type: 0,
      attachments: [], history: [], deleted: false, timestamp: now(), ...fields,
    };
    messages.set(m.id, m);
    return m;
  }

  const normaliseEmbeds = (embeds: any[] | undefined) => (embeds ?? []).map((e) => ({ type: 'rich', ...e }));

  function applyEdit(m: StandinMessage, body: Record<string, any>, files: ParsedRequest['files']): void {
    m.history.push({ content: m.content, embeds: m.embeds, components: m.components });
    if (body.content !== undefined) m.content = body.content ?? '';
    if (body.embeds !== undefined) m.embeds = normaliseEmbeds(body.embeds ?? []);
    if (body.components !== undefined) m.components = body.components ?? [];
    if (body.allowed_mentions !== undefined) m.allowedMentions = body.allowed_mentions;
    if (body.flags !== undefined && body.flags !== null) m.flags = (m.flags & (MessageFlag.Ephemeral | MessageFlag.Loading)) | (body.flags & ~(MessageFlag.Ephemeral | MessageFlag.Loading));
    if (body.attachments !== undefined || files.length) m.attachments = files;
    if (m.loading) {
      m.loading = false;
      m.flags &= ~MessageFlag.Loading;
    }
    m.editedTimestamp = now();
    if (!m.content && !m.embeds.length && !m.components.length && !m.attachments.length) throw jsonError(400, 50006, 'Cannot send an empty message');
  }

  function bodyToMessage(body: Record<string, any>, files: ParsedRequest['files']) {
    return { content: body.content ?? '', embeds: normaliseEmbeds(body.embeds), components: body.components ?? [], allowedMentions: body.allowed_mentions, attachments: files };
  }

  // ---- gateway ---------------------------------------------------------------------------------

  const gatewayPayload = (op: number, d: unknown, s: number | null = null, t: string | null = null) => ({ op, d, s, t });

  function sendRaw(conn: Conn, payload: { op: number; d?: unknown; s?: number | null; t?: string | null }): void {
    const text = JSON.stringify(payload);
    conn.info.sent.push({ op: payload.op, s: payload.s ?? null, t: payload.t ?? null });
    conn.chain = conn.chain.then(
      () =>
        new Promise<void>((resolve) => {
          if (conn.ws.readyState !== conn.ws.OPEN) return resolve();
          if (conn.deflate) {
            const chunks: Buffer[] = [];
            const onData = (chunk: Buffer) => chunks.push(chunk);
            conn.deflate.on('data', onData);
            conn.deflate.write(text);
            conn.deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
              conn.deflate!.off('data', onData);
              if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(Buffer.concat(chunks), { binary: true }, () => resolve());
              else resolve();
            });
            return;
          }
          if (conn.payloadCompress) conn.ws.send(deflateSync(text), { binary: true }, () => resolve());
          else conn.ws.send(text, () => resolve());
        }),
    );
  }

  function closeConn(conn: Conn, code: number, reason: string): void {
    conn.info.closedWith = code;
    conn.info.closedBy = 'server';
    conn.live = false;
    if (conn.session?.conn === conn) conn.session.conn = undefined;
    // Let queued payloads out first, as a real server flushes before its close frame.
    void conn.chain.then(() => conn.ws.close(code, reason));
    notify();
  }

  /** Sends a dispatch to every session (kept in its buffer for a resume when the session is disconnected). */
  function dispatch(t: string, d: unknown, intent?: number, record = true): boolean {
    let delivered = false;
    for (const session of sessions.values()) {
      if (session.ended) continue;
      if (intent !== undefined && !(session.intents & intent)) continue;
      const payload = { op: 0 as const, s: ++session.seq, t, d };
      session.buffer.push(payload);
      if (session.buffer.length > 5000) session.buffer.shift();
      if (session.conn?.live) {
        sendRaw(session.conn, payload);
        delivered = true;
      }
    }
    if (record) notify();
    return delivered;
  }

  function onGatewayMessage(conn: Conn, raw: RawData, isBinary: boolean): void {
    let payload: any;
    try {
      payload = JSON.parse(isBinary ? Buffer.from(raw as Buffer).toString('utf8') : raw.toString());
    } catch {
      return closeConn(conn, 4002, 'Error while decoding payload.');
    }
    if (typeof payload !== 'object' || payload === null || !Number.isInteger(payload.op)) return closeConn(conn, 4002, 'Error while decoding payload.');
    conn.info.received.push({ op: payload.op, d: payload.d });
    notify();
    switch (payload.op) {
      case Op.Heartbeat:
        conn.info.heartbeats++;
        conn.info.acks++;
        sendRaw(conn, gatewayPayload(Op.HeartbeatAck, null));
        notify();
        return;
      case Op.Identify:
        return identify(conn, payload.d);
      case Op.Resume:
        return resume(conn, payload.d);
      case Op.PresenceUpdate:
      case Op.VoiceStateUpdate:
      case Op.RequestGuildMembers:
      case Op.RequestSoundboardSounds:
        if (!conn.session) return closeConn(conn, 4003, 'Not authenticated.');
        return;
      default:
        return closeConn(conn, 4001, 'Unknown opcode.');
    }
  }

  function identify(conn: Conn, d: any): void {
    if (conn.session) return closeConn(conn, 4005, 'Already authenticated.');
    if (typeof d !== 'object' || d === null || typeof d.properties !== 'object' || d.properties === null) return closeConn(conn, 4002, 'Error while decoding payload.');
    if (d.token !== token && d.token !== `Bot ${token}`) return closeConn(conn, 4004, 'Authentication failed.');
    const intents = Number(d.intents);
    if (!Number.isInteger(intents) || intents < 0 || (intents & ~KNOWN_INTENTS) !== 0) return closeConn(conn, 4013, 'Invalid intent(s).');
    const wantedPrivileged = intents & (PRIVILEGED.guildMembers | PRIVILEGED.presences | PRIVILEGED.messageContent);
    if (wantedPrivileged & ~allowedPrivileged) return closeConn(conn, 4014, 'Disallowed intent(s).');
    const shard = d.shard ?? [0, 1];
    if (!Array.isArray(shard) || shard.length !== 2 || !(shard[0] >= 0 && shard[0] < shard[1]) || shard[1] !== 1) return closeConn(conn, 4010, 'Invalid shard.');
    if (d.compress === true) conn.payloadCompress = true;
    counts.identifies++;
    const session: Session = { id: createHash('sha1').update(`${snowflake()}`).digest('hex').slice(0, 32), token, intents, seq: 0, buffer: [], conn, ended: false };
    sessions.set(session.id, session);
    conn.session = session;
    conn.info.identified = true;
    const ready = {
      v: 10, user: { ...publicUser(botUser), verified: true, mfa_enabled: false, flags: 0, email: null },
      guilds: [...guilds.values()].filter((g) => g.botMember).map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id, session_type: 'normal', resume_gateway_url: standin.resumeGatewayUrl, shard,
      application: { id: applicationId, flags: applicationFlags },
      user_settings: {}, private_channels: [], presences: [], relationships: [], guild_join_requests: [], geo_ordered_rtc_regions: ['rotterdam'], auth: {},
      _trace: ['["discord-standin",{"micros":0}]'],
    };
    const readyPayload = { op: 0 as const, s: ++session.seq, t: 'READY', d: ready };
    session.buffer.push(readyPayload);
    sendRaw(conn, readyPayload);
    conn.live = true;
    if (intents & Intents.Guilds) {
      for (const g of guilds.values()) {
        if (!g.botMember) continue;
        const p = { op: 0 as const, s: ++session.seq, t: 'GUILD_CREATE', d: guildObject(g) };
        session.buffer.push(p);
        sendRaw(conn, p);
      }
    }
    notify();
  }

  function resume(conn: Conn, d: any): void {
    if (conn.session) return closeConn(conn, 4005, 'Already authenticated.');
    if (typeof d !== 'object' || d === null) return closeConn(conn, 4002, 'Error while decoding payload.');
    if (d.token !== token && d.token !== `Bot ${token}`) return closeConn(conn, 4004, 'Authentication failed.');
    const session = sessions.get(String(d.session_id));
    const seq = Number(d.seq);
    if (!session || session.ended || !Number.isInteger(seq) || seq > session.seq) {
      sendRaw(conn, gatewayPayload(Op.InvalidSession, false));
      notify();
      return;
    }
    if (session.conn && session.conn !== conn) closeConn(session.conn, 4000, 'Session resumed elsewhere.');
    counts.resumes++;
    session.conn = conn;
    conn.session = session;
    conn.info.resumed = true;
    for (const p of session.buffer) if (p.s > seq) sendRaw(conn, p);
    sendRaw(conn, { op: 0, s: ++session.seq, t: 'RESUMED', d: { _trace: ['["discord-standin",{"micros":0}]'] } });
    conn.live = true;
    notify();
  }

  // ---- interactions ------------------------------------------------------------------------------

  function locate(u: DiscordUser, where: SlashWhere): { channel: StandinChannel; guild?: StandinGuild } {
    if (where === 'dm') return { channel: dmChannel(u) };
    if ('members' in where) {
      const channel = where.channels[0];
      if (!channel) throw new Error(`stand-in: guild ${where.id} has no channel`);
      return { channel, guild: where };
    }
    return { channel: where, guild: where.guildId ? guilds.get(where.guildId) : undefined };
  }

  function interactionBase(u: DiscordUser, channel: StandinChannel, g: StandinGuild | undefined, type: number, data: Record<string, any>): StandinInteraction {
    if (g) {
      if (!g.members.has(u.id)) throw new Error(`stand-in: ${u.username} is not a member of ${g.name}`);
      if (!g.botMember) throw new Error(`stand-in: the bot is not in ${g.name}`);
    }
    const createdAt = now();
    const id = snowflake(createdAt);
    const interactionToken = `aW50ZXJhY3Rpb246${Buffer.from(`${id}:${createHash('sha1').update(id + token).digest('hex')}`).toString('base64url')}`;
    const permissions = String(ALL_PERMISSIONS & ~ADMINISTRATOR);
    const payload: Record<string, any> = {
      id, application_id: applicationId, type, token: interactionToken, version: 1, data,
      channel_id: channel.id, channel: channelObject(channel), locale: 'en-US', app_permissions: permissions, entitlements: [], attachment_size_limit: 10_485_760,
    };
    if (g) {
      Object.assign(payload, {
        guild_id: g.id, guild: { id: g.id, locale: 'en-US', features: [] }, guild_locale: 'en-US', member: memberObject(g, g.members.get(u.id)!),
        context: 0, authorizing_integration_owners: { '0': g.id },
      });
    } else {
      Object.assign(payload, { user: publicUser(u), context: 1, authorizing_integration_owners: { '0': '0' } });
    }
    const interaction: StandinInteraction = {
      id, token: interactionToken, type, user: u, guildId: g?.id, channelId: channel.id, createdAt, data, payload, acknowledged: false, responses: [], followupIds: [], delivered: false,
    };
    interactions.set(id, interaction);
    byToken.set(interactionToken, interaction);
    return interaction;
  }

  function findCommand(name: string, g: StandinGuild | undefined): StoredCommand {
    const found = (g ? guildCommands.get(g.id) ?? [] : []).find((c) => c.type === 1 && c.name === name) ?? globalCommands.find((c) => c.type === 1 && c.name === name);
    if (!found) throw new Error(`stand-in: no command /${name} is registered${g ? ` in ${g.name} or globally` : ' globally'}, so Discord would not offer it`);
    return found;
  }

  function checkAvailable(command: StoredCommand, u: DiscordUser, g: StandinGuild | undefined): void {
    if (!g) {
      if (command.guild_id) throw new Error(`stand-in: /${command.name} is a guild command; Discord does not offer it in DMs`);
      if (command.dm_permission === false || (command.contexts && !command.contexts.includes(1))) throw new Error(`stand-in: /${command.name} is not available in DMs`);
      return;
    }
    if (command.contexts && !command.contexts.includes(0)) throw new Error(`stand-in: /${command.name} is not available in guilds`);
    if (command.default_member_permissions !== null && command.default_member_permissions !== undefined) {
      const member = g.members.get(u.id)!;
      const has = permissionsOf(g, member);
      const needed = BigInt(command.default_member_permissions);
      if (needed === 0n ? !(member.admin || g.ownerId === u.id) : (has & needed) !== needed) {
        throw new Error(`stand-in: /${command.name} needs permissions ${command.default_member_permissions}; Discord hides it from ${u.username}`);
      }
    }
  }

  /** Builds `data.options` as Discord sends them, typed from the command's declaration. */
  function buildOptions(command: StoredCommand, path: string[], values: Record<string, OptionValue>, g: StandinGuild | undefined, focused?: string) {
    const resolved: Record<string, Record<string, unknown>> = {};
    let declared = command.options ?? [];
    const chain: Array<{ name: string; type: number }> = [];
    for (const part of path) {
      const next = declared.find((o) => o.name === part && (o.type === OptionType.SubCommand || o.type === OptionType.SubCommandGroup));
      if (!next) throw new Error(`stand-in: /${command.name} has no sub-command ${part}`);
      chain.push({ name: part, type: next.type });
      declared = next.options ?? [];
    }
    if (declared.some((o) => o.type === OptionType.SubCommand || o.type === OptionType.SubCommandGroup)) {
      throw new Error(`stand-in: /${[command.name, ...path].join(' ')} needs a sub-command; Discord cannot run it alone`);
    }
    const leaf: Array<Record<string, unknown>> = [];
    for (const [name, value] of Object.entries(values)) {
      const o = declared.find((x) => x.name === name);
      if (!o) throw new Error(`stand-in: /${[command.name, ...path].join(' ')} has no option ${name}`);
      if (name === focused) {
        if (!o.autocomplete) throw new Error(`stand-in: option ${name} does not autocomplete`);
        leaf.push({ name, type: o.type, value: String(value), focused: true });
        continue;
      }
      leaf.push({ name, type: o.type, value: typedValue(o, value, resolved, g) });
    }
    if (focused === undefined) {
      for (const o of declared) if (o.required && !(o.name in values)) throw new Error(`stand-in: option ${o.name} is required; Discord would not send the command`);
    } else if (!(focused in values)) throw new Error(`stand-in: the focused option ${focused} needs a (partial) value`);
    let options: Array<Record<string, unknown>> = leaf;
    for (const step of [...chain].reverse()) options = [{ name: step.name, type: step.type, options }];
    return { options, resolved };
  }

  function typedValue(o: Record<string, any>, value: OptionValue, resolved: Record<string, Record<string, unknown>>, g: StandinGuild | undefined): unknown {
    const fail = (why: string) => new Error(`stand-in: option ${o.name}: ${why}`);
    switch (o.type) {
      case OptionType.String: {
        if (typeof value !== 'string') throw fail('a string is expected');
        if (o.min_length !== undefined && value.length < o.min_length) throw fail(`at least ${o.min_length} characters`);
        if (value.length > (o.max_length ?? 6000)) throw fail('too long');
        if (o.choices && !o.choices.some((c: any) => c.value === value)) throw fail(`one of the choices is expected`);
        return value;
      }
      case OptionType.Integer:
      case OptionType.Number: {
        const n = typeof value === 'number' ? value : Number(value);
        if (!Number.isFinite(n) || (o.type === OptionType.Integer && !Number.isInteger(n))) throw fail(o.type === OptionType.Integer ? 'an integer is expected' : 'a number is expected');
        if (o.min_value !== undefined && n < o.min_value) throw fail(`at least ${o.min_value}`);
        if (o.max_value !== undefined && n > o.max_value) throw fail(`at most ${o.max_value}`);
        if (o.choices && !o.choices.some((c: any) => c.value === n)) throw fail('one of the choices is expected');
        return n;
      }
      case OptionType.Boolean:
        if (typeof value !== 'boolean') throw fail('a boolean is expected');
        return value;
      case OptionType.User:
      case OptionType.Mentionable: {
        const u = typeof value === 'string' ? users.get(value) : (value as DiscordUser);
        if (!u || !('username' in u)) throw fail('a user is expected');
        (resolved.users ??= {})[u.id] = publicUser(u);
        const member = g?.members.get(u.id);
        if (g && member) (resolved.members ??= {})[u.id] = { ...memberObject(g, member, false), deaf: undefined, mute: undefined };
        return u.id;
      }
      case OptionType.Channel: {
        const c = typeof value === 'string' ? channels.get(value) : (value as StandinChannel);
        if (!c || !('type' in c)) throw fail('a channel is expected');
        const obj = channelObject(c) as Record<string, unknown>;
        (resolved.channels ??= {})[c.id] = { id: c.id, name: obj.name, type: obj.type, permissions: String(ALL_PERMISSIONS), guild_id: obj.guild_id, parent_id: null, flags: 0 };
        return c.id;
      }
      default:
        throw fail(`option type ${o.type} is not supported by the stand-in`);
    }
  }

  function commandInteraction(u: DiscordUser, where: SlashWhere, name: string, values: Record<string, OptionValue>, focused?: string): StandinInteraction {
    const [root, ...path] = name.trim().replace(/^\//, '').split(/\s+/);
    const { channel, guild: g } = locate(u, where);
    const command = findCommand(root!, g);
    checkAvailable(command, u, g);
    const { options, resolved } = buildOptions(command, path, values, g, focused);
    const data: Record<string, any> = { id: command.id, name: command.name, type: 1, ...(options.length ? { options } : {}), ...(Object.keys(resolved).length ? { resolved } : {}) };
    if (command.guild_id) data.guild_id = command.guild_id;
    return interactionBase(u, channel, g, focused === undefined ? InteractionKind.ApplicationCommand : InteractionKind.Autocomplete, data);
  }

  function deliver(interaction: StandinInteraction): StandinInteraction {
    interaction.delivered = dispatch('INTERACTION_CREATE', interaction.payload);
    return interaction;
  }

  function visible(m: StandinMessage, u?: DiscordUser): boolean {
    return !m.ephemeral || !u || m.visibleTo === u.id;
  }

  // ---- REST handlers -----------------------------------------------------------------------------

  const interactionFor = (id: string, interactionToken: string): StandinInteraction => {
    const i = interactions.get(id);
    if (!i || i.token !== interactionToken) throw unknown.interaction();
    return i;
  };

  function callback(match: string[], req: ParsedRequest) {
    const i = interactionFor(match[1]!, match[2]!);
    if (now() - i.createdAt > deadlineMs) throw unknown.interaction();
    if (i.acknowledged) throw jsonError(400, 40060, 'Interaction has already been acknowledged.');
    const type = req.body?.type;
    const data = req.body?.data ?? undefined;
    const allowed: Record<number, number[]> = {
      [InteractionKind.ApplicationCommand]: [4, 5, 9],
      [InteractionKind.MessageComponent]: [4, 5, 6, 7, 9],
      [InteractionKind.Autocomplete]: [8],
      [InteractionKind.ModalSubmit]: [4, 5, 6, 7],
    };
    if (!allowed[i.type]!.includes(type)) {
      throw formError([[['type'], 'INTERACTION_RESPONSE_TYPE_INVALID', `Interaction response type ${type} is not valid for this interaction`]]);
    }
    let message: StandinMessage | undefined;
    const ephemeral = Boolean((data?.flags ?? 0) & MessageFlag.Ephemeral);
    switch (type) {
      case CallbackType.ChannelMessageWithSource: {
        validateMessage(data ?? {}, { hasFiles: req.files.length > 0 });
        message = storeMessage({
          channelId: i.channelId, ...bodyToMessage(data, req.files), flags: (data.flags ?? 0) & ~MessageFlag.Loading, ephemeral, visibleTo: ephemeral ? i.user.id : undefined,
          type: i.type === InteractionKind.ApplicationCommand ? 20 : 0, interactionId: i.id,
        });
        i.originalId = message.id;
        break;
      }
      case CallbackType.DeferredChannelMessageWithSource: {
        if (data?.flags !== undefined && (data.flags & ~MessageFlag.Ephemeral) !== 0) throw formError([[['data', 'flags'], 'INTERACTION_RESPONSE_FLAGS_INVALID', 'Only the EPHEMERAL flag can be set on a deferred response']]);
        message = storeMessage({
          channelId: i.channelId, flags: MessageFlag.Loading | (ephemeral ? MessageFlag.Ephemeral : 0), ephemeral, visibleTo: ephemeral ? i.user.id : undefined, loading: true,
          type: i.type === InteractionKind.ApplicationCommand ? 20 : 0, interactionId: i.id,
        });
        i.originalId = message.id;
        break;
      }
      case CallbackType.DeferredUpdateMessage:
        i.originalId = i.sourceMessageId;
        break;
      case CallbackType.UpdateMessage: {
        validateMessage(data ?? {}, { edit: true });
        const source = messages.get(i.sourceMessageId ?? '');
        if (!source || source.deleted) throw unknown.message();
        applyEdit(source, data ?? {}, req.files);
        i.originalId = source.id;
        message = source;
        break;
      }
      case CallbackType.AutocompleteResult: {
        const choices = data?.choices;
        const issues: FormIssue[] = [];
        if (!Array.isArray(choices)) issues.push([['data', 'choices'], ...required]);
        else {
          if (choices.length > 25) issues.push([['data', 'choices'], ...maxLength(25)]);
          choices.forEach((c: any, k: number) => {
            checkString(issues, ['data', 'choices', k, 'name'], c?.name, 100, { min: 1, needed: true });
            if (!(typeof c?.value === 'number' || (typeof c?.value === 'string' && c.value.length <= 100))) issues.push([['data', 'choices', k, 'value'], ...maxLength(100)]);
          });
        }
        if (issues.length) throw formError(issues);
        i.choices = choices;
        break;
      }
      case CallbackType.Modal: {
        const issues: FormIssue[] = [];
        checkString(issues, ['data', 'custom_id'], data?.custom_id, 100, { min: 1, needed: true });
        checkString(issues, ['data', 'title'], data?.title, 45, { min: 1, needed: true });
        if (!Array.isArray(data?.components) || data.components.length < 1 || data.components.length > 5) issues.push([['data', 'components'], ...badLength(1, 5)]);
        if (issues.length) throw formError(issues);
        i.modal = data;
        break;
      }
    }
    i.acknowledged = true;
    i.responses.push({ type, data, at: now() });
    if (req.query.with_response === 'true') {
      return {
        status: 200,
        body: {
          interaction: { id: i.id, type: i.type, response_message_id: message?.id, response_message_loading: message?.loading ?? false, response_message_ephemeral: message?.ephemeral ?? false },
          resource: { type, ...(message && (type === 4 || type === 7) ? { message: apiMessage(message) } : {}) },
        },
      };
    }
    return { status: 204 };
  }

  function webhookInteraction(appId: string, interactionToken: string): StandinInteraction {
    if (appId !== applicationId) throw unknown.webhook();
    const i = byToken.get(interactionToken);
    if (!i) throw jsonError(401, 50027, 'Invalid Webhook Token');
    if (now() - i.createdAt > tokenLifetimeMs) throw jsonError(401, 50027, 'Invalid Webhook Token');
    return i;
  }

  function webhookMessage(i: StandinInteraction, which: string): StandinMessage {
    const id = which === '@original' ? i.originalId : which;
    if (!id || (which !== '@original' && !i.followupIds.includes(which) && i.originalId !== which)) throw unknown.message();
    const m = messages.get(id);
    if (!m || m.deleted) throw unknown.message();
    return m;
  }

  function followup(i: StandinInteraction, req: ParsedRequest) {
    if (!i.acknowledged) throw unknown.webhook();
    validateMessage(req.body ?? {}, { hasFiles: req.files.length > 0 });
    const original = i.originalId ? messages.get(i.originalId) : undefined;
    if (original?.loading && !original.deleted) {
      // Documented backwards compatibility: the first follow-up after a defer edits the loading message, keeping its ephemeral state.
      applyEdit(original, req.body, req.files);
      return original;
    }
    const ephemeral = Boolean((req.body.flags ?? 0) & MessageFlag.Ephemeral);
    const m = storeMessage({ channelId: i.channelId, ...bodyToMessage(req.body, req.files), flags: req.body.flags ?? 0, ephemeral, visibleTo: ephemeral ? i.user.id : undefined, interactionId: i.id });
    i.followupIds.push(m.id);
    return m;
  }

  function channelFor(id: string): StandinChannel {
    const c = channels.get(id);
    if (!c) throw unknown.channel();
    if (c.guildId && !guilds.get(c.guildId)?.botMember) throw jsonError(403, 50001, 'Missing Access');
    return c;
  }

  function channelMessage(channelId: string, messageId: string): StandinMessage {
    channelFor(channelId);
    const m = messages.get(messageId);
    if (!m || m.deleted || m.channelId !== channelId || m.ephemeral) throw unknown.message();
    return m;
  }

  function putCommands(list: unknown, guildId: string | undefined): StoredCommand[] {
    validateCommands(list, { global: !guildId });
    const stored = (list as Array<Record<string, any>>).map((c) => storeCommand(c, guildId));
    if (guildId) guildCommands.set(guildId, stored);
    else globalCommands.splice(0, globalCommands.length, ...stored);
    return stored;
  }

  function storeCommand(c: Record<string, any>, guildId: string | undefined): StoredCommand {
    const type = c.type ?? 1;
    const key = `${guildId ?? 'global'}:${type}:${c.name}`;
    let id = commandIds.get(key);
    if (!id) {
      id = snowflake();
      commandIds.set(key, id);
    }
    const stored: StoredCommand = {
      id, application_id: applicationId, version: snowflake(), type, name: c.name, description: c.description ?? '',
      default_member_permissions: c.default_member_permissions ?? null, nsfw: c.nsfw ?? false,
      name_localizations: c.name_localizations ?? null, description_localizations: c.description_localizations ?? null,
      contexts: c.contexts ?? null, integration_types: c.integration_types ?? [0],
      ...(c.options ? { options: c.options } : {}),
      ...(guildId ? { guild_id: guildId } : { dm_permission: c.dm_permission ?? true }),
    };
    return stored;
  }

  const SNOW = '(\\d{1,20})';
  const routes: Route[] = [];
  const route = (method: string, path: string, template: string, o: { auth?: boolean; global?: boolean; major?: number }, handler: Route['handler']) =>
    routes.push({ method, pattern: new RegExp(`^${path}$`), template: `${method} ${template}`, auth: o.auth ?? true, global: o.global ?? true, major: o.major, handler });

  route('GET', '/gateway', '/gateway', { auth: false }, () => ({ status: 200, body: { url: standin.gatewayUrl } }));
  route('GET', '/gateway/bot', '/gateway/bot', {}, () => ({
    status: 200,
    body: { url: standin.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: Math.max(0, 1000 - counts.identifies), reset_after: 86_400_000, max_concurrency: 1 } },
  }));
  route('GET', '/users/@me', '/users/@me', {}, () => ({ status: 200, body: { ...publicUser(botUser), verified: true, mfa_enabled: false, flags: 0, email: null, locale: 'en-US', premium_type: 0 } }));
  route('GET', `/users/${SNOW}`, '/users/:id', {}, (m) => {
    const u = m[1] === botUser.id ? botUser : users.get(m[1]!);
    if (!u) throw unknown.user();
    return { status: 200, body: publicUser(u) };
  });
  route('GET', '/applications/@me', '/applications/@me', {}, () => ({
    status: 200,
    body: { id: applicationId, name: botUser.username, icon: null, description: '', bot_public: true, bot_require_code_grant: false, verify_key: '0'.repeat(64), flags: applicationFlags, team: null, bot: publicUser(botUser), owner: { id: '1', username: 'owner', discriminator: '0', global_name: null, avatar: null }, integration_types_config: { '0': {} }, approximate_guild_count: guilds.size },
  }));
  route('POST', '/users/@me/channels', '/users/@me/channels', {}, (_m, req) => {
    const id = String(req.body?.recipient_id ?? '');
    if (!id) throw formError([[['recipient_id'], ...required]]);
    const u = users.get(id);
    if (!u) throw unknown.user();
    return { status: 200, body: channelObject(dmChannel(u)) };
  });
  route('GET', `/channels/${SNOW}`, '/channels/:id', { major: 1 }, (m) => ({ status: 200, body: channelObject(channelFor(m[1]!)) }));
  route('POST', `/channels/${SNOW}/typing`, '/channels/:id/typing', { major: 1 }, (m) => {
    channelFor(m[1]!);
    return { status: 204 };
  });
  route('POST', `/channels/${SNOW}/messages`, '/channels/:id/messages', { major: 1 }, (m, req) => {
    const c = channelFor(m[1]!);
    if (c.type === 1) {
      const u = users.get(c.recipient!.id);
      if (!u?.dmsOpen) throw jsonError(403, 50007, 'Cannot send messages to this user');
    }
    validateMessage(req.body ?? {}, { hasFiles: req.files.length > 0 });
    const replyTo = req.body?.message_reference?.message_id;
    if (replyTo && !messages.has(String(replyTo)) && req.body.message_reference.fail_if_not_exists !== false) {
      throw formError([[['message_reference'], 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message']]);
    }
    const message = storeMessage({ channelId: c.id, ...bodyToMessage(req.body, req.files), flags: (req.body.flags ?? 0) & (MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications | MessageFlag.IsComponentsV2), type: replyTo ? 19 : 0, replyTo: replyTo ? String(replyTo) : undefined });
    return { status: 200, body: apiMessage(message) };
  });
  route('GET', `/channels/${SNOW}/messages/${SNOW}`, '/channels/:id/messages/:id', { major: 1 }, (m) => ({ status: 200, body: apiMessage(channelMessage(m[1]!, m[2]!)) }));
  route('PATCH', `/channels/${SNOW}/messages/${SNOW}`, '/channels/:id/messages/:id', { major: 1 }, (m, req) => {
    const message = channelMessage(m[1]!, m[2]!);
    if (message.author.id !== botUser.id || message.interactionId) throw jsonError(403, 50005, 'Cannot edit a message authored by another user');
    validateMessage(req.body ?? {}, { edit: true });
    applyEdit(message, req.body ?? {}, req.files);
    return { status: 200, body: apiMessage(message) };
  });
  route('DELETE', `/channels/${SNOW}/messages/${SNOW}`, '/channels/:id/messages/:id', { major: 1 }, (m) => {
    const message = channelMessage(m[1]!, m[2]!);
    const c = channels.get(m[1]!)!;
    if (message.author.id !== botUser.id && c.type === 1) throw jsonError(403, 50003, 'Cannot execute action on a DM channel');
    message.deleted = true;
    return { status: 204 };
  });
  route('POST', `/interactions/${SNOW}/([^/]+)/callback`, '/interactions/:id/:token/callback', { auth: false, global: false, major: 1 }, callback);
  route('POST', `/webhooks/${SNOW}/([^/]+)`, '/webhooks/:id/:token', { auth: false, global: false, major: 2 }, (m, req) => {
    const i = webhookInteraction(m[1]!, m[2]!);
    return { status: 200, body: apiMessage(followup(i, req)) };
  });
  route('GET', `/webhooks/${SNOW}/([^/]+)/messages/(@original|\\d{1,20})`, '/webhooks/:id/:token/messages/:id', { auth: false, global: false, major: 2 }, (m) => {
    const i = webhookInteraction(m[1]!, m[2]!);
    return { status: 200, body: apiMessage(webhookMessage(i, m[3]!)) };
  });
  route('PATCH', `/webhooks/${SNOW}/([^/]+)/messages/(@original|\\d{1,20})`, '/webhooks/:id/:token/messages/:id', { auth: false, global: false, major: 2 }, (m, req) => {
    const i = webhookInteraction(m[1]!, m[2]!);
    const message = webhookMessage(i, m[3]!);
    validateMessage(req.body ?? {}, { edit: true });
    applyEdit(message, req.body ?? {}, req.files);
    return { status: 200, body: apiMessage(message) };
  });
  route('DELETE', `/webhooks/${SNOW}/([^/]+)/messages/(@original|\\d{1,20})`, '/webhooks/:id/:token/messages/:id', { auth: false, global: false, major: 2 }, (m) => {
    const i = webhookInteraction(m[1]!, m[2]!);
    if (m[3] === '@original' && i.originalId === i.sourceMessageId && i.sourceMessageId) {
      // A component interaction's @original is the message the button was on; it can be deleted too.
    }
    webhookMessage(i, m[3]!).deleted = true;
    return { status: 204 };
  });
  const checkApp = (id: string) => {
    if (id !== applicationId) throw jsonError(403, 20012, 'You are not authorized to perform this action on this application');
  };
  const checkGuild = (id: string) => {
    const g = guilds.get(id);
    if (!g) throw unknown.guild();
    if (!g.botMember) throw jsonError(403, 50001, 'Missing Access');
  };
  route('GET', `/applications/${SNOW}/commands`, '/applications/:id/commands', {}, (m) => {
    checkApp(m[1]!);
    return { status: 200, body: globalCommands };
  });
  route('PUT', `/applications/${SNOW}/commands`, '/applications/:id/commands', {}, (m, req) => {
    checkApp(m[1]!);
    return { status: 200, body: putCommands(req.body, undefined) };
  });
  route('POST', `/applications/${SNOW}/commands`, '/applications/:id/commands', {}, (m, req) => {
    checkApp(m[1]!);
    validateCommands([req.body], { global: true });
    const stored = storeCommand(req.body, undefined);
    const at = globalCommands.findIndex((c) => c.name === stored.name && c.type === stored.type);
    if (at >= 0) globalCommands[at] = stored;
    else globalCommands.push(stored);
    return { status: at >= 0 ? 200 : 201, body: stored };
  });
  route('DELETE', `/applications/${SNOW}/commands/${SNOW}`, '/applications/:id/commands/:id', {}, (m) => {
    checkApp(m[1]!);
    const at = globalCommands.findIndex((c) => c.id === m[2]);
    if (at < 0) throw unknown.command();
    globalCommands.splice(at, 1);
    return { status: 204 };
  });
  route('GET', `/applications/${SNOW}/guilds/${SNOW}/commands`, '/applications/:id/guilds/:id/commands', { major: 2 }, (m) => {
    checkApp(m[1]!);
    checkGuild(m[2]!);
    return { status: 200, body: guildCommands.get(m[2]!) ?? [] };
  });
  route('PUT', `/applications/${SNOW}/guilds/${SNOW}/commands`, '/applications/:id/guilds/:id/commands', { major: 2 }, (m, req) => {
    checkApp(m[1]!);
    checkGuild(m[2]!);
    return { status: 200, body: putCommands(req.body, m[2]!) };
  });
  route('POST', `/applications/${SNOW}/guilds/${SNOW}/commands`, '/applications/:id/guilds/:id/commands', { major: 2 }, (m, req) => {
    checkApp(m[1]!);
    checkGuild(m[2]!);
    validateCommands([req.body], { global: false });
    const list = guildCommands.get(m[2]!) ?? [];
    const stored = storeCommand(req.body, m[2]!);
    const at = list.findIndex((c) => c.name === stored.name && c.type === stored.type);
    if (at >= 0) list[at] = stored;
    else list.push(stored);
    guildCommands.set(m[2]!, list);
    return { status: at >= 0 ? 200 : 201, body: stored };
  });
  route('DELETE', `/applications/${SNOW}/guilds/${SNOW}/commands/${SNOW}`, '/applications/:id/guilds/:id/commands/:id', { major: 2 }, (m) => {
    checkApp(m[1]!);
    const list = guildCommands.get(m[2]!) ?? [];
    const at = list.findIndex((c) => c.id === m[3]);
    if (at < 0) throw unknown.command();
    list.splice(at, 1);
    return { status: 204 };
  });

  // ---- HTTP ------------------------------------------------------------------------------------

  const bucketHash = (template: string) => createHash('sha1').update(template).digest('hex').slice(0, 16);

  function rateHeaders(template: string, window: Window | undefined, at: number): Record<string, string> {
    const limit = window?.rule.limit ?? 50;
    const resetAfter = window ? window.resetAfter(at) / 1000 : 1;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(window ? window.remaining(at) : limit),
      'x-ratelimit-reset': ((at / 1000) + resetAfter).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': bucketHash(template),
    };
  }

  const matches = (target: string | RegExp | undefined, template: string, actual: string) =>
    target === undefined || (typeof target === 'string' ? target === template || target === actual : target.test(actual));

  async function readBody(req: IncomingMessage): Promise<{ body: any; files: ParsedRequest['files'] }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    if (!raw.length) return { body: undefined, files: [] };
    if (type.startsWith('application/json')) {
      try {
        return { body: JSON.parse(raw.toString('utf8')), files: [] };
      } catch {
        throw jsonError(400, 50109, 'The request body contains invalid JSON.');
      }
    }
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://standin/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
      const files: ParsedRequest['files'] = [];
      let body: any = {};
      for (const [key, value] of form.entries()) {
        if (key === 'payload_json') body = JSON.parse(String(value));
        else if (typeof value !== 'string') files.push({ filename: value.name, size: value.size });
      }
      return { body, files };
    }
    throw jsonError(400, 50035, 'Invalid Form Body');
  }

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    if (res.writableEnded || res.destroyed) return;
    if (body === undefined) {
      // No content type on an empty answer: @discordjs/rest would try to parse it as JSON.
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const versioned = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
    const path = versioned ? versioned[2]!.split('/').map((s) => decodeURIComponent(s)).join('/') : url.pathname;
    const call: RestCall = {
      method, path, route: `${method} ${path}`, query: Object.fromEntries(url.searchParams), body: undefined, status: 0, at: Date.now(),
      authorized: false, userAgent: req.headers['user-agent'],
    };
    let headers: Record<string, string> = {};
    try {
      if (!versioned) throw jsonError(404, 0, '404: Not Found');
      if (versioned[1] !== '10' && versioned[1] !== '9') throw jsonError(400, 50041, 'Invalid API version provided');
      const found = routes.map((r) => ({ r, m: r.method === method ? r.pattern.exec(path) : null })).find((x) => x.m);
      if (!found) {
        const anyMethod = routes.some((r) => r.pattern.test(path));
        throw anyMethod ? jsonError(405, 0, '405: Method Not Allowed') : jsonError(404, 0, '404: Not Found');
      }
      const { r, m } = found;
      call.route = r.template;
      const authHeader = req.headers.authorization;
      call.authorized = authHeader === `Bot ${token}`;
      if (r.auth && !call.authorized) throw jsonError(401, 0, '401: Unauthorized');
      const { body, files } = await readBody(req);
      call.body = body;
      const realNow = Date.now();
      const bucketKey = `${r.template}:${r.major !== undefined ? m![r.major] : ''}`;
      let window = buckets.get(bucketKey);
      if (!window && limits) buckets.set(bucketKey, (window = new Window(limits.route)));
      headers = rateHeaders(r.template, window, realNow);
      // Injected 429s first, then the stand-in's own limits.
      const inj = injected429.findIndex((x) => matches(x.route, r.template, `${method} ${path}`));
      if (inj >= 0) {
        const x = injected429[inj]!;
        if (--x.remaining <= 0) injected429.splice(inj, 1);
        counts.injected429++;
        call.injected = true;
        const retryAfter = x.retryAfter ?? 1;
        const scope = x.scope ?? (x.global ? 'global' : 'user');
        const h: Record<string, string> = {
          ...(x.global ? {} : { ...headers, 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': retryAfter.toFixed(3), 'x-ratelimit-reset': (realNow / 1000 + retryAfter).toFixed(3) }),
          'retry-after': String(x.retryAfterHeader ?? Math.ceil(retryAfter)),
          'x-ratelimit-scope': scope,
          ...(x.global ? { 'x-ratelimit-global': 'true' } : {}),
        };
        throw new DiscordError(429, { message: scope === 'shared' ? 'The resource is being rate limited.' : 'You are being rate limited.', retry_after: retryAfter, global: Boolean(x.global) }, h);
      }
      if (limits && r.global && globalWindow) {
        const wait = globalWindow.wait(realNow);
        if (wait > 0) {
          counts.enforced429++;
          call.enforced = true;
          throw new DiscordError(429, { message: 'You are being rate limited.', retry_after: wait / 1000, global: true }, { 'retry-after': String(Math.ceil(wait / 1000)), 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' });
        }
      }
      if (window) {
        const wait = window.wait(realNow);
        if (wait > 0) {
          counts.enforced429++;
          call.enforced = true;
          throw new DiscordError(429, { message: 'You are being rate limited.', retry_after: wait / 1000, global: false }, { ...headers, 'retry-after': String(Math.ceil(wait / 1000)), 'x-ratelimit-scope': 'user' });
        }
      }
      const fault = faults.findIndex((f) => matches(f.route, r.template, `${method} ${path}`));
      if (fault >= 0) {
        const f = faults[fault]!;
        if (--f.remaining <= 0) faults.splice(fault, 1);
        call.injected = true;
        throw jsonError(f.status, f.code ?? 0, f.message ?? (f.status >= 500 ? '500: Internal Server Error' : 'Injected fault'));
      }
      if (r.global) globalWindow?.take(realNow);
      window?.take(realNow);
      headers = rateHeaders(r.template, window, realNow);
      const result = r.handler(m!, { method, body, query: call.query, files });
      call.status = result.status;
      call.response = result.body;
      requests.push(call);
      answer(res, result.status, result.body, headers);
    } catch (error) {
      const e = error instanceof DiscordError ? error : new DiscordError(500, { message: `stand-in: ${error instanceof Error ? error.message : String(error)}`, code: 0 });
      call.status = e.status;
      call.code = typeof e.body.code === 'number' ? e.body.code : undefined;
      call.response = e.body;
      requests.push(call);
      answer(res, e.status, e.body, { ...headers, ...e.headers });
    } finally {
      notify();
    }
  });

  // ---- WebSocket -------------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket: Socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/gateway' && url.pathname !== '/resume') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    if ((url.searchParams.get('encoding') ?? 'json') !== 'json') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\nstand-in: only encoding=json is supported');
      return;
    }
    const compress = url.searchParams.get('compress');
    if (compress !== null && compress !== 'zlib-stream') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\nstand-in: only compress=zlib-stream is supported');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const info: GatewayConnection = {
        id: nextConnId++, path: url.pathname, query: Object.fromEntries(url.searchParams), received: [], sent: [], heartbeats: 0, acks: 0, identified: false, resumed: false,
        compression: compress ? 'zlib-stream' : 'none',
      };
      connections.push(info);
      const conn: Conn = { ws, info, live: false, payloadCompress: false, chain: Promise.resolve(), deflate: compress ? createDeflate() : undefined };
      conns.add(conn);
      ws.on('message', (data, isBinary) => onGatewayMessage(conn, data, isBinary));
      ws.on('close', (code) => {
        conns.delete(conn);
        conn.deflate?.close();
        if (info.closedWith === undefined) {
          info.closedWith = code;
          info.closedBy = 'client';
        }
        conn.live = false;
        if (conn.session?.conn === conn) conn.session.conn = undefined;
        // A client closing with 1000 or 1001 ends its session: it cannot resume it.
        if (info.closedBy === 'client' && (code === 1000 || code === 1001) && conn.session) conn.session.ended = true;
        notify();
      });
      ws.on('error', () => undefined);
      if (url.searchParams.get('v') !== '10') {
        closeConn(conn, 4012, 'Invalid API version.');
        return;
      }
      sendRaw(conn, gatewayPayload(Op.Hello, { heartbeat_interval: heartbeatInterval, _trace: ['["discord-standin",{"micros":0}]'] }));
      notify();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const liveConns = () => [...conns].filter((c) => c.ws.readyState === c.ws.OPEN);

  const standin: DiscordStandin = {
    api: `http://127.0.0.1:${port}/api`,
    gatewayUrl: `ws://127.0.0.1:${port}/gateway`,
    resumeGatewayUrl: `ws://127.0.0.1:${port}/resume`,
    token,
    applicationId,
    botUser,
    requests,
    connections,
    interactions,
    counts,
    user,
    guild,
    join,
    deleteChannel,
    removeBot,
    addBot,
    outage,
    dmChannel,
    channel: (id) => channels.get(id),
    setDmsOpen: (u, open) => {
      const found = users.get(u.id);
      if (found) found.dmsOpen = open;
    },
    slash: async (u, where, name, values = {}) => deliver(commandInteraction(u, where, name, values)),
    autocomplete: async (u, where, name, values, focused) => deliver(commandInteraction(u, where, name, values, focused)),
    press: async (u, target, customId) => {
      const m = typeof target === 'string' ? messages.get(target) : messages.get(target.id);
      if (!m || m.deleted) throw new Error('stand-in: no such message');
      if (!visible(m, u)) throw new Error(`stand-in: ${u.username} cannot see that ephemeral message`);
      const button = standin.buttons(m).find((b) => b.customId === customId);
      const select = m.components.flatMap((row) => row.components ?? []).find((c: any) => c.custom_id === customId && c.type !== 2);
      if (!button && !select) throw new Error(`stand-in: no component ${customId} on message ${m.id}`);
      if (button?.disabled) throw new Error(`stand-in: button ${customId} is disabled`);
      const channel = channels.get(m.channelId)!;
      const g = channel.guildId ? guilds.get(channel.guildId) : undefined;
      const i = interactionBase(u, channel, g, InteractionKind.MessageComponent, { custom_id: customId, component_type: button ? 2 : 3, ...(select ? { values: [] } : {}) });
      i.payload.message = apiMessage(m);
      i.sourceMessageId = m.id;
      return deliver(i);
    },
    dispatch: (event, data) => void dispatch(event, data),
    messages: (channelId, o = {}) =>
      [...messages.values()].filter((m) => m.channelId === channelId && (o.includeDeleted || !m.deleted) && visible(m, o.as)).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)),
    dms: (u) => standin.messages(dmChannel(u).id, { as: u }).filter((m) => m.author.id === botUser.id),
    message: (id) => messages.get(id),
    original: (i) => {
      const found = typeof i === 'string' ? interactions.get(i) : i;
      return found?.originalId ? messages.get(found.originalId) : undefined;
    },
    followups: (i) => {
      const found = typeof i === 'string' ? interactions.get(i) : i;
      return (found?.followupIds ?? []).map((id) => messages.get(id)!).filter(Boolean);
    },
    commands: (guildId) => (guildId ? guildCommands.get(guildId) ?? [] : globalCommands),
    textOf: (m) =>
      [m.content, ...m.embeds.flatMap((e) => [e.author?.name, e.title, e.description, ...(e.fields ?? []).flatMap((f: any) => [f.name, f.value]), e.footer?.text])]
        .filter((s): s is string => typeof s === 'string' && s.length > 0)
        .join('\n'),
    buttons: (m) =>
      m.components.flatMap((row) => (row.components ?? []) as Array<Record<string, any>>).filter((c) => c.type === 2).map((c) => ({
        label: c.label, customId: c.custom_id, style: c.style, url: c.url, disabled: Boolean(c.disabled),
      })),
    inject429: (o = {}) => void injected429.push({ ...o, remaining: o.count ?? 1 }),
    inject: (fault) => void faults.push({ ...fault, remaining: fault.count ?? 1 }),
    dropConnection: (o = {}) => {
      for (const conn of liveConns()) {
        if (o.resumable === false && conn.session) conn.session.ended = true;
        if (conn.session?.conn === conn) conn.session.conn = undefined;
        conn.live = false;
        if (o.abrupt) {
          conn.info.closedWith = 1006;
          conn.info.closedBy = 'server';
          conn.ws.terminate();
        } else closeConn(conn, o.code ?? 4000, 'Unknown error.');
      }
      notify();
    },
    sendReconnect: () => liveConns().forEach((c) => sendRaw(c, gatewayPayload(Op.Reconnect, null))),
    invalidateSession: (resumable = false) =>
      liveConns().forEach((c) => {
        if (!resumable && c.session) c.session.ended = true;
        c.live = false;
        sendRaw(c, gatewayPayload(Op.InvalidSession, resumable));
        if (c.session?.conn === c) c.session.conn = undefined;
        c.session = undefined;
      }),
    requestHeartbeat: () => liveConns().forEach((c) => sendRaw(c, gatewayPayload(Op.Heartbeat, null))),
    waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 4000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          let value: T | undefined | null | false;
          try {
            value = probe();
          } catch (error) {
            cleanup();
            reject(error);
            return;
          }
          if (value) {
            cleanup();
            resolve(value);
          }
        };
        const interval = setInterval(check, 10);
        const timer = setTimeout(() => {
          cleanup();
          const recent = requests.slice(-8).map((c) => `${c.route} ${c.status}${c.code !== undefined ? ` (${c.code})` : ''}`).join('\n  ');
          const gw = connections.slice(-3).map((c) => `${c.path} ops ${c.received.map((r) => r.op).join(',')} closed ${c.closedWith ?? '-'}`).join('\n  ');
          reject(new Error(`stand-in: waited ${timeoutMs} ms in vain. Last requests:\n  ${recent}\nGateway:\n  ${gw}`));
        }, timeoutMs);
        const cleanup = () => {
          clearInterval(interval);
          clearTimeout(timer);
          events.off('change', check);
        };
        events.on('change', check);
        check();
      });
    },
    close: async () => {
      for (const conn of conns) conn.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return standin;
}

function STANDIN_TOKEN_OR_DEFAULT(options: DiscordStandinOptions): string {
  return options.applicationId ? `${Buffer.from(options.applicationId).toString('base64')}.GStand.in-token-for-tests_abcdefghijklmnopqrstuvwxyz012` : STANDIN_DISCORD_TOKEN;
}
