/**
 * The core in Discord, through discord.js, as a chat adapter (core/chat-adapter.ts). This file only
 * assembles the parts every adapter has:
 *   interactions.ts  event intake → dispatch: slash commands, button presses, autocomplete
 *   replies.ts       rendering (render.ts) and sending, through discord.js's REST manager
 *   commands.ts      the slash commands, from the core's registry, and interactions back to commands
 *   membership.ts    a server that removed the bot, a deleted channel, a server that added it back,
 *                    told to the store at once (pushes then skip those channels)
 * and mapping.ts says how Discord's users, channels and interactions map to the core's.
 *
 * It runs with a gateway session (answers interactions and sends) or send-only (REST, no session),
 * and switches between them: on several instances only the job leader holds a session
 * (src/gateway-leadership.ts), so each interaction is answered once.
 *
 * The client asks for the Guilds intent only (no privileged intent: slash commands need no message
 * content), caches only what it uses, and mentions nobody (allowedMentions parse: []). Everything
 * outbound goes through discord.js's REST manager, which keeps to the rate-limit headers and waits
 * out a 429's retry_after.
 */
import { Client, DiscordjsErrorCodes, Events, GatewayIntentBits, Options, Routes, type ClientOptions } from 'discord.js';
import type { Core } from '../../core/app';
import { ChatButtons, type ButtonTtls } from '../../core/buttons';
import type { ChatAdapter } from '../../core/chat-adapter';
import type { LinkedIdentity } from '../../core/domain';
import type { RichMessage } from '../../core/messages';
import type { Delivery, Logger } from '../../core/ports';
import { notOurs, notRunning, reasonOf } from '../shared/delivery';
import { registerCommands } from './commands';
import { createInteractionIntake } from './interactions';
import { discordId } from './mapping';
import { watchMembership } from './membership';
import { codeOf, createReplies, DiscordCodes, errorSummary } from './replies';

export interface DiscordBotOptions {
  token: string;
  applicationId: string;
  /** Register the commands in this server (they show at once) instead of globally. */
  guildId?: string;
  /** Another API base (a test stand-in), e.g. http://127.0.0.1:8080/api. The gateway address then
   *  comes from its GET /gateway/bot. Default Discord's. */
  apiUrl?: string;
  /** Overwrite the application's commands from the registry at start. Default true. */
  registerAtStart?: boolean;
  core: Core;
  logger: Logger;
  /** Clock for button expiry and "updated at" notes. Default: the core's clock. */
  now?: () => number;
  /** How long buttons work. */
  buttonTtl?: Partial<ButtonTtls>;
  /** How long the core may take before an answer is deferred. Default 1500 ms (Discord allows 3 s
   *  from the interaction's creation, including the trip to the bot). */
  deferAfterMs?: number;
  /** Whether start() connects to the gateway and answers interactions (true, the default), or
   *  only sends over REST until connectGateway() (several instances: the job leader answers). */
  gateway?: boolean;
  /** How long start() waits for the gateway to be ready. Default 30 s. */
  readyTimeoutMs?: number;
  /** Test hooks: extra milliseconds added to rate-limit waits (discord.js default 50), and whether
   *  to keep discord.js's 5 s wait between IDENTIFYs (on by default; tests that reconnect lift it). */
  tuning?: { restOffsetMs?: number; identifyThrottle?: boolean };
}

export interface DiscordBot extends ChatAdapter {
  /** The gateway session's client while one is open, else the REST-only client that sends pushes. */
  readonly client: Client;
  /** Opens a gateway session: from then on this instance answers slash commands and buttons. */
  connectGateway(): Promise<void>;
  /** Closes the gateway session once the interactions in flight are answered; pushes still go
   *  out over REST (send-only). */
  disconnectGateway(): Promise<void>;
}

/** REST: a slow Discord answer is given up after 15 s and retried twice (5xx and network errors;
 *  429s are waited out and retried by the REST manager as Discord says). */
const REST_TIMEOUT_MS = 15_000;
const REST_RETRIES = 2;
const STOP_DRAIN_MS = 5000;
/** How long stopReceiving() waits for the interactions in flight: an answer deferred past 3 s may
 *  take the core a while yet, and the shutdown (src/shutdown.ts) bounds the whole sequence anyway. */
const STOP_RECEIVING_MS = 60_000;

/** One gateway connection and what answers on it. A discord.js Client cannot log in again once
 *  destroyed (its gateway manager stays "destroyed"), so every session gets a client of its own. */
