/**
 * Ports: everything the core needs from outside, as interfaces. `infra/` implements them; `src/`
 * wires the implementations in. Nothing here knows about SQLite, DynamoDB, HTTP or a chat SDK.
 */
import type {
  Account,
  ActivityEntry,
  ChatState,
  Coin,
  LinkedIdentity,
  OutboxMessage,
  Portfolio,
  PortfolioSnapshot,
  PriceAlert,
  Quote,
  SystemStats,
  Transaction,
} from './domain';
import type { Button, RichMessage } from './messages';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** What a plan decided, given the portfolio as it is inside the store's atomic section: a new
 *  portfolio (version + 1), the transaction when it traded, and `messages` (a confirmation email,
 *  a fill's notices) to queue in the outbox in the same atomic step. */
export type PortfolioPlan =
  | { ok: true; portfolio: Portfolio; transaction?: Transaction; messages?: OutboxMessage[] }
  | { ok: false; reason: string };

/** A trade's plan: one that trades. */
export type TradePlan = Exclude<PortfolioPlan, { ok: true }> | (Extract<PortfolioPlan, { ok: true }> & { transaction: Transaction });

/**
 * One step in an order's life (core/orders), written together with the portfolio change that
 * goes with it in one atomic step (Store.changeOrder): placing it (reserve), filling it (trade and
 * release), cancelling or expiring it (release).
 */
export interface OrderChange {
  /** The order's record as it is to be written (owner orderOwner(username), `order` set). */
  order: PriceAlert;
  /** Absent: a new order, inserted (armed, version 1) unless its id exists or the owner has
   *  `limit` open ones. Present: the stored order must be live and at this version. */
  expectedVersion?: number;
  limit?: number;
  /** Pure; may run more than once. A plan with a transaction (a fill) also writes the idempotency
   *  record `order:<orderId>`, so a fill happens once even past the version condition. */
  plan: (current: Portfolio) => PortfolioPlan;
}

export type OrderOutcome =
  | { status: 'done'; portfolio: Portfolio; transaction?: Transaction }
  | { status: 'rejected'; reason: string }
  /** The owner already has `limit` open orders. */
  | { status: 'limit' }
  /** New: an order with this id exists (the same message twice); change: the order is no longer
   *  live or not at expectedVersion (filled, cancelled, or changed by another instance).
   *  `current` is the stored order, when there is one. Nothing was written. */
  | { status: 'stale'; current: PriceAlert | null };

export type TradeOutcome =
  | { status: 'done'; portfolio: Portfolio; transaction: Transaction }
  /** The idempotency key was used before: nothing changed, here is what it did then. */
  | { status: 'duplicate'; transaction: Transaction }
  | { status: 'rejected'; reason: string };

export class ConflictError extends Error {
  constructor(readonly what: 'username' | 'email' | 'identity' | 'coin') {
    super(`${what} already exists`);
    this.name = 'ConflictError';
  }
}

/** One key's attempts in its current window (see Store.recordAttempt). */
export interface Attempts {
  count: number;
  /** The window's first attempt: the window began then. */
  firstAt: number;
  lastAt: number;
}

/** What the buttons under one chat message do (core/buttons.ts): a small record, kept in the
 *  store so that a press works after a restart and on any instance. */
export interface ButtonSet {
  /** Identity key (`telegram:42`) of the only person who may press them; anyone when absent. */
  owner?: string;
  buttons: Button[];
}

/** A stored button set; `used` once a press has taken it (Store.takeButtons). */
export interface StoredButtons extends ButtonSet {
  used: boolean;
}

export type AccountPatch = Partial<Pick<Account,
  'email' | 'role' | 'currency' | 'emailNotifications' | 'passwordHash' | 'alertDelivery' | 'alertChat' | 'timezone' | 'digestHour' | 'leaderboard'>>;

/** One alert the matcher found crossed, to claim (Store.fireAlerts). */
export interface AlertFiring {
  username: string;
  alertId: string;
  /** The version the matcher saw: the claim holds only if the alert is still at it and live. */
  version: number;
  /** 'fired' for a one-shot alert, 'cooling' for a repeating one. */
  state: 'fired' | 'cooling';
  at: number;
  /** Queued in the same atomic step as the claim. */
  messages: OutboxMessage[];
}

/** How one delivery attempt of an outbox message ended (Store.settleOutbox). */
export type OutboxSettlement =
  | { status: 'delivered'; at: number }
  /** Try again at dueAt; attempts is bumped and the lease released. */
  | { status: 'retry'; dueAt: number; error: string }
  /** Given up: recorded with its reason. */
  | { status: 'failed'; at: number; error: string };

export interface AlertChanges {
  /** Alerts created or changed since the cursor, in any state (removed ones too). An alert may
   *  appear more than once or again in a later call: keep the highest version. */
  alerts: PriceAlert[];
  /** Pass to the next call. */
  cursor: string;
}

export interface Store {
  /** Creates the account and its empty portfolio (and links `identityKey` when given) atomically.
   *  Throws ConflictError when the username, email or identity is taken. */
  createAccount(account: Account, startCash: string, identity?: LinkedIdentity): Promise<void>;
  getAccount(username: string): Promise<Account | null>;
  /** getAccount for many usernames at once (duplicates allowed): an unknown username is absent
   *  from the map. For callers that would otherwise read account after account (the alert engine). */
  getAccounts(usernames: string[]): Promise<Map<string, Account>>;
  getAccountByEmail(email: string): Promise<Account | null>;
  /** Throws ConflictError('email') when the new email belongs to another account. */
  updateAccount(username: string, patch: AccountPatch): Promise<Account | null>;
  /** Ordered by username. */
  listAccounts(page: PageRequest): Promise<Page<Account>>;

  findIdentity(key: string): Promise<LinkedIdentity | null>;
  /** Throws ConflictError('identity') when the key is already linked. */
  linkIdentity(identity: LinkedIdentity): Promise<void>;
  unlinkIdentity(key: string): Promise<boolean>;
  listIdentities(username: string): Promise<LinkedIdentity[]>;
  /** listIdentities for many usernames at once (duplicates allowed): every username is in the map,
   *  with [] when it has none, each list in listIdentities' order. */
  listIdentitiesOf(usernames: string[]): Promise<Map<string, LinkedIdentity[]>>;

  saveLinkCode(codeHash: string, username: string, expiresAt: number): Promise<void>;
  /** Deletes the code and returns its username if it existed and had not expired (expired when
   *  now >= expiresAt): single use even when two consumers race. */
  consumeLinkCode(codeHash: string, now: number): Promise<string | null>;

  getPortfolio(username: string): Promise<Portfolio | null>;
  /**
   * Runs `plan` against the current portfolio and, if it says ok, writes the new portfolio, the
   * transaction and the idempotency record in one atomic step. `plan` is pure and may be called
   * more than once (optimistic stores retry it on a version conflict). Holdings whose quantity is
   * zero are not stored. Throws if the plan's version is not current.version + 1. A rejected plan
   * leaves the idempotency key unused. Keys are scoped to the username. The transaction is stamped
   * no earlier than the portfolio's lastTradeAt + 1, which then moves to it (core/trading.ts
   * applyPlan), so an account's timestamps rise in commit order.
   */
  executeTrade(username: string, idempotencyKey: string, plan: (current: Portfolio) => TradePlan): Promise<TradeOutcome>;
  /**
   * One step of an order with its portfolio change, atomically (see OrderChange): the order's
   * record (inserted or conditionally updated, with the owner's open-order count kept as for
   * alerts, and the alert change feed stamped), the portfolio (applyPlan's checks), and, when the
   * plan has them, the transaction (idempotency key `order:<orderId>`, the same record
   * executeTrade writes) and outbox messages. A rejected plan writes nothing.
   */
  changeOrder(username: string, change: OrderChange): Promise<OrderOutcome>;
  /** Newest first: the reverse of the order the trades were committed in. */
  listTransactions(username: string, page: PageRequest): Promise<Page<Transaction>>;
  /** Every account's transactions, newest first. */
  listAllTransactions(page: PageRequest): Promise<Page<Transaction>>;

  /** Inserts the alert (state armed, version 1) unless its owner already has `limit` live
   *  alerts; a chat's broadcast rules count separately from any user's alerts. */
  createAlert(alert: PriceAlert, limit: number): Promise<'created' | 'limit'>;
  /** One owner's alerts that are not removed, oldest first. */
  listAlerts(username: string): Promise<PriceAlert[]>;
  getAlert(username: string, alertId: string): Promise<PriceAlert | null>;
  /** Marks a live or finished alert removed (it stops counting against the limit at once); false
   *  when there is none or it was already removed. */
  deleteAlert(username: string, alertId: string): Promise<boolean>;
  /** Every live (armed or cooling) alert, a page at a time: the matcher builds its index from
   *  these at start. Take alertChangeCursor() first, so that nothing written during the build
   *  is missed. */
  listLiveAlerts(page: PageRequest): Promise<Page<PriceAlert>>;
  /** The change feed's position now. */
  alertChangeCursor(): Promise<string>;
  /** What changed since `cursor` (see AlertChanges): on DynamoDB one query however many alerts
   *  exist, so that an instance keeps its index in step with the others. `now` is the caller's
   *  clock: a store that finds changes by their time moves the cursor up to it, so that once
   *  nothing has changed for a while a call reads nothing at all (without it, the cursor stays at
   *  the newest change and the changes just before it are read again on every call). */
  listAlertChanges(cursor: string, now?: number): Promise<AlertChanges>;
  /** Claims the firings and queues their messages: for each, if the alert is still live and at
   *  `version`, it moves to `state` (firedAt = at, fireCount + 1, version + 1) and its messages
   *  are written, atomically per firing. Returns the ids this call claimed: when several
   *  instances race, each alert is claimed by exactly one of them. */
  fireAlerts(firings: AlertFiring[]): Promise<Set<string>>;
  /** Moves a live alert at `version` to armed (re-armed after its cool-down) or expired (version
   *  + 1); false when it is not at that version or not live. */
  setAlertState(username: string, alertId: string, version: number, state: 'armed' | 'expired', at: number): Promise<boolean>;
  /** Deletes fired, expired and removed alerts last changed before `before`. */
  pruneAlerts(before: number): Promise<number>;

  /** Queues messages; a message whose id is already queued is left as it is. */
  enqueueMessages(messages: OutboxMessage[]): Promise<void>;
  /** Up to `limit` pending messages due at `now` that nobody holds, oldest due first, each now
   *  held until now + leaseMs: no other caller (another instance) gets them until the lease ends,
   *  so a worker that dies holding them only delays them. */
  leaseOutbox(now: number, limit: number, leaseMs: number): Promise<OutboxMessage[]>;
  settleOutbox(id: string, outcome: OutboxSettlement): Promise<void>;
  getOutboxMessage(id: string): Promise<OutboxMessage | null>;
  /** Deletes delivered and failed messages settled before `before`. */
  pruneOutbox(before: number): Promise<number>;

  /** The states of these addresses (chat addresses or identity keys) that have one. */
  getChatStates(addresses: string[]): Promise<Map<string, ChatState>>;
  /** The bot cannot write there. For an identity key the linked identity also shows it
   *  (LinkedIdentity.unreachableSince), so that the dispatcher can clear it without a read. */
  markUnreachable(address: string, reason: string, at: number): Promise<void>;
  clearUnreachable(address: string): Promise<void>;
  setBroadcastsPaused(chatAddress: string, paused: boolean): Promise<void>;

  listCoins(): Promise<Coin[]>;
  addCoin(coin: Coin): Promise<void>;
  removeCoin(coinId: string): Promise<boolean>;

  /** Adds a coin to the user's watchlist unless it is there already ('exists') or the list holds
   *  `limit` coins ('limit'). Atomic: however many adds race, the list never exceeds the limit. */
  addToWatchlist(username: string, coinId: string, limit: number): Promise<'added' | 'exists' | 'limit'>;
  /** False when the coin was not on the list. */
  removeFromWatchlist(username: string, coinId: string): Promise<boolean>;
  /** The user's watched coin ids, sorted; [] for none (or no account). */
  getWatchlist(username: string): Promise<string[]>;

  /** Keeps each user's portfolio value for a day (the scheduler's daily snapshot); a second
   *  snapshot of the same user and day replaces the first. */
  savePortfolioSnapshots(snapshots: PortfolioSnapshot[]): Promise<void>;
  /** The user's snapshots from `fromDay` (inclusive, YYYY-MM-DD) on, oldest first. */
  listPortfolioSnapshots(username: string, fromDay: string): Promise<PortfolioSnapshot[]>;
  /** Remembers that a linked user spoke in a group (the leaderboard ranks a group's members;
   *  platforms do not let bots list them all). Idempotent; `at` is the latest time seen. */
  recordChatMember(chatAddress: string, username: string, at: number): Promise<void>;
  /** Usernames seen in the group, sorted. */
  listChatMembers(chatAddress: string): Promise<string[]>;

  /** Records that a non-trade side effect ran for this key; false if it already had. */
  claimOnce(key: string, expiresAt: number): Promise<boolean>;
  /** Gives a claim up (the side effect failed before it happened), so the key can be claimed again. */
  releaseOnce(key: string): Promise<void>;

  /**
   * Takes or renews the lease `name` for `holder` until now + ttlMs: true when the caller holds it
   * after the call, because it was free, had expired (expiresAt <= now) or was already the
   * caller's (then renewed). Atomic across processes: of racing callers at most one gets it. The
   * store keeps no clock: `now` is the caller's, so holders' clocks must agree to well within the
   * lease (NTP does that).
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, only if `holder` holds it (a late release never frees another's lease). */
  releaseLease(name: string, holder: string): Promise<void>;

  /** Replaces the published price snapshot (the job leader's latest quotes, for the other instances). */
  publishQuotes(snapshot: PriceSnapshot): Promise<void>;
  /** The snapshot last published, or null when none has been. */
  readQuotes(): Promise<PriceSnapshot | null>;

  /**
   * Counts one attempt under `key` (a failed login, a wrong link code, an email change) atomically,
   * however many processes record at once. A window opens at the first attempt and lasts
   * `windowMs`; an attempt at or after its end (now >= firstAt + windowMs) opens a new window at
   * count 1. Returns the window including this attempt. The store keeps no clock: `now` is the
   * caller's.
   */
  recordAttempt(key: string, now: number, windowMs: number): Promise<Attempts>;
  /** The key's open window, or null when there is none at `now`. */
  getAttempts(key: string, now: number): Promise<Attempts | null>;
  /** Forgets the key's attempts (after a success). */
  clearAttempts(key: string): Promise<void>;

  /**
   * Keeps a message's buttons under `id` (random, chosen by the caller) until `expiresAt`, which
   * is at most a week ahead: a store may sweep buttons that expired a week before the newest
   * one's expiry, since it keeps no clock.
   */
  saveButtons(id: string, set: ButtonSet, expiresAt: number): Promise<void>;
  /** The buttons, used or not, or null when unknown or expired (now >= expiresAt). Used buttons
   *  stay readable until they expire, so that a late second press can be told it was done. */
  getButtons(id: string, now: number): Promise<StoredButtons | null>;
  /** Marks the buttons used: true for exactly one caller however many instances race, false
   *  when they were already used, have expired or are unknown. */
  takeButtons(id: string, now: number): Promise<boolean>;

  recordActivity(entry: ActivityEntry): Promise<void>;
  /** Newest first. */
  listActivity(username: string, page: PageRequest): Promise<Page<ActivityEntry>>;
  pruneActivity(before: number): Promise<number>;
  /** Deletes link codes, buttons, once-only claims and attempt windows that expired before `now`
   *  (a store whose database expires them itself, as DynamoDB's TTL does, may return 0). */
  pruneExpired(now: number): Promise<number>;

  stats(): Promise<SystemStats>;
  /** Resolves when the store answers a cheap read now, rejects when it cannot (closed, the
   *  database unreachable): readiness (/readyz) asks it. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface FiatRates {
  /** Units of each currency per one unit of the base currency, as decimal strings. */
  rates: Record<string, string>;
  simulated: boolean;
}

/** The prices one instance (the job leader) fetched, as it publishes them to the others. */
export interface PriceSnapshot {
  quotes: Quote[];
  rates: FiatRates;
  /** Which source the publisher's prices came from (price failover), for /price and /about. */
  source: PriceSourceStatus;
  /** When it was published (ms since epoch, the publisher's clock). */
  at: number;
}

export interface PriceFeed {
  /** True when prices are simulated rather than live. */
  readonly simulated: boolean;
  /** The latest quote held for a coin, however old; the caller judges freshness. */
  quote(coinId: string): Quote | undefined;
  fiatRates(): FiatRates;
  /** The coins the shared poller fetches. */
  track(coinIds: string[]): void;
  /** Fetches every tracked coin's price now (the price job calls it on its schedule; the alert
   *  matcher runs after it). Never rejects: a failed fetch keeps the last quotes. */
  refresh(): Promise<void>;
  /** Looks a coin id up in the upstream coin list (for admins adding coins). */
  lookupCoin(coinId: string): Promise<Coin | null>;
  /** Which source serves prices now (/about; /price names a quote's source when it is not the
   *  usual one). */
  source(): PriceSourceStatus;
}

/** Where a feed's prices come from now. */
export interface PriceSourceStatus {
  /** As users read it: "CoinGecko", "Binance", "simulated". */
  active: string;
  /** Set while a fallback serves prices: the usual source, failing since `since` (ms). */
  standingInFor?: { source: string; since: number };
}

/** Trade confirmations and fired alerts by email; `enabled` is false when email is not configured. */
export interface Notifier {
  readonly enabled: boolean;
  /** Starts email for an account (the provider may first ask the recipient to confirm). */
  subscribe(username: string, email: string): Promise<void>;
  unsubscribe(username: string): Promise<void>;
  /** Sends one email now, for the outbox worker: 'sent' when the provider took it, 'skipped'
   *  when there is nothing to send to (email off, no subscription), 'failed' (worth retrying)
   *  otherwise. Never throws. */
  deliver(username: string, message: { subject: string; body: string }): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason?: string }>;
}

