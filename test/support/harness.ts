/**
 * A whole core on an in-memory SQLite store with a hand-set price feed, a manual clock and
 * counting ids: deterministic, and as close to production as a test without a network gets.
 */
import { createCore, DEFAULT_CORE_CONFIG, type Core } from '../../core/app';
import { DEFAULT_COINS, REFERENCE_FIAT_RATES } from '../../core/coins';
import type { ChatType, CoreConfig, Services } from '../../core/context';
import type { Coin, LinkedIdentity, Platform, Quote } from '../../core/domain';
import type { DispatchResult } from '../../core/dispatcher';
import { renderPlainText, type RichMessage } from '../../core/messages';
import { OutboxWorker, type OutboxRun, type OutboxWorkerOptions } from '../../core/notifications/outbox-worker';
import type { ChatDelivery, Clock, Delivery, FiatRates, IdGenerator, Logger, Notifier, PriceFeed, PriceSourceStatus, Store } from '../../core/ports';
import { SqliteStore } from '../../infra/sqlite/sqlite-store';
import { BcryptPasswords } from '../../infra/support/system';

export class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 10, 25, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export function countingIds(prefix = 'id'): IdGenerator {
  let n = 0;
  // The counter leads, so any prefix of an id (alert ids use 12 characters) is unique too.
  return { next: () => `${String(++n).padStart(12, '0')}-${prefix}-0000-000000000000` };
}

/** Prices set by the test; quotes are "received" at the clock's current time when set. */
export class HandFeed implements PriceFeed {
  simulated = false;
  readonly quotes = new Map<string, Quote>();
  tracked: string[] = [];
  rates: Record<string, string> = { ...REFERENCE_FIAT_RATES };
  knownCoins = new Map<string, Coin>([['pepe', { id: 'pepe', symbol: 'pepe', name: 'Pepe' }], ['uniswap-v2', { id: 'uniswap-v2', symbol: 'uni', name: 'Uniswap V2 clone' }]]);

  constructor(private readonly clock: Clock) {}

  set(coinId: string, price: string, change24hPercent: string | null = '1.5'): this {
    this.quotes.set(coinId, { coinId, price, change24hPercent, receivedAt: this.clock.now(), simulated: this.simulated });
    return this;
  }
  quote(coinId: string): Quote | undefined {
    return this.quotes.get(coinId);
  }
  fiatRates(): FiatRates {
    return { rates: this.rates, simulated: this.simulated };
  }
  track(coinIds: string[]): void {
    this.tracked = coinIds;
  }
  /** Counts calls; the test sets prices itself. */
  refreshes = 0;
  async refresh(): Promise<void> {
    this.refreshes++;
  }
  async lookupCoin(coinId: string): Promise<Coin | null> {
    return this.knownCoins.get(coinId) ?? DEFAULT_COINS.find((c) => c.id === coinId) ?? null;
  }
  /** What source() answers; a test sets it to play a failover. */
  sourceStatus: PriceSourceStatus = { active: 'CoinGecko' };
  source(): PriceSourceStatus {
    return this.sourceStatus;
  }
}

type EmailResult = Awaited<ReturnType<Notifier['deliver']>>;

export class RecordingNotifier implements Notifier {
  enabled = true;
  /** Every email deliver() (the outbox worker) sent. */
  readonly sent: Array<{ username: string; subject: string; body: string }> = [];
  readonly subscriptions = new Map<string, string>();
  /** Outcomes the next deliver() calls return instead of 'sent' (a failed one records nothing). */
  readonly nextResults: EmailResult[] = [];
  async subscribe(username: string, email: string) {
    this.subscriptions.set(username, email);
  }
  async unsubscribe(username: string) {
    this.subscriptions.delete(username);
  }
  async deliver(username: string, message: { subject: string; body: string }): Promise<EmailResult> {
    if (!this.enabled) return { status: 'skipped', reason: 'email is not configured' };
    const result = this.nextResults.shift() ?? { status: 'sent' };
    if (result.status === 'sent') this.sent.push({ username, subject: message.subject, body: message.body });
    return result;
  }
  /** Emails one user received. */
  inbox(username: string): Array<{ subject: string; body: string }> {
    return this.sent.filter((m) => m.username === username).map(({ subject, body }) => ({ subject, body }));
  }
}

/**
 * The chat platforms as the outbox worker sees them (ChatDelivery): records what each address
 * received and answers what the test scripted for it ('sent' unless told otherwise).
 */
export class RecordingChats implements ChatDelivery {
  /** `to` is `user:<identity key>` or `chat:<chat address>`, as in OutboxMessage.destination. */
  readonly received: Array<{ to: string; message: RichMessage }> = [];
  /** Every attempt, delivered or not. */
  readonly attempts: string[] = [];
  private readonly scripts = new Map<string, Delivery[]>();
  /** Addresses whose every delivery says 'gone' (blocked the bot, removed it). */
  readonly gone = new Map<string, string>();