interface GatewaySession {
  client: Client;
  intake: ReturnType<typeof createInteractionIntake>;
  membership: ReturnType<typeof watchMembership>;
}

/**
 * Two modes (README "Several instances"): with the gateway, the bot answers interactions and
 * sends; send-only, it sends pushes over REST and holds no gateway session, so Discord delivers
 * each interaction to the one instance that has one (the job leader; src/gateway-leadership.ts).
 * `options.gateway` (default true) says which start() begins in; connectGateway() and
 * disconnectGateway() switch. Pushes always leave through `sender`, a client that never logs in
 * (only its REST manager has the token), so they work the same in both modes and across switches.
 */
export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const { core, logger } = options;
  const now = options.now ?? (() => core.services.clock.now());
  const buttons = new ChatButtons(core.services.store, now, options.buttonTtl);
  const sender = new Client(clientOptions(options));
  watchRateLimits(sender, logger);
  const pushes = createReplies({ client: sender, buttons, logger, now, registry: core.registry });
  let running = false;
  let stopped = false;
  /** False once stopReceiving() ran: no new session opens, and the open one turns interactions away. */
  let receiving = true;
  /** Whether this instance is meant to hold a gateway session (it answers interactions). */
  let wantGateway = false;
  let session: GatewaySession | undefined;
  let opening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  function openSession(): GatewaySession {
    const client = new Client(clientOptions(options));
    const replies = createReplies({ client, buttons, logger, now, registry: core.registry });
    const intake = createInteractionIntake({ core, logger, now, buttons, replies, deferAfterMs: options.deferAfterMs ?? 1500 });
    // A server that removed the bot, a deleted channel, a server that added it back: told to the store.
    const membership = watchMembership({ client, store: core.services.store, logger, now });
    client.on(Events.InteractionCreate, (interaction) => {
      void intake.handle(interaction);
    });
    client.on(Events.Error, (error) => logger.error({ ...errorSummary(error) }, 'discord client error'));
    client.on(Events.ShardDisconnect, (event, shardId) => logger.warn({ shardId, code: event.code }, 'discord gateway closed for good'));
    client.on(Events.ShardResume, (shardId, replayed) => logger.info({ shardId, replayed }, 'discord gateway resumed'));
    watchRateLimits(client, logger);
    return { client, intake, membership };
  }

  /** Logs in a new session and waits for READY; on failure nothing is left open. */
  async function connect(): Promise<void> {
    await closing;
    if (session || stopped || !receiving) return;
    const opened = openSession();
    session = opened;
    const ready = readyOrFailure(opened.client, options.readyTimeoutMs ?? 30_000);
    try {
      await opened.client.login(options.token);
      await ready.promise;
    } catch (error) {
      ready.cancel();
      session = undefined;
      await opened.client.destroy().catch(() => undefined);
      throw startError(error);
    }
    logger.info({ user: opened.client.user?.tag, applicationId: options.applicationId, guilds: opened.client.guilds.cache.size }, 'discord gateway connected: this instance answers interactions');
  }

  /** New interactions are turned away, those in flight are answered, then the session closes. */
  function disconnect(): Promise<void> {
    closing ??= (async () => {
      await opening?.catch(() => undefined);
      const closed = session;
      if (!closed) return;
      closed.intake.close();
      await closed.intake.drain(STOP_DRAIN_MS);
      await closed.membership.drain(STOP_DRAIN_MS);
      session = undefined;
      await closed.client.destroy().catch((error) => logger.warn({ ...errorSummary(error) }, 'discord client did not close cleanly'));
      logger.info({ applicationId: options.applicationId }, 'discord gateway closed: this instance only sends');
    })().finally(() => (closing = undefined));
    return closing;
  }

  function connectGateway(): Promise<void> {
    wantGateway = true;
    opening ??= connect().finally(() => (opening = undefined));
    return opening;
  }

  /** A whole message to one channel, as the contract wants it (see Delivery). */
  async function post(channelId: string, message: RichMessage, owner: string | undefined, what: Record<string, unknown>): Promise<Delivery> {
    if (!running) return notRunning('discord');
    try {
      await pushes.post(channelId, message, owner);
      return { status: 'sent' };
    } catch (error) {
      const delivery = deliveryOfError(error);
      // A user who closed their DMs, a channel deleted: normal, not a fault of ours.
      if (delivery.status === 'gone') logger.info({ ...what, ...errorSummary(error) }, codeOf(error) === DiscordCodes.CannotSendToUser ? 'discord user does not take DMs from the bot' : 'discord channel closed to the bot');
      else logger.warn({ ...what, ...errorSummary(error) }, 'discord delivery failed');
      return delivery;
    }
  }

  async function start(): Promise<void> {
    sender.rest.setToken(options.token);
    if (options.gateway ?? true) {
      await connectGateway(); // login checks the token
    } else {
      // Send-only: no login, so ask who we are, and a wrong token shows at start, not at the first push.
      try {
        await sender.rest.get(Routes.user());
      } catch (error) {
        await sender.destroy().catch(() => undefined);
        throw startError((error as { status?: unknown } | null)?.status === 401 ? Object.assign(new Error('401'), { code: DiscordjsErrorCodes.TokenInvalid }) : error);
      }
      logger.info({ applicationId: options.applicationId }, 'discord bot sending over REST only (no gateway session)');
    }
    if (options.registerAtStart ?? true) {
      try {
        await registerCommands({ rest: sender.rest, applicationId: options.applicationId, guildId: options.guildId, registry: core.registry });
      } catch (error) {
        await disconnect();
        await sender.destroy().catch(() => undefined);
        const where = options.guildId ? `server ${options.guildId}` : 'global';
        const status = (error as { status?: unknown } | null)?.status;
        // A 5xx (after the REST manager's retries) is Discord's fault, not the configuration's.
        if (typeof status === 'number' && status >= 500) {
          throw new Error(`Discord failed to register the slash commands (${where}): ${errorText(error)} (HTTP ${status}), a fault on Discord's side. Start again later, or set DISCORD_REGISTER_AT_START=false to keep the commands registered before.`);
        }
        throw new Error(`Discord refused the slash commands (${where}): ${errorText(error)}. Check DISCORD_APPLICATION_ID${options.guildId ? ' and DISCORD_GUILD_ID (the bot must be in that server)' : ''}.`);
      }
      logger.info({ guildId: options.guildId ?? null }, 'discord slash commands registered');
    }
    running = true;
  }

  return {
    platform: 'discord',
    capabilities: { buttons: true, images: true, privateReplies: 'ephemeral', maxMessageLength: 4096 },
    get client() {
      return session?.client ?? sender;
    },
    start,
    // Send-only counts as connected: it can send. With the gateway wanted, connected while it is
    // ready (discord.js reconnects a dropped gateway by itself; isReady() is false meanwhile).
    connected: () => running && (!wantGateway || Boolean(session?.client.isReady())),
    connectGateway() {
      // Stopping: a session now would only turn every interaction away (a leadership change or a
      // retry during the shutdown lands here).
      if (stopped || !receiving) return Promise.resolve();
      if (!running) return Promise.reject(new Error('the discord bot has not started'));
      return connectGateway();
    },
    disconnectGateway() {
      wantGateway = false;
      return disconnect();
    },
    async stopReceiving() {
      receiving = false;
      await opening?.catch(() => undefined); // a session being opened is closed to new interactions too
      const open = session;
      if (!open) return; // send-only: nothing comes in
      // The session stays open until stop(): a new interaction gets "I am restarting" at once
      // instead of timing out unanswered. `sender` is untouched, so the outbox flush still sends.
      open.intake.close();
      await open.intake.drain(STOP_RECEIVING_MS);
    },
    async stop() {
      stopped = true;
      wantGateway = false;
      await disconnect();
      running = false;
      await sender.destroy().catch((error) => logger.warn({ ...errorSummary(error) }, 'discord client did not close cleanly'));
    },
    async deliverToUser(identity: LinkedIdentity, message: RichMessage): Promise<Delivery> {
      const userId = identity.platform === 'discord' ? discordId(identity.key) : undefined;
      if (!userId) return notOurs('discord');
      if (!running) return notRunning('discord');
      let channelId: string;
      try {
        channelId = await pushes.dmChannel(userId);
      } catch (error) {
        logger.warn({ identity: identity.key, ...errorSummary(error) }, 'could not open a discord DM');
        return deliveryOfError(error);
      }
      const delivery = await post(channelId, message, identity.key, { identity: identity.key });
      if (delivery.status !== 'sent') pushes.forgetDm(userId); // opened again next time, in case the channel is gone
      return delivery;
    },
    // A thread is a channel of its own on Discord: its id is the whole posting address.
    deliverToChat(chatAddress, message) {
      const channelId = discordId(chatAddress);
      return channelId ? post(channelId, message, undefined, { chatAddress }) : Promise.resolve(notOurs('discord'));
    },
  };
}