/** How a push to one chat ended (ChatAdapter.deliverToUser / deliverToChat). */
export type Delivery =
  | { status: 'sent' }
  /** The bot cannot write there and should stop trying: blocked by the user, removed from the
   *  group, the channel deleted. */
  | { status: 'gone'; reason: string }
  /** Not delivered this time (rate limits outlasted, server errors, no adapter of the platform
   *  running here): worth retrying later. */
  | { status: 'failed'; reason: string };

/** Pushes a message outside any conversation. The composition root implements it over the
 *  running chat adapters (core/chat-adapter.ts), by the address's platform. Never throws. */
export interface ChatDelivery {
  /** To a person's direct chat with the bot. */
  deliver(identity: LinkedIdentity, message: RichMessage): Promise<Delivery>;
  /** Into a group, channel or topic by its address (see postingAddress). */
  deliverToChat(chatAddress: string, message: RichMessage): Promise<Delivery>;
}

/** One headline from a news feed, as plain text: the feed's markup is already stripped. */
export interface NewsItem {
  title: string;
  /** The article's address (http or https). */
  link: string;
  /** Which feed it came from, as users read it ("coindesk.com"). */
  source: string;
  /** Plain-text summary, possibly empty; searched by the coin filter, not shown. */
  summary: string;
  /** When it was published; absent when the feed does not say. */
  publishedAt?: number;
}

