/**
 * The core in Slack, through @slack/bolt, as a chat adapter (core/chat-adapter.ts).
 *
 * Over HTTP, Bolt's HTTPReceiver handles `/slack/events` for slash commands, button presses
 * (block actions) and events, mounted on the process's one HTTP server on HOST:PORT (shared with
 * the Telegram webhook; adapters/shared/http-server.ts) or on its own; it checks every request's
 * signature and refuses one whose timestamp is more than 5 minutes off (401), and both stay on.
 * With an app-level token (SLACK_APP_TOKEN, xapp-…) it uses Socket Mode instead: Bolt's
 * SocketModeReceiver opens a WebSocket (apps.connections.open) and Slack sends the same requests
 * over it as envelopes, each acked with its envelope_id; no request URL, no signing secret.
 * Every request is acknowledged at once (an
 * empty ack, within Slack's 3 s) and its id (trigger_id, action_ts, event_id) is claimed in the
 * store, so a request Slack retries (X-Slack-Retry-Num), or that reaches another instance, is
 * handled once. Answers go through the request's response_url (`respond`).
 *
 * The app has one slash command (SLACK_COMMAND, default /pulse): `/pulse buy btc $100` is the
 * core's `/buy btc $100`, and `/pulse` alone is help; texts name commands that way too
 * (render.ts's writer). A reply is `in_channel` unless it is for the caller alone: the core marks
 * it private, the command is sensitive or answers privately, or no command was recognised (an
 * in_channel answer shows the typed command to the channel, and an unknown one may be a password).
 *
 * Membership events (the bot removed from a channel, a channel archived or deleted, the bot added
 * back) mark the conversation unreachable in the store or clear it (membership.ts).
 *
 * Messages outside a request (a fired alert) use the Web API: conversations.open for a DM (its id
 * remembered per user), then chat.postMessage. The Web API client retries twice, not for half an
 * hour, and waits out a 429's Retry-After.
 */
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger, type RespondArguments, type RespondFn } from '@slack/bolt';
import type { Core } from '../../core/app';
import { ChatButtons, type ButtonTtls } from '../../core/buttons';
import type { ChatAdapter } from '../../core/chat-adapter';
import { writeCommandsIn } from '../../core/command-text';
import type { DispatchResult } from '../../core/dispatcher';
import type { LinkedIdentity } from '../../core/domain';
import type { RichMessage } from '../../core/messages';
import type { Delivery, Logger } from '../../core/ports';
import { deliveryOf, notOurs, notRunning, reasonOf } from '../shared/delivery';
import { createHttpServer, type HttpServer } from '../shared/http-server';
import { createSlackHome, homeOpenedOf } from './home';
import { watchMembership } from './membership';
import { actionIdOf, buttonOf, chatRefOf, commandLine, identityOf, ownerOf, slackAddress } from './mapping';
import { renderSlackMessage, slackCommandWriter, type SlackMessagePayload } from './render';
import { classifySlackError, createSlackSender } from './sender';
import type { SenderLimits, SenderTuning } from '../shared/rate-limited-sender';

export interface SlackBotOptions {
  botToken: string;
  /** Checks the requests over HTTP; required unless `appToken` (Socket Mode) is given. */
  signingSecret?: string;
  /** An app-level token (xapp-…, with connections:write): Socket Mode instead of HTTP. */
  appToken?: string;
  /** Another Web API base (a test stand-in), e.g. http://127.0.0.1:8080/api/. Default Slack's.
   *  In Socket Mode apps.connections.open goes there too. */
  apiUrl?: string;
  /** The app's slash command. Default /pulse. */
  command?: string;
  /** The process's shared HTTP server: /slack/events is mounted on it. Without one (and not in
   *  Socket Mode) the bot serves HTTP on its own, on `port` and `host`. */
  http?: HttpServer;
  port?: number;
  host?: string;
  core: Core;
  logger: Logger;
  /** Clock for button expiry and request claims. Default: the core's clock. */
  now?: () => number;
  buttonTtl?: Partial<ButtonTtls>;
  /** Web API retries after a failure (a 429 is waited out, then retried). Default 2. */
  apiRetries?: number;
  /** Limits of messages posted outside a request (sender.ts); Slack's by default. */
  senderLimits?: Partial<SenderLimits>;
  /** The sender's retries and backoff (tests shorten them); the shared sender's defaults otherwise. */
  senderTuning?: Pick<SenderTuning, 'backoffMs' | 'maxTransientAttempts' | 'maxRateLimitedAttempts'>;
}