function watchRateLimits(client: Client, logger: Logger): void {
  client.rest.on('rateLimited', (info) => logger.info({ route: info.route, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'discord rate limit: waiting'));
}

/** Discord's answers that mean the bot cannot write there any more: the user takes no DMs from
 *  it (50007), the channel or user is gone (10003, 10013), or the bot left the server (50001). */
const GONE_CODES = new Set<number | string>([DiscordCodes.CannotSendToUser, DiscordCodes.UnknownChannel, DiscordCodes.MissingAccess, DiscordCodes.UnknownUser]);

/** A failed post as a Delivery: 'gone' for GONE_CODES; anything else (5xx after the REST
 *  manager's retries, a timeout, another refusal) is 'failed'. */
function deliveryOfError(error: unknown): Delivery {
  const code = codeOf(error);
  if (code !== undefined && GONE_CODES.has(code)) return { status: 'gone', reason: `${reasonOf(error)} (${code})` };
  const status = (error as { status?: unknown } | null)?.status;
  return { status: 'failed', reason: typeof status === 'number' ? `${reasonOf(error)} (HTTP ${status})` : reasonOf(error) };
}

function clientOptions(options: DiscordBotOptions): ClientOptions {
  const tuning = options.tuning ?? {};
  return {
    // Slash commands and buttons arrive as interactions: no privileged intent, no message content.
    intents: [GatewayIntentBits.Guilds],
    allowedMentions: { parse: [] },
    rest: {
      ...(options.apiUrl ? { api: options.apiUrl } : {}),
      timeout: REST_TIMEOUT_MS,
      retries: REST_RETRIES,
      ...(tuning.restOffsetMs !== undefined ? { offset: tuning.restOffsetMs } : {}),
    },
    // Only guilds and their channels are kept (discord.js needs them); nothing per message or member.
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      MessageManager: 0,
      // client.user is null on the send-only client, which never logs in.
      GuildMemberManager: { maxSize: 0, keepOverLimit: (member) => member.id === member.client.user?.id },
      UserManager: { maxSize: 0, keepOverLimit: (user) => user.id === user.client.user?.id },
      PresenceManager: 0,
      ReactionManager: 0,
      ReactionUserManager: 0,
      GuildEmojiManager: 0,
      GuildStickerManager: 0,
      GuildScheduledEventManager: 0,
      GuildInviteManager: 0,
      GuildBanManager: 0,
      VoiceStateManager: 0,
      StageInstanceManager: 0,
      ThreadMemberManager: 0,
      AutoModerationRuleManager: 0,
      ApplicationCommandManager: 0,
    }),
    sweepers: {
      ...Options.DefaultSweeperSettings,
      threads: { interval: 3600, lifetime: 3600 },
    },
    ...(tuning.identifyThrottle === false ? { ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => undefined }) } } : {}),
  } as ClientOptions;
}

