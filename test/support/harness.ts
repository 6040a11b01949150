/**
 * A whole core on an in-memory SQLite store with a hand-set price feed, a manual clock and
 * counting ids: deterministic, and as close to production as a test without a network gets.
 */
import { createCore, DEFAULT_CORE_CONFIG, type Core } from '../../core/app';
import { DEFAULT_COINS, REFERENCE_FIAT_RATES } from '../../core/coins';
import type { ChatType, CoreConfig } from '../../core/context';
import type { Coin, Platform, Quote } from '../../core/domain';
import type { DispatchResult } from '../../core/dispatcher';
import { renderPlainText, type RichMessage } from '../../core/messages';
import type { Clock, FiatRates, IdGenerator, Logger, Notifier, PriceFeed, Store } from '../../core/ports';
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
  async lookupCoin(coinId: string): Promise<Coin | null> {
    return this.knownCoins.get(coinId) ?? DEFAULT_COINS.find((c) => c.id === coinId) ?? null;
  }
}

export class RecordingNotifier implements Notifier {
  enabled = true;
  readonly sent: Array<{ username: string; subject: string; body: string }> = [];
  readonly subscriptions = new Map<string, string>();
  async subscribe(username: string, email: string) {
    this.subscriptions.set(username, email);
  }
  async unsubscribe(username: string) {
    this.subscriptions.delete(username);
  }
  send(username: string, message: { subject: string; body: string }) {
    this.sent.push({ username, ...message });
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
export async function makeTestBot(options: { config?: Partial<CoreConfig>; store?: Store; logger?: Logger; ids?: IdGenerator } = {}): Promise<TestBot> {
  const clock = new ManualClock();
  const feed = new HandFeed(clock);
  for (const coin of DEFAULT_COINS) feed.set(coin.id, coin.referencePriceUsd);
  const store = options.store ?? SqliteStore.open({ file: ':memory:' });
  const notifier = new RecordingNotifier();
  const core = createCore({
    store, prices: feed, notifier, passwords: new BcryptPasswords(4), clock, ids: options.ids ?? countingIds(), logger: options.logger ?? silentLogger,
    config: { ...DEFAULT_CORE_CONFIG, ...options.config },
  });
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
    core, store, clock, feed, notifier, dispatch, send,
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