export interface SlackBot extends ChatAdapter {
  readonly app: App;
  /** Where the receiver listens once started (http://host:port), for tests. Not in Socket Mode. */
  url(): string;
}

/** Slack retries a request for a few minutes at most; a claim outlives that comfortably. */
const REQUEST_CLAIM_MS = 60 * 60_000;
const STOP_DRAIN_MS = 5000;
const API_TIMEOUT_MS = 15_000;
const EVENTS_PATH = '/slack/events';
const PRIVATE_NOTE = '📬 The answer is for you alone: only you can see it, just below.';

type Body = Record<string, any>;

/** The id Slack keeps across retries of one request. */
function requestIdOf(body: Body): string | undefined {
  if (typeof body.event_id === 'string') return body.event_id;
  if (body.type === 'block_actions') return typeof body.actions?.[0]?.action_ts === 'string' ? body.actions[0].action_ts : undefined;
  if (typeof body.trigger_id === 'string') return body.trigger_id;
  return undefined;
}

function errorSummary(error: unknown): Record<string, unknown> {
  const e = error as { code?: unknown; data?: { error?: unknown }; statusCode?: unknown } | null;
  return {
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(e?.data?.error ? { slackError: e.data.error } : {}),
    ...(typeof e?.statusCode === 'number' ? { status: e.statusCode } : {}),
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}

/** Bolt's logger interface on ours; Bolt's debug chatter stays out. */
function boltLogger(logger: Logger): BoltLogger {
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: () => undefined,
    info: (...args) => logger.info({ source: 'bolt' }, text(args)),
    warn: (...args) => logger.warn({ source: 'bolt' }, text(args)),
    error: (...args) => logger.error({ source: 'bolt' }, text(args)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { core, logger } = options;
  const now = options.now ?? (() => core.services.clock.now());
  const slashCommand = options.command ?? '/pulse';
  const buttons = new ChatButtons(core.services.store, now, options.buttonTtl);
  const writer = slackCommandWriter(slashCommand);
  const apiUrl = options.apiUrl ? (options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`) : undefined;

  const socketMode = Boolean(options.appToken);
  if (!socketMode && !options.signingSecret) throw new Error('Slack over HTTP needs the signing secret (SLACK_SIGNING_SECRET), or an app-level token for Socket Mode (SLACK_APP_TOKEN).');
  if (!socketMode && !options.http && options.port === undefined) throw new Error('Slack over HTTP needs a server to mount on, or a port to listen on.');
  const receiver = socketMode
    ? new SocketModeReceiver({
      appToken: options.appToken!,
      logger: boltLogger(logger),
      // The Socket Mode client's own Web API client (apps.connections.open) goes where ours does.
      installerOptions: { clientOptions: { ...(apiUrl ? { slackApiUrl: apiUrl } : {}), retryConfig: { retries: options.apiRetries ?? 2, factor: 2, minTimeout: 200, maxTimeout: 2000 }, timeout: API_TIMEOUT_MS } },
    })
    : new HTTPReceiver({
      signingSecret: options.signingSecret!,
      endpoints: EVENTS_PATH,
      logger: boltLogger(logger),
      // Answer first, work after: Slack wants the ack within 3 s.
      processBeforeResponse: false,
    });
  const app = new App({
    token: options.botToken,
    receiver,
    logger: boltLogger(logger),
    deferInitialization: true,
    clientOptions: {
      ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
      retryConfig: { retries: options.apiRetries ?? 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
      rejectRateLimitedCalls: false,
      timeout: API_TIMEOUT_MS,
    },
  });

  // Its own client for the sender: rate-limited calls reject, so the sender waits them out.
  const sender = createSlackSender(new webApi.WebClient(options.botToken, {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}), retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: API_TIMEOUT_MS,
    logger: boltLogger(logger),
  }), logger, options.senderLimits, options.senderTuning);
  const dms = new Map<string, string>();
  const handlers = new Set<Promise<unknown>>();
  let running = false;
  let closed = false;
  let server: HttpServer | undefined;

  /** /slack/events on the HTTP server: Bolt's own request listener (signature and timestamp
   *  checks, ack, dispatch); it throws for what it does not handle there (a GET). */
  function handleEventsRequest(req: Parameters<HTTPReceiver['requestListener']>[0], res: Parameters<HTTPReceiver['requestListener']>[1]): void {
    try {
      (receiver as HTTPReceiver).requestListener(req, res);
    } catch {
      res.statusCode = 405;
      res.end();
    }
  }

  /** Renders a reply; its buttons are in the store before it resolves. `owner` may press them. */
  async function render(message: RichMessage, owner: string | undefined, note?: string): Promise<SlackMessagePayload> {
    const draft = buttons.draft(owner);
    const ids = new Map<number, string>();
    const shown = note ? { ...message, footer: message.footer ? `${message.footer} · ${note}` : note } : message;
    const payload = renderSlackMessage(writeCommandsIn(shown, core.registry, writer), {
      actionId: (button, index) => ids.get(index) ?? ids.set(index, actionIdOf(draft.add(button))).get(index)!,
    });
    await draft.save();
    return payload;
  }

  async function note(respond: RespondFn, text: string, tone: RichMessage['tone'] = 'info'): Promise<void> {
    await respond({ ...(await render({ tone, text }, undefined)), response_type: 'ephemeral', replace_original: false } as RespondArguments);
  }

  async function claim(body: Body, retryNum: number | undefined): Promise<boolean> {
    const id = requestIdOf(body);
    if (!id) return true;
    const claimed = await core.services.store.claimOnce(`slack-request:${id}`, now() + REQUEST_CLAIM_MS);
    if (!claimed) logger.info({ requestId: id, retryNum: retryNum ?? null }, 'slack request delivered again: ignored');
    return claimed;
  }

  /** Every request: acknowledged at once, claimed, then handled (or dropped as a repeat). */
  app.use(async (args) => {
    const { body, context, next } = args as unknown as { body: Body; context: { retryNum?: number }; next: () => Promise<void> };
    const ack = (args as { ack?: () => Promise<void> }).ack;
    if (ack) await ack();
    if (!(await claim(body, context.retryNum))) return;
    const task = next();
    handlers.add(task);
    try {
      await task;
    } finally {
      handlers.delete(task);
    }
  });

  /**
   * Whether the caller administers the conversation, asked of Slack only when a command wants to
   * know, once per request: Slack names no channel managers to apps, so its workspace admins and
   * owners (users.info) administer every channel of the workspace.
   */
  function adminCheck(channelId: string, userId: string): (() => Promise<boolean>) | undefined {
    if (channelId.startsWith('D')) return undefined;
    let answer: Promise<boolean> | undefined;
    return () => (answer ??= app.client.users.info({ user: userId }).then(
      (found) => Boolean(found.user?.is_admin || found.user?.is_owner || found.user?.is_primary_owner),
      (error) => {
        // Not knowing is not being an admin: the command refuses, and the user may try again.
        logger.warn({ userId, channelId, ...errorSummary(error) }, 'could not ask slack whether a user is an admin');
        return false;
      },
    ));
  }

  /** Whether a reply to this command line must be for the caller alone, decided from the registry. */
  function privateCommand(line: string): boolean {
    const words = line.replace(/^\//, '').trim().split(/\s+/).filter(Boolean);
    words[0] = words[0]?.toLowerCase() ?? '';
    const found = core.registry.resolve(words)?.command;
    return !found || found.sensitive === true || found.answersPrivately === true;
  }

  app.command(slashCommand, async ({ command, respond }) => {
    if (closed) return note(respond, 'I am restarting: send that again in a moment.', 'warning');
    const team = command.team_id;
    const owner = ownerOf(team, command.user_id);
    const text = commandLine(command.text);
    // Someone wrote from there: the bot is heard there again (a pushed message may go there now).
    sender.revive(command.channel_id);
    try {
      const result = await core.dispatcher.dispatch({
        text,
        identity: identityOf(team, command.user_id),
        chat: chatRefOf(team, command.channel_id),
        messageId: command.trigger_id,
        canConfirm: true,
        isChatAdmin: adminCheck(command.channel_id, command.user_id),
      });
      const ephemeral = result.message.private === true || privateCommand(text) || !result.command;
      await respond({ ...(await render(result.message, owner)), response_type: ephemeral ? 'ephemeral' : 'in_channel' } as RespondArguments);
    } catch (error) {
      logger.error({ userId: command.user_id, channelId: command.channel_id, ...errorSummary(error) }, 'slack command failed');
      await note(respond, 'Something went wrong on our side. Please try again in a moment.', 'error').catch(() => undefined);
    }
  });

  // A slash command the app has but this bot was not told of (SLACK_COMMAND differs from the one
  // created in the app's settings): the user is told, and the operator by the log.
  app.command(/.*/, async ({ command, respond }) => {
    if (command.command === slashCommand) return;
    logger.warn({ command: command.command, expected: slashCommand }, 'slack slash command is not SLACK_COMMAND: check the app settings');
    await note(respond, `I answer ${slashCommand} only: try ${slashCommand} help.`, 'warning').catch(() => undefined);
  });

  app.action(/^cp:/, async ({ body, action, respond }) => {
    const press = body as Body;
    const actionId = (action as { action_id: string }).action_id;
    const team: string = press.user?.team_id ?? press.team?.id;
    const userId: string = press.user?.id;
    const channelId: string | undefined = press.channel?.id ?? press.container?.channel_id;
    if (!team || !userId || !channelId) return;
    const presser = ownerOf(team, userId);
    sender.revive(channelId);
    const replace = async (message: RichMessage, owner: string | undefined, note?: string): Promise<void> => {
      await respond({ ...(await render(message, owner, note)), replace_original: true } as RespondArguments);
    };
    try {
      if (closed) return await note(respond, 'I am restarting: press again in a moment.', 'warning');
      const ref = buttonOf(actionId);
      const found = ref ? await buttons.lookup(ref, presser) : ({ ok: false, reason: 'invalid' } as const);
      if (!found.ok) {
        if (found.reason === 'used') return await note(respond, 'Already done.');
        if (found.reason === 'not-yours') return await note(respond, 'Only the person who sent the command can use these buttons.', 'warning');
        return await note(respond, found.reason === 'expired' ? 'This button has expired: send the command again.' : 'This button does not work any more: send the command again.', 'warning');
      }
      const { ref: pressed, button } = found;
      // The first press of the message's buttons, on any instance, takes them.
      if (!(await buttons.take(pressed))) return await note(respond, 'Already done.');
      if (button.kind === 'cancel') {
        return await replace({ tone: 'info', text: `Cancelled: ${button.command} was not run. Nothing changed.` }, undefined);
      }
      const messageTs: string | undefined = press.container?.message_ts ?? press.message?.ts;
      const actionTs: string = (action as { action_ts?: string }).action_ts ?? `${Date.now()}`;
      const result: DispatchResult = await core.dispatcher.dispatch({
        text: button.command,
        identity: identityOf(team, userId),
        chat: chatRefOf(team, channelId),
        // A confirmation is keyed by the prompt, so a second Confirm on it never trades again.
        messageId: button.kind === 'confirm' && messageTs ? `confirm:${messageTs}` : actionTs,
        confirmed: button.kind === 'confirm',
        canConfirm: true,
        isChatAdmin: adminCheck(channelId, userId),
      });
      const sourceEphemeral = press.container?.is_ephemeral === true;
      if (result.message.private && !sourceEphemeral && !channelId.startsWith('D')) {
        await replace({ tone: 'info', text: PRIVATE_NOTE }, undefined);
        await respond({ ...(await render(result.message, presser)), response_type: 'ephemeral', replace_original: false } as RespondArguments);
        return;
      }
      // A refreshed answer says when it was updated, so a press visibly did something.
      await replace(result.message, presser, button.kind === 'refresh' ? `Updated ${new Date(now()).toISOString().slice(11, 19)} UTC` : undefined);
    } catch (error) {
      logger.error({ userId, channelId, ...errorSummary(error) }, 'slack button press failed');
      await note(respond, 'Something went wrong on our side. Please try again in a moment.', 'error').catch(() => undefined);
    }
  });

  // The Home tab (home.ts): a fresh view of the user's portfolio and alerts each time it is opened.
  const home = createSlackHome({ core, logger, command: slashCommand });
  app.event('app_home_opened', async ({ event, body, client }) => {
    const opened = homeOpenedOf(event as Body, body as Body);
    if (opened && !closed) await home.opened(opened, client);
  });

  // The bot removed from a channel, a channel archived or deleted, the bot back (membership.ts):
  // told to the store at once, so pushes skip the channel without a refused attempt.
  watchMembership({ app, store: core.services.store, logger, now, revive: (channel) => sender.revive(channel) });

  /** A whole message to one conversation through the Web API, as the contract wants it (see
   *  Delivery). A push is tried even where this process remembers the channel as dead: the store
   *  decides for pushes (BaseSendOptions.evenIfDead). */
  async function post(channel: string, message: RichMessage, owner: string | undefined, what: Record<string, unknown>): Promise<Delivery> {
    if (!running) return notRunning('slack');
    try {
      const payload = await render(message, owner);
      const delivery = deliveryOf([await sender.send(channel, { text: payload.text, blocks: payload.blocks }, { evenIfDead: true })]);
      if (delivery.status !== 'sent') logger.warn({ ...what, status: delivery.status, reason: delivery.reason }, 'slack delivery failed');
      return delivery;
    } catch (error) {
      logger.warn({ ...what, ...errorSummary(error) }, 'slack delivery failed');
      return { status: 'failed', reason: reasonOf(error) };
    }
  }

  return {
    platform: 'slack',
    capabilities: { buttons: true, images: true, privateReplies: 'ephemeral', maxMessageLength: 3000 },
    app,
    url() {
      if (!server?.address()) throw new Error(socketMode ? 'the Slack bot uses Socket Mode: no request URL' : 'the Slack receiver is not listening');
      return server.url();
    },
    async start() {
      try {
        await app.init(); // auth.test: a wrong token fails here, with Slack's word for it
      } catch (error) {
        const code = (error as { data?: { error?: string } } | null)?.data?.error;
        throw new Error(code === 'invalid_auth' || code === 'not_authed' || code === 'account_inactive'
          ? `Slack refused the bot token (${code}): check SLACK_BOT_TOKEN (api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token).`
          : `Slack bot could not start: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (socketMode) {
        try {
          await (receiver as SocketModeReceiver).start(); // apps.connections.open, then the WebSocket's hello
        } catch (error) {
          await (receiver as SocketModeReceiver).stop().catch(() => undefined);
          const code = (error as { data?: { error?: string } } | null)?.data?.error;
          throw new Error(code === 'invalid_auth' || code === 'not_authed' || code === 'not_allowed_token_type' || code === 'account_inactive'
            ? `Slack refused the app-level token (${code}): check SLACK_APP_TOKEN (api.slack.com/apps → your app → Basic Information → App-Level Tokens, with connections:write).`
            : `Slack bot could not open its Socket Mode connection: ${error instanceof Error ? error.message : String(error)}`);
        }
        running = true;
        logger.info({ command: slashCommand }, 'slack bot connected by Socket Mode');
        return;
      }
      const http = options.http ?? createHttpServer({ port: options.port!, host: options.host, logger });
      try {
        await http.mount(EVENTS_PATH, handleEventsRequest);
      } catch (error) {
        const where = options.http ? 'the HTTP server (HOST:PORT)' : `${options.host ?? '127.0.0.1'}:${options.port}`;
        throw new Error(`Slack bot could not listen on ${where}: ${error instanceof Error ? error.message : String(error)}`);
      }
      server = http;
      running = true;
      logger.info({ url: `${this.url()}${EVENTS_PATH}`, command: slashCommand }, 'slack bot listening');
    },
    connected: () => running,
    // The graceful shutdown's first half (src/shutdown.ts): new commands and presses are answered
    // "send that again in a moment", those in flight finish with their replies, and the bot
    // still sends (the outbox is flushed through it) until stop().
    async stopReceiving() {
      closed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...handlers]), new Promise((r) => (timer = setTimeout(r, STOP_DRAIN_MS)))]);
      clearTimeout(timer);
      await sender.idle(STOP_DRAIN_MS);
    },
    async stop() {
      closed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...handlers]), new Promise((r) => (timer = setTimeout(r, STOP_DRAIN_MS)))]);
      clearTimeout(timer);
      await sender.idle(STOP_DRAIN_MS); // queued deliveries go out first
      sender.close();
      running = false;
      if (socketMode) {
        // Bolt's receiver.stop() does not wait for the close: the client's disconnect() does.
        let closeTimer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          (receiver as SocketModeReceiver).client.disconnect().catch((error: unknown) => logger.warn({ ...errorSummary(error) }, 'slack Socket Mode connection did not close cleanly')),
          new Promise((r) => (closeTimer = setTimeout(r, STOP_DRAIN_MS))),
        ]);
        clearTimeout(closeTimer);
      } else if (server) {
        const http = server;
        server = undefined;
        await http.unmount(EVENTS_PATH).catch((error) => logger.warn({ ...errorSummary(error) }, 'slack receiver did not close cleanly'));
      }
    },
    async deliverToUser(identity: LinkedIdentity, message: RichMessage): Promise<Delivery> {
      const address = identity.platform === 'slack' ? slackAddress(identity.key) : undefined;
      if (!address) return notOurs('slack');
      if (!running) return notRunning('slack');
      let channel = dms.get(identity.key);
      if (!channel) {
        try {
          const opened = await app.client.conversations.open({ users: address.id });
          channel = opened.channel?.id;
          if (!channel) throw new Error('conversations.open gave no channel');
          dms.set(identity.key, channel);
        } catch (error) {
          logger.warn({ identity: identity.key, ...errorSummary(error) }, 'could not open a slack DM');
          // user_not_found, account_inactive: the person is gone from the workspace.
          const failure = classifySlackError(error);
          return failure.kind === 'dead' ? { status: 'gone', reason: failure.reason } : { status: 'failed', reason: reasonOf(error) };
        }
      }
      const delivery = await post(channel, message, identity.key, { identity: identity.key });
      if (delivery.status !== 'sent') dms.delete(identity.key); // opened again next time, in case the DM is gone
      return delivery;
    },
    // Slash commands come from a channel, never a thread: the posting address is the chat id.
    deliverToChat(chatAddress, message) {
      const address = slackAddress(chatAddress);
      return address ? post(address.id, message, undefined, { chatAddress }) : Promise.resolve(notOurs('slack'));
    },
  };
}