/** Resolves when the client is ready; rejects when the gateway closes for good first, or in time. */
function readyOrFailure(client: Client, timeoutMs: number): { promise: Promise<void>; cancel(): void } {
  let cleanup = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onDisconnect = (event: { code: number }) => {
      cleanup();
      reject(Object.assign(new Error(`the gateway closed with ${event.code}`), { closeCode: event.code }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not ready within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    cleanup = () => {
      clearTimeout(timer);
      client.off(Events.ClientReady, onReady);
      client.off(Events.ShardDisconnect, onDisconnect);
    };
    client.once(Events.ClientReady, onReady);
    client.on(Events.ShardDisconnect, onDisconnect);
  });
  promise.catch(() => undefined); // login's own rejection is the one reported
  return { promise, cancel: () => cleanup() };
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A start failure in words an operator can act on. */
function startError(error: unknown): Error {
  const code = (error as { code?: unknown; closeCode?: unknown } | null)?.code;
  const closeCode = (error as { closeCode?: unknown } | null)?.closeCode;
  if (code === DiscordjsErrorCodes.TokenInvalid || closeCode === 4004) {
    return new Error('Discord refused the bot token: check DISCORD_TOKEN (Developer Portal → your application → Bot → Reset Token).');
  }
  if (closeCode === 4014 || /disallowed intents/i.test(errorText(error))) {
    return new Error('Discord refused the gateway intents (4014 disallowed intents): the bot asks only for Guilds, so check the application in the Developer Portal.');
  }
  if (closeCode === 4013) return new Error('Discord refused the gateway intents as invalid (4013).');
  return new Error(`Discord bot could not start: ${errorText(error)}`);
}
