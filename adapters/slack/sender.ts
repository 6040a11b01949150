/**
 * Slack's side of the shared outbound sender (adapters/shared/rate-limited-sender.ts): messages
 * posted outside a request (fired alerts, messages into a channel) keep to Slack's published rate
 * for chat.postMessage, about one message a second per channel, with a bot-wide guard, and a 429
 * is waited out for its Retry-After by the sender, not by the Web API client (whose default retries
 * go on for about half an hour). Answers to a request go through its response_url instead.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from '../../core/ports';
import { RateLimitedSender, type SendFailure, type SenderLimits, type SenderTuning } from '../shared/rate-limited-sender';

export const SLACK_LIMITS: SenderLimits = {
  global: { limit: 20, windowMs: 1000 },
  perChat: { limit: 1, windowMs: 1000 },
};

export interface SlackPost {
  text: string;
  blocks: unknown[];
}

/** Errors that mean the bot cannot write to that conversation any more (deliveries report them
 *  as 'gone'). */
const DEAD = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'account_inactive', 'user_not_found', 'cannot_dm_bot', 'user_disabled']);

/** Reads the Web API client's errors (with rejectRateLimitedCalls, a 429 rejects with retryAfter). */
export function classifySlackError(error: unknown): SendFailure {
  const e = error as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string } | null;
  const reason = e?.data?.error ?? e?.message ?? String(error);
  if (e?.code === 'slack_webapi_rate_limited_error') return { kind: 'rate', retryAfterMs: Math.max(1, e.retryAfter ?? 1) * 1000 };
  if (e?.code === 'slack_webapi_platform_error') return DEAD.has(reason) ? { kind: 'dead', reason } : { kind: 'fatal', reason };
  if (e?.code === 'slack_webapi_http_error' && (e.statusCode ?? 0) < 500) return { kind: 'fatal', reason, code: e.statusCode };
  return { kind: 'transient', reason, code: e?.statusCode };
}

export type SlackSendOptions = { group?: boolean; evenIfDead?: boolean };

/** `client` must reject rate-limited calls and not retry: the sender does both. */
export function createSlackSender(client: webApi.WebClient, logger: Logger, limits: Partial<SenderLimits> = {}, tuning: SenderTuning = {}): RateLimitedSender<SlackPost, SlackSendOptions, string> {
  return new RateLimitedSender<SlackPost, SlackSendOptions, string>({
    ...tuning,
    platform: 'slack',
    limits: { ...SLACK_LIMITS, ...limits },
    call: (channel, post) => client.chat.postMessage({ channel: String(channel), text: post.text, blocks: post.blocks as never, unfurl_links: false, unfurl_media: false }),
    classify: classifySlackError,
    messageIdOf: (result) => (result as { ts?: string } | null)?.ts,
    describe: () => ({ method: 'chat.postMessage' }),
    logger,
  });
}