/** Headlines from every configured feed, merged: deduplicated, newest first. */
export interface NewsReport {
  items: NewsItem[];
  /** The sources that did not answer this time (broken, slow, not a feed). */
  failed: string[];
}

/** Recent crypto headlines (RSS and Atom feeds in infra/news). Never rejects: a feed that fails
 *  is named in `failed`. */
export interface NewsSource {
  latest(): Promise<NewsReport>;
}

/** The ranges /chart and /analysis offer, as CoinGecko's market chart `days`. */
export const CHART_RANGES = ['1d', '7d', '30d', '90d', '1y'] as const;
export type ChartRange = (typeof CHART_RANGES)[number];

/** One point of a price series: the price in the base currency (exact decimal) at a time. */
export interface PricePoint {
  at: number;
  price: string;
}

/** A coin's price history over a range (CoinGecko's /coins/{id}/market_chart), oldest first. */
export interface MarketChart {
  coinId: string;
  range: ChartRange;
  points: PricePoint[];
  /** Made up by the simulated feed, not market data. */
  simulated: boolean;
}

/** The whole market (CoinGecko's /global). Amounts in the base currency, exact decimals. */
export interface GlobalMarket {
  totalMarketCap: string;
  totalVolume24h: string;
  marketCapChange24hPercent: string | null;
  /** Market-cap share in percent by lower-case symbol ("btc" -> "52.1"), largest first. */
  marketCapShare: Record<string, string>;
  simulated: boolean;
}