  /** The next deliveries to `to` end like this, in order; then 'sent' again. */
  script(to: string, ...outcomes: Delivery[]): this {
    this.scripts.set(to, [...(this.scripts.get(to) ?? []), ...outcomes]);
    return this;
  }
  block(to: string, reason = 'Forbidden: bot was blocked by the user'): this {
    this.gone.set(to, reason);
    return this;
  }
  async deliver(identity: LinkedIdentity, message: RichMessage): Promise<Delivery> {
    return this.outcome(`user:${identity.key}`, message);
  }
  async deliverToChat(chatAddress: string, message: RichMessage): Promise<Delivery> {
    return this.outcome(`chat:${chatAddress}`, message);
  }
  /** What one address received, as the terminal shows it. */
  texts(to: string): string[] {
    return this.received.filter((r) => r.to === to).map((r) => renderPlainText(r.message));
  }
  private outcome(to: string, message: RichMessage): Delivery {
    this.attempts.push(to);
    const gone = this.gone.get(to);
    if (gone !== undefined) return { status: 'gone', reason: gone };
    const outcome = this.scripts.get(to)?.shift() ?? { status: 'sent' };
    if (outcome.status === 'sent') this.received.push({ to, message: structuredClone(message) });
    return outcome;
  }
}

export const silentLogger: Logger & { errors: unknown[] } = {
  errors: [],
  info() {},
  warn() {},
  error(obj: object) {
    silentLogger.errors.push(obj);
  },
};

export interface SendOptions {
  chat?: ChatType;
  messageId?: string;
  platform?: Platform;
  /** When the user sent it (the platform's timestamp); by default, not known. */
  sentAt?: number;
}

export interface TestBot {
  core: Core;
  store: Store;
  clock: ManualClock;
  feed: HandFeed;
  notifier: RecordingNotifier;
  /** The chats pushed messages reach through the outbox. */
  chats: RecordingChats;
  /** The outbox worker over `chats` and `notifier`. */
  outbox: OutboxWorker;
  /** Runs the outbox worker until nothing due is left (retries wait for the clock); the totals. */
  deliverOutbox(): Promise<OutboxRun>;
  /** Sends a line as a console user; returns the reply. */
  send(user: string, text: string, options?: SendOptions): Promise<RichMessage>;
  dispatch(user: string, text: string, options?: SendOptions): Promise<DispatchResult>;
  /** The reply as the terminal shows it. */
  say(user: string, text: string, options?: SendOptions): Promise<string>;
  /** Signs a console user up (role user) and returns nothing. */
  signup(user: string): Promise<void>;
  /** Creates an account with the given role linked to console:<user>. */
  staff(user: string, role: 'admin' | 'analyst' | 'moderator' | 'user'): Promise<void>;
  close(): Promise<void>;
}

/** Default prices: every default coin at its reference price. `logger` replaces the silent one
 *  (a test capturing the real logger's output passes it here); `ids` the counting ids (a core
 *  started again on a store that has trades needs ids the first one did not hand out). */
export async function makeTestBot(options: { config?: Partial<CoreConfig>; store?: Store; logger?: Logger; ids?: IdGenerator; outbox?: OutboxWorkerOptions; services?: Partial<Pick<Services, 'news' | 'market' | 'charts' | 'sentiment'>> } = {}): Promise<TestBot> {
  const clock = new ManualClock();
  const feed = new HandFeed(clock);
  for (const coin of DEFAULT_COINS) feed.set(coin.id, coin.referencePriceUsd);
  const store = options.store ?? SqliteStore.open({ file: ':memory:' });
  const notifier = new RecordingNotifier();
  const core = createCore({
    store, prices: feed, notifier, passwords: new BcryptPasswords(4), clock, ids: options.ids ?? countingIds(), logger: options.logger ?? silentLogger,
    // Fills at the market price unless a test asks for spread and slippage (test/orders*.test.ts).
    config: { ...DEFAULT_CORE_CONFIG, spreadBps: '0', slippageBpsPer10k: '0', ...options.config },
    ...options.services,
  });
  const chats = new RecordingChats();
  const outbox = new OutboxWorker(core.services, chats, options.outbox);
  let sequence = 0;
  const dispatch: TestBot['dispatch'] = (user, text, opts = {}) => {
    const platform = opts.platform ?? 'console';
    return core.dispatcher.dispatch({
      identity: { platform, userId: user },
      chat: { type: opts.chat ?? 'private', id: opts.chat === 'group' ? `${platform}:group` : `${platform}:${user}` },
      text,
      messageId: opts.messageId ?? `m${++sequence}`,
      sentAt: opts.sentAt,
    });
  };
  const send: TestBot['send'] = async (user, text, opts) => (await dispatch(user, text, opts)).message;
  const bot: TestBot = {
    core, store, clock, feed, notifier, chats, outbox, dispatch, send,
    async deliverOutbox() {
      const total: OutboxRun = { delivered: 0, retried: 0, failed: 0, summarised: 0 };
      // Bounded: a retry is due later than now, so a run that settles nothing ends the loop.
      for (let i = 0; i < 50; i++) {
        const run = await outbox.runOnce();
        for (const k of Object.keys(total) as Array<keyof OutboxRun>) total[k] += run[k];
        if (run.delivered + run.retried + run.failed + run.summarised === 0) break;
      }
      return total;
    },
    say: async (user, text, opts) => renderPlainText(await send(user, text, opts)),
    async signup(user) {
      const reply = await send(user, `/signup ${user} ${user}@example.com`);
      if (reply.tone !== 'success') throw new Error(`signup of ${user} failed: ${renderPlainText(reply)}`);
    },
    async staff(user, role) {
      await bot.signup(user);
      if (role !== 'user') await store.updateAccount(user, { role });
    },
    close: () => store.close(),
  };
  return bot;
}
