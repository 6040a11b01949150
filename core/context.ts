/** What a command handler is given: the caller, the chat, and the services behind the ports. */
import type { Account, Caller, IdentityRef } from './domain';
import type { ChartRenderer, Clock, IdGenerator, Logger, MarketData, Metrics, NewsSource, Notifier, PasswordHasher, PriceFeed, SentimentSource, Store } from './ports';
import type { CoinCatalog } from './coin-catalog';
import type { AttemptLimiter } from './attempt-limiter';
import type { CommandRegistry } from './registry';

export interface CoreConfig {
  /** Virtual cash a new account starts with, in the base currency. */
  startBalance: string;
  /** Trading fee as a percentage of the trade's value ("0.1" = 0.1%). */
  feePercent: string;
  /** A trade refuses a quote older than this. */
  maxQuoteAgeMs: number;
  maxAlertsPerUser: number;
  activityRetentionDays: number;
  /** Trades worth more than this (base currency) ask for confirmation where buttons exist. */
  confirmTradesAbove: string;
  /** A command that changes something and arrives later than this after it was sent is refused. */
  maxCommandAgeMs: number;
  /** How often live prices are fetched (one request for every tracked coin). */
  priceRefreshMs: number;
  /** A repeating alert re-arms only once the price has moved back past its threshold by this
   *  percent (as well as after its cool-down): a price hovering at the line does not flood. */
  alertRearmPercent: string;
  /** At most this many pushed alert messages per user or group per minute; the rest are summed
   *  up in one message. */
  alertsPerMinute: number;
  /** A broadcast rule fires at most once per this. */
  broadcastCooldownMs: number;
  maxBroadcastsPerChat: number;
  /** Fill costs (core/orders/pricing.ts), in basis points: the whole bid-ask spread (a buy pays
   *  half of it above the market price, a sell gets half below), the slippage per 10,000 of the
   *  base currency traded, and the most slippage any trade can have. */
  spreadBps: string;
  slippageBpsPer10k: string;
  maxSlippageBps: string;
  /** Open limit and stop orders per user. */
  maxOpenOrders: number;
  /** The longest an order may stay open ("for 30d"); also how long one without "for" lasts. */
  maxOrderMs: number;
}

export interface Services {
  store: Store;
  prices: PriceFeed;
  notifier: Notifier;
  passwords: PasswordHasher;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  config: CoreConfig;
  coins: CoinCatalog;
  /** Brute-force limits on logins, link codes and email changes, counted in the store. */
  attempts: AttemptLimiter;
  registry: CommandRegistry;
  /** Headlines for /news; absent when the bot is built without news (it says so). */
  news?: NewsSource;
  /** Counters for the operators (/metrics); absent: nothing is counted. */
  metrics?: Metrics;
  /** Price history, the whole market and trending coins for /chart, /analysis and /market;
   *  absent when the bot is built without them (commands say so). */
  market?: MarketData;
  /** Draws /chart and /analysis images; absent: those answer with numbers only. */
  charts?: ChartRenderer;
  /** The Fear and Greed index for /market; absent: /market says it is not set up. */
  sentiment?: SentimentSource;
}

export type ChatType = 'private' | 'group';

export interface ChatRef {
  type: ChatType;
  /** Platform-prefixed conversation id, e.g. `telegram:-100123`. */
  id: string;
  /** The forum topic (Telegram message_thread_id) or thread the command came from, where
   *  replies and pushes should go. */
  topic?: string;
}

/** Where pushes into this chat go: its id, or `<id>/<topic>` for a forum topic. Adapters' deliverToChat
 *  take this form. */
export function postingAddress(chat: ChatRef): string {
  return chat.topic ? `${chat.id}/${chat.topic}` : chat.id;
}

/** The whole chat of a posting address (a topic's group): the bot removed from the group can
 *  post in none of its topics. */
export function chatOfPostingAddress(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}

export interface CommandContext {
  services: Services;
  identity: IdentityRef;
  identityKey: string;
  account: Account | null;
  caller: Caller;
  chat: ChatRef;
  /** Unique per delivered chat message; the same message delivered twice carries the same key. */
  idempotencyKey: string;
  /** The adapter can show Confirm / Cancel buttons, so large trades may ask first. */
  canConfirm: boolean;
  /** The user pressed Confirm on this command. */
  confirmed: boolean;
  /** Whether the caller administers this group or channel, as the platform says (Telegram chat
   *  administrators, Discord Manage Server or Manage Channels, Slack workspace admins); false in
   *  private chats and where the platform cannot tell. */
  isChatAdmin(): Promise<boolean>;
}