/** A coin people search for most (CoinGecko's /search/trending). */
export interface TrendingCoin {
  id: string;
  symbol: string;
  name: string;
  marketCapRank: number | null;
}

/**
 * Why market data could not be had: `busy` when the shared request budget has no room for an
 * on-demand call this minute (polling keeps its share), `unavailable` when the source failed,
 * `not_found` when it does not know the coin. Commands turn these into plain answers.
 */
export class MarketDataError extends Error {
  constructor(readonly kind: 'busy' | 'unavailable' | 'not_found', message: string) {
    super(message);
    this.name = 'MarketDataError';
  }
}

/** Market data beyond the live quotes, cached (per coin and range) and within the request
 *  budget. Rejects with MarketDataError only. */
export interface MarketData {
  readonly simulated: boolean;
  chart(coinId: string, range: ChartRange): Promise<MarketChart>;
  global(): Promise<GlobalMarket>;
  trending(): Promise<TrendingCoin[]>;
}

/** The Fear and Greed index (0 extreme fear .. 100 extreme greed). */
export interface FearGreedReading {
  value: number;
  /** As the source names it: "Extreme Fear", "Neutral", "Greed". */
  classification: string;
  at: number;
}

/** Market sentiment from FEAR_GREED_URL. Never rejects: null when the source is unavailable. */
export interface SentimentSource {
  fearGreed(): Promise<FearGreedReading | null>;
}

