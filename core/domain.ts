/**
 * The domain's records. Money fields are decimal strings at rest (see money.ts); the store hands
 * them back exactly as written.
 */
import type { FiatCode } from './currencies';
import type { RichMessage } from './messages';

export const ROLES = ['user', 'admin', 'analyst', 'moderator'] as const;
export type Role = (typeof ROLES)[number];
/** A chat identity not yet linked to an account. */
export type Caller = Role | 'guest';

export const PLATFORMS = ['telegram', 'discord', 'slack', 'console'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface Account {
  username: string;
  email: string;
  /** bcrypt hash; null for accounts made by /signup, which log in through their chat identity. */
  passwordHash: string | null;
  role: Role;
  createdAt: number;
  currency: FiatCode;
  /** Whether trade confirmations and alerts also go out by email. */
  emailNotifications: boolean;
  /** Where fired alerts go: every linked direct chat ('dm', the default), one chat the user
   *  chose with /settings alerts here ('here', see alertChat), or no chat ('off'; email still
   *  follows emailNotifications). */
  alertDelivery?: AlertDelivery;
  /** The chat address for alertDelivery 'here' (a group, or a topic: see postingAddress). */
  alertChat?: string;
  /** IANA time zone every time shown to the user is in; UTC when absent. */
  timezone?: string;
  /** The local hour (0-23) of the daily digest; absent or null: no digest. */
  digestHour?: number | null;
  /** Opted in to leaderboards (/settings leaderboard on); absent or false: never ranked. */
  leaderboard?: boolean;
}

/** A user's portfolio value on one day (UTC), in the base currency, recorded by the scheduler
 *  for /chart portfolio and /leaderboard. */
export interface PortfolioSnapshot {
  username: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** Cash plus holdings at that day's prices (exact decimal). */
  value: string;
  at: number;
}

export type AlertDelivery = 'dm' | 'here' | 'off';

/** A chat user: (platform, workspace or server where it matters, platform user id). */
export interface IdentityRef {
  platform: Platform;
  /** Slack workspace (team) id; empty where the platform's user ids are global. */
  workspace?: string;
  userId: string;
}

export interface LinkedIdentity {
  key: string;
  platform: Platform;
  username: string;
  linkedAt: number;
  /** Set when a push to the user's direct chat found the bot blocked (Store.markUnreachable);
   *  cleared when they next send a command from it. Pushes skip it meanwhile. */
  unreachableSince?: number;
}

/** `telegram:42`, `slack:T1:U9`: one string the stores can key on without knowing the platform. */
export function identityKey(identity: IdentityRef): string {
  return identity.workspace
    ? `${identity.platform}:${identity.workspace}:${identity.userId}`
    : `${identity.platform}:${identity.userId}`;
}

export interface Holding {
  coinId: string;
  quantity: string;
  /** Cash paid for the quantity still held, fees included. */
  costBasis: string;
  /** Part of `quantity` held for open sell orders (core/orders): a market sale cannot use it.
   *  Absent: none. Never more than `quantity`. */
  reserved?: string;
}

export interface Portfolio {
  username: string;
  cash: string;
  holdings: Record<string, Holding>;
  realizedPnl: string;
  /** Part of `cash` held for open buy orders (core/orders): a market purchase cannot use it.
   *  Absent: none. `cash` stays what the ledger says; what is free to spend is cash - reserved. */
  reservedCash?: string;
  /** Bumped on every trade and every order placed, filled or ended; optimistic stores condition
   *  their write on it. */
  version: number;
  createdAt: number;
  /** Timestamp (ms) of the account's latest trade, 0 before the first. Each trade is stamped
   *  after it (see applyPlan), so one account's ledger in time order is its commit order even
   *  when several processes with their own clocks trade on it. */
  lastTradeAt: number;
}

export type TradeSide = 'buy' | 'sell';

export interface Transaction {
  transactionId: string;
  username: string;
  type: TradeSide;
  coinId: string;
  quantity: string;
  price: string;
  /** Gross cash value of the trade (quantity x price, in cents). */
  amount: string;
  fee: string;
  timestamp: number;
  platform: Platform;
  /** The order this trade filled (core/orders); absent for a market trade. */
  orderId?: string;
  /** The market (mid) price the trade's `price` was derived from by the spread and slippage
   *  (core/orders/pricing.ts); absent on trades made before fill costs existed. */
  marketPrice?: string;
}

export type AlertCondition = 'above' | 'below' | 'move';
export type MoveDirection = 'up' | 'down' | 'either';
/**
 * Where an alert is in its life:
 *   armed   - waiting for its condition;
 *   cooling - a repeating alert that fired: it re-arms once its cool-down has passed and the
 *             price has moved back past its threshold by the re-arm margin (core/alerts);
 *   fired   - a one-shot alert that fired;
 *   expired - its `expiresAt` came first;
 *   removed - its owner removed it (kept a while so that other instances see it go).
 * Armed and cooling alerts are "live": they count against the owner's limit.
 */
export const ALERT_STATES = ['armed', 'cooling', 'fired', 'expired', 'removed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const isLiveAlert = (state: AlertState): boolean => state === 'armed' || state === 'cooling';

/**
 * A price alert of a user, or a broadcast rule of a group or channel: the same record, matched
 * the same way. A rule's owner is `#chat:<chat address>` (see broadcastOwner), which can never be
 * a username (usernames are [a-z0-9_]).
 */
export interface PriceAlert {
  alertId: string;
  /** A username, or `#chat:<chat address>` for a broadcast rule. */
  username: string;
  coinId: string;
  condition: AlertCondition;
  /** above/below: the threshold, in the base currency (a decimal string). Absent for move. */
  targetPrice?: string;
  /** move: how far (percent, a decimal string such as "5"), over what window, which way. */
  movePercent?: string;
  moveWindowMs?: number;
  moveDirection?: MoveDirection;
  /** Repeating alerts: the least time between two firings. Absent: the alert fires once. */
  repeatMs?: number;
  /** After this (ms since epoch) the alert no longer fires and becomes expired. */
  expiresAt?: number;
  state: AlertState;
  createdAt: number;
  /** The latest firing. */
  firedAt?: number;
  fireCount: number;
  /** 1 when created, bumped by every change; state changes are conditioned on it. */
  version: number;
  /** When it last changed (the writer's clock). */
  updatedAt: number;
  /** Present when the record is a paper order rather than an alert (core/orders). */
  order?: OrderTerms;
}

/**
 * A limit or stop order. It is kept as a PriceAlert (owner orderOwner(username), condition above
 * or below its trigger price, one-shot, optional expiresAt) so that the alert index matches it
 * and every instance sees it through the alert change feed; these are the order's own terms.
 * Its life: armed = open; fired = filled; removed = cancelled; expired = expired. Every change of
 * it goes with its portfolio change in one atomic step (Store.changeOrder).
 */
export interface OrderTerms {
  side: TradeSide;
  /** limit: buy at or below / sell at or above the price; stop: buy once the price rises to it /
   *  sell once it falls to it, at the market. */
  type: 'limit' | 'stop';
  /** What to trade: a buy spends `cash` or buys a `quantity`; a sell sells a `quantity` (a
   *  share or "all" is turned into a quantity when the order is placed). */
  amount: { kind: 'cash' | 'quantity'; value: string };
  /** Held for it in the portfolio: cash for a buy (Portfolio.reservedCash), coin for a sell
   *  (Holding.reserved). Released when it fills or ends. */
  reserved: string;
  /** Where it was placed: its fill's transaction says so, as a market trade's does. */
  platform: Platform;
  /** The fill's transaction, once filled. */
  transactionId?: string;
  /** Why it ended without a fill (shown in /orders and the message to its owner). */
  endReason?: string;
}

/** The owner of a user's orders in the alert records: `#orders:alice`. Their own owner keeps them
 *  out of /alerts and the alert limit (as broadcastOwner does for chats). */
export const orderOwner = (username: string): string => `#orders:${username}`;
/** The username of an order owner, or undefined when the owner is not one. */
export const usernameOfOrderOwner = (owner: string): string | undefined => (owner.startsWith('#orders:') ? owner.slice('#orders:'.length) : undefined);

/** The owner of a chat's broadcast rules: `#chat:telegram:-100123`. */
export const broadcastOwner = (chatAddress: string): string => `#chat:${chatAddress}`;
/** The chat address of a broadcast rule's owner, or undefined for a user's alert. */
export const chatOfOwner = (owner: string): string | undefined => (owner.startsWith('#chat:') ? owner.slice('#chat:'.length) : undefined);

/**
 * One message pushed outside any conversation (a fired alert, a broadcast, a trade confirmation
 * email, the daily digest, a notice), to one destination. Every push goes through the outbox in
 * the store: written in the same atomic step as what caused it, then delivered by a worker that
 * retries with backoff (core/notifications), so a crash between the two loses nothing.
 */
export interface OutboxMessage {
  /** Deterministic (`alert:<id>:<fire count>:<destination>`), so queuing it twice keeps one. */
  id: string;
  /** `user:<identity key>` (their direct chat), `chat:<chat address>` (a group, channel or
   *  topic, see postingAddress) or `email:<username>`. */
  destination: string;
  /** Whose it is, when it is a user's: for the per-minute cap and to tell them when a chat is
   *  unreachable. Absent for group broadcasts. */
  username?: string;
  kind: 'alert' | 'broadcast' | 'trade' | 'digest' | 'notice';
  /** For user: and chat: destinations. JSON-serialisable. */
  message?: RichMessage;
  /** For email: destinations. */
  email?: { subject: string; body: string };
  createdAt: number;
  /** Not delivered before this (retries back off by moving it). */
  dueAt: number;
  attempts: number;
  status: OutboxStatus;
  /** A worker holds it until then (Store.leaseOutbox). */
  leaseUntil?: number;
  /** The last failure's reason; for 'failed', why it was given up. */
  error?: string;
  /** When it was delivered or given up. */
  settledAt?: number;
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed';

/** What the bot knows about a group chat (or direct chat) it pushes to. */
export interface ChatState {
  /** The chat address (`telegram:-100123`) or identity key (`telegram:42`). */
  address: string;
  /** The bot could not write there (removed, blocked, channel gone): pushes skip it until cleared. */
  unreachableSince?: number;
  unreachableReason?: string;
  /** The group's broadcasts are paused (/broadcast pause). */
  broadcastsPaused?: boolean;
}

export interface Coin {
  id: string;
  symbol: string;
  name: string;
}

export interface Quote {
  coinId: string;
  /** Price in the base currency. */
  price: string;
  change24hPercent: string | null;
  /** When this process received the quote (ms since epoch). */
  receivedAt: number;
  simulated: boolean;
  /** Where the price came from, as users read it ("CoinGecko", "Binance"); absent: the feed's
   *  only source. */
  source?: string;
}

/** A quote young enough to act on (match alerts, fill orders, count as ready): received no more
 *  than `maxAgeMs` before `now`. */
export function isFresh(quote: Quote | undefined, now: number, maxAgeMs: number): boolean {
  return quote !== undefined && now - quote.receivedAt <= maxAgeMs;
}

export interface ActivityEntry {
  at: number;
  identityKey: string;
  platform: Platform;
  username: string | null;
  command: string;
  /** The command line as typed, clipped; only the command's name for commands whose arguments
   *  are secret (/login, /link), and "(unknown command)" for a word that is not one. */
  detail: string;
  outcome: 'ok' | 'error' | 'denied';
}

export interface SystemStats {
  accounts: number;
  accountsByRole: Record<Role, number>;
  identities: number;
  transactions: number;
  buyVolume: string;
  sellVolume: string;
  activeAlerts: number;
  trackedCoins: number;
}
