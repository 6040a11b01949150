/**
 * The core in Telegram, through telegraf, as a chat adapter (core/chat-adapter.ts). This file only
 * assembles the parts every adapter has:
 *   updates.ts    event intake → dispatch: commands, button presses, membership changes
 *   replies.ts    rendering (render.ts) and sending, through the rate-limited sender (sender.ts,
 *                 Telegram's side of adapters/shared/rate-limited-sender.ts)
 *   menus.ts      the command menus, from the core's registry (setMyCommands)
 *   transport.ts  long polling (default) or a webhook server
 * and mapping.ts says how Telegram's users, chats and messages map to the core's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Telegraf } from 'telegraf';
import type { Core } from '../../core/app';
import { ChatButtons, type ButtonTtls } from '../../core/buttons';
import type { ChatAdapter } from '../../core/chat-adapter';
import type { RichMessage } from '../../core/messages';
import type { Delivery, Logger } from '../../core/ports';
import { deliveryOf, notOurs, reasonOf } from '../shared/delivery';
import type { SenderTuning } from '../shared/rate-limited-sender';
import { errorSummary } from './errors';
import { telegramChatId, telegramPostingAddress } from './mapping';
import { createMenus } from './menus';
import { TEXT_LIMIT } from './render';
import { createReplies } from './replies';
import { TelegramSender, type BroadcastReport, type BroadcastTarget, type SendOutcome, type SenderLimits } from './sender';
import { createTransport, type TelegramWebhookOptions } from './transport';
import { createUpdateIntake } from './updates';

export { menuCommands } from './menus';
export type { TelegramWebhookOptions } from './transport';

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
  /** The sender's retries and backoff (tests shorten them); the shared sender's defaults otherwise. */
  senderTuning?: Pick<SenderTuning, 'backoffMs' | 'maxTransientAttempts' | 'maxRateLimitedAttempts'>;
  /** How long buttons work. */
  buttonTtl?: Partial<ButtonTtls>;
  /** Clock for button expiry and "updated at" notes. Default: the core's clock. */
  now?: () => number;
}

export interface TelegramBot extends ChatAdapter {
  bot: Telegraf;
  sender: TelegramSender;
  /** Connects (getMe), sets the command menus, and starts polling or serving the webhook. */
  start(): Promise<void>;
  /** Stops receiving, lets updates in flight and queued messages finish (a few seconds at most), and closes. */
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

/** The most stopReceiving() waits for commands in flight and their queued replies. */
const STOP_RECEIVING_MS = 60_000;

/** Telegram's answers for a forum topic that no longer exists. */
const TOPIC_GONE = /message thread not found|TOPIC_DELETED/i;

export function createTelegramBot(options: TelegramBotOptions): TelegramBot {
  const { core, logger } = options;
  const now = options.now ?? (() => core.services.clock.now());
  const bot = new Telegraf(options.token, { telegram: { apiRoot: options.apiRoot, webhookReply: false } });
  const call = (method: string, params: Record<string, unknown>) => bot.telegram.callApi(method as never, params as never) as Promise<unknown>;
  const username = () => bot.botInfo?.username;
  const sender = new TelegramSender({ call, logger, limits: options.limits, ...options.senderTuning });
  const buttons = new ChatButtons(core.services.store, now, options.buttonTtl);
  const replies = createReplies({ sender, buttons, username, now });
  const menus = createMenus({ core, call, logger, now });
  const intake = createUpdateIntake({ core, logger, token: options.token, now, call, sender, buttons, replies, menus, username });
  const transport = createTransport({ bot, call, logger, webhook: options.webhook });

  bot.use(async (ctx) => {
    await intake.handle(ctx.update);
  });
  bot.catch((error, ctx) => {
    logger.error({ updateId: ctx.update?.update_id, ...errorSummary(error) }, 'telegram update failed');
  });

  /** A whole message to one chat or forum topic, as the contract wants it (see Delivery). */
  async function deliver(target: { chatId: number; threadId?: number } | undefined, message: RichMessage, what: object): Promise<Delivery> {
    if (!target) return notOurs('telegram');
    try {
      const delivery = deliveryOf(await replies.post(target.chatId, message, target.threadId, { push: true }));
      // The topic was deleted: the group is still there (the sender keeps writing to it), the topic is not.
      if (delivery.status === 'failed' && target.threadId !== undefined && TOPIC_GONE.test(delivery.reason)) return { status: 'gone', reason: delivery.reason };
      return delivery;
    } catch (error) {
      // Rendering stores the message's buttons first: a store failure must not escape the contract.
      logger.warn({ ...what, ...errorSummary(error) }, 'telegram delivery failed');
      return { status: 'failed', reason: reasonOf(error) };
    }
  }

  let started = false;
  return {
    platform: 'telegram',
    capabilities: { buttons: true, images: true, privateReplies: 'dm', maxMessageLength: TEXT_LIMIT },
    bot,
    sender,
    async start() {
      bot.botInfo = await bot.telegram.getMe();
      await menus.register();
      await transport.start();
      started = true;
    },
    // Polling restarts by itself after a failure and a webhook is set once: started is the most
    // this side knows without asking Telegram.
    connected: () => started,
    // Polling stops once the batch under way is handled (telegraf confirms its offset, so what
    // was not fetched stays with Telegram); a webhook answers 503 and is unmounted, so Telegram
    // delivers again later. A command's reply is queued, not awaited, and Telegram allows one
    // message a second per chat: a burst's replies take longer than stop()'s few seconds, so
    // this waits for them too, bounded by the caller (SHUTDOWN_TIMEOUT_SECONDS) and a safeguard.
    // Sending goes on until stop().
    async stopReceiving() {
      started = false;
      await transport.stop();
      await intake.drain(STOP_RECEIVING_MS);
      await sender.idle(STOP_RECEIVING_MS);
    },
    async stop() {
      started = false;
      await transport.stop(); // at once when stopReceiving() ran
      await intake.drain(5000);
      await sender.idle(5000);
      sender.close();
    },
    // A Telegram user's private chat with the bot has the user's id: no DM to open first.
    deliverToUser(identity, message) {
      const chatId = identity.platform === 'telegram' ? telegramChatId(identity.key) : undefined;
      return deliver(chatId === undefined ? undefined : { chatId }, message, { identity: identity.key });
    },
    deliverToChat: (chatAddress, message) => deliver(telegramPostingAddress(chatAddress), message, { chatAddress }),
    async post(chat, message, postOptions = {}) {
      const chatId = typeof chat === 'number' ? chat : Number(chat.replace(/^telegram:/, ''));
      if (!Number.isSafeInteger(chatId)) return [{ status: 'failed', chatId: String(chat), reason: 'not a Telegram chat id' }];
      return replies.post(chatId, message, postOptions.threadId);
    },
    broadcast: (targets, message) => replies.broadcast(targets, message),
    webhookAddress: () => transport.address(),
    handleWebhookRequest: (req, res) => transport.handleWebhookRequest(req, res),
  };
}