/** A line chart, platform- and library-neutral: the core decides what is drawn, the renderer
 *  how. Values are for drawing only (numbers are fine here; nothing is booked from them). */
export interface ChartSpec {
  title: string;
  /** One per point, already formatted for the reader ("25 Nov", "14:00"). */
  labels: string[];
  series: Array<{ label: string; values: number[] }>;
  /** The value axis' caption ("USD"). */
  yLabel: string;
}

/** Why a chart could not be drawn (the renderer is unreachable or refused it). */
export class ChartUnavailableError extends Error {
  override name = 'ChartUnavailableError';
}

/** Draws charts as images the chat platforms can show (QuickChart in infra/charts). */
export interface ChartRenderer {
  /** A public https (or http) address of the PNG. Rejects with ChartUnavailableError. */
  render(spec: ChartSpec): Promise<{ url: string }>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a null hash, after the same work as a real check: timing must not reveal which
   *  accounts exist or have passwords. */
  verify(password: string, hash: string | null): Promise<boolean>;
}

export interface Clock {
  now(): number;
}

export interface IdGenerator {
  next(): string;
}

export interface Logger {
  /** Optional: detail only worth seeing when tracing a problem (LOG_LEVEL=debug). */
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** How a command ended, as the metrics count it: ran ('ok'); the user's mistake or a rule said no
 *  ('user_error': bad arguments, unknown command, too late, a refused trade); not allowed for this
 *  caller or chat ('denied'); a redelivery not run again ('duplicate'); our fault ('error'). */
export type CommandOutcome = 'ok' | 'user_error' | 'denied' | 'duplicate' | 'error';

/**
 * What the bot counts for its operators (infra/metrics implements it for Prometheus). Calls are
 * cheap and never throw; labels come from small fixed sets (command names from the registry,
 * platforms), never from what a user typed.
 */
export interface Metrics {
  /** A command ended (see CommandOutcome), after `seconds` in the dispatcher. */
  commandDone(command: string, outcome: CommandOutcome, seconds: number): void;
  /** A trade committed: a market trade from a command, or an order filled by the alert engine. */
  tradeDone(kind: 'market' | 'order', side: 'buy' | 'sell'): void;
  /** Alerts claimed and fired in one tick (broadcast rules included). */
  alertsFired(count: number): void;
  /** One outbox delivery attempt to a platform ('telegram', ..., 'email'), with how it ended. */
  delivery(platform: string, outcome: Delivery['status'] | 'skipped'): void;
  /** One HTTP call to an upstream service ('coingecko'; each retry is a call of its own), with
   *  how it ended ('ok' or an error kind) and how long it took. */
  upstreamCall(service: string, outcome: string, seconds: number): void;
}
