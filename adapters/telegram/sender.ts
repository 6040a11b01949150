/**
 * Telegram's side of the outbound sender (adapters/shared/rate-limited-sender.ts does the pacing,
 * ordering, retries and dead chats for every platform). Telegram's limits:
 *   - about 30 messages per second overall,
 *   - 1 per second per chat,
 *   - 20 per minute per group (chats with a negative id).
 * What is Telegram's: those limits, the Bot API payload (a method and its parameters; the sender
 * adds chat_id and message_thread_id), and how telegraf's errors read: 429 with `retry_after`
 * waits, `migrate_to_chat_id` follows a group that became a supergroup, 403 and the 400s for a
 * chat gone or closed to the bot mark it dead, "message is not modified" is as good as sent, 5xx
 * and network errors are retried (telegraf does not retry), other 400s fail at once.
 *
 * `send` and `broadcast` never reject: they resolve with what happened.
 */
import type { Logger } from '../../core/ports';
import {
  RateLimitedSender,
  type BaseSendOptions,
  type BroadcastReport as SharedBroadcastReport,
  type ChatId,
  type SendFailure,
  type SenderLimits as SharedSenderLimits,
  type SendOutcome as SharedSendOutcome,
  type SenderTuning,
} from '../shared/rate-limited-sender';

export { SlidingWindow, type ChatId, type RateWindow, type SendFailure } from '../shared/rate-limited-sender';

/** Telegram's limits always have a per-group window. */
export type SenderLimits = Required<SharedSenderLimits>;

export const TELEGRAM_LIMITS: SenderLimits = {
  global: { limit: 30, windowMs: 1000 },
  perChat: { limit: 1, windowMs: 1000 },
  perGroup: { limit: 20, windowMs: 60_000 },
};

/** A Bot API method and its parameters, without chat_id and message_thread_id (the sender adds them). */
export interface OutboundPayload {
  method: 'sendMessage' | 'sendPhoto' | 'editMessageText' | 'editMessageReplyMarkup' | 'editMessageCaption';
  params: Record<string, unknown>;
}

export interface SendOptions extends BaseSendOptions {
  /** Forum topic (message_thread_id). */
  threadId?: number;
  /** Counts against the 20/min group limit. Default: chats with a negative id (groups, supergroups). */
  group?: boolean;
}

export type SendOutcome = SharedSendOutcome<number>;

export interface BroadcastTarget {
  chatId: ChatId;
  threadId?: number;
}

export type BroadcastReport = SharedBroadcastReport<number>;

/** Calls the Bot API (telegraf's `telegram.callApi`); throws telegraf's TelegramError on failure. */
export type TelegramCall = (method: string, params: Record<string, unknown>) => Promise<unknown>;

export interface SenderOptions extends SenderTuning {
  call: TelegramCall;
  logger: Logger;
  limits?: Partial<SenderLimits>;
}

const DEAD_400 = /chat not found|group chat was (deactivated|upgraded)|have no rights to send|not enough rights to send|need administrator rights|CHAT_WRITE_FORBIDDEN|PEER_ID_INVALID|user not found/i;

/** Reads telegraf's TelegramError (or anything shaped like the Bot API's error answer). */
export function classifyTelegramError(error: unknown): SendFailure {
  const response = (error as { response?: { error_code?: unknown; description?: unknown; parameters?: { retry_after?: unknown; migrate_to_chat_id?: unknown } } } | null)?.response;
  if (!response || typeof response.error_code !== 'number') {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { kind: 'transient', reason };
  }
  const code = response.error_code;
  const reason = typeof response.description === 'string' ? response.description : `error ${code}`;
  const retryAfter = Number(response.parameters?.retry_after);
  const migrateTo = Number(response.parameters?.migrate_to_chat_id);
  if (code === 429) return { kind: 'rate', retryAfterMs: (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1) * 1000 };
  if (Number.isFinite(migrateTo) && migrateTo !== 0) return { kind: 'migrate', to: migrateTo };
  if (code === 403) return { kind: 'dead', reason };
  if (code === 400 && /message is not modified/i.test(reason)) return { kind: 'unchanged' };
  if (code === 400 && DEAD_400.test(reason)) return { kind: 'dead', reason };
  if (code >= 500) return { kind: 'transient', reason, code };
  return { kind: 'fatal', reason, code };
}

/** Groups and supergroups have negative ids; users (private chats) positive ones. */
function isTelegramGroup(chatId: ChatId): boolean {
  return typeof chatId === 'number' ? chatId < 0 : /^-\d+$/.test(chatId);
}

function telegramMessageId(result: unknown): number | undefined {
  const messageId = (result as { message_id?: unknown } | null)?.message_id;
  return typeof messageId === 'number' ? messageId : undefined;
}

/** The shared sender speaking the Bot API. */
export class TelegramSender extends RateLimitedSender<OutboundPayload, SendOptions, number> {
  constructor(options: SenderOptions) {
    const { call, limits, ...rest } = options;
    super({
      ...rest,
      platform: 'telegram',
      limits: { ...TELEGRAM_LIMITS, ...limits },
      call: (chatId, payload, sendOptions) => {
        const params: Record<string, unknown> = { ...payload.params, chat_id: chatId };
        if (sendOptions.threadId !== undefined) params.message_thread_id = sendOptions.threadId;
        return call(payload.method, params);
      },
      classify: classifyTelegramError,
      messageIdOf: telegramMessageId,
      isGroup: isTelegramGroup,
      describe: (payload) => ({ method: payload.method }),
    });
  }

  /** Sends one message to many chats (or forum topics), as fast as the limits allow. */
  override broadcast(targets: Array<BroadcastTarget | ChatId>, payload: OutboundPayload): Promise<BroadcastReport> {
    return super.broadcast(targets.map((t) => (typeof t === 'object' ? { chatId: t.chatId, threadId: t.threadId } : t)), payload);
  }
}
