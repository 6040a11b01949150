/**
 * The live PriceFeed with a stand-in: CoinGecko first, always; an exchange's public ticker
 * (Binance) takes over when CoinGecko's poll has failed twice in a row (a 451 from a blocked
 * region, a 429, 5xx, timeouts: any failure), and CoinGecko takes back over on its first good
 * answer. Two failures, not one, so a single blip does not flip the source users see back and
 * forth.
 *
 * Every poll still asks CoinGecko first (that is how we notice it is back); the exchange is asked
 * only while CoinGecko is failing, so in normal running it costs nothing.
 */
import type { Coin, Quote } from '../../core/domain';
import { Dec } from '../../core/money';
import type { Clock, FiatRates, Logger, PriceFeed, PriceSourceStatus } from '../../core/ports';
import type { FeedHealth } from './coingecko-feed';
import type { ExchangeTicker } from './exchange-client';

/** What the failover needs of the primary feed (CoinGeckoFeed). */
export type PrimaryFeed = Pick<PriceFeed, 'quote' | 'fiatRates' | 'track' | 'refresh' | 'lookupCoin'> & {
  trackedCoins(): string[];
  health(): FeedHealth;
  stop?(): Promise<void>;
};

export interface FailoverFeedOptions {
  primary: PrimaryFeed;
  /** The fallback's tickers by exchange symbol (ExchangeClient). */
  fallback: { tickers(symbols: string[]): Promise<Map<string, ExchangeTicker>> };
  /** The fallback's name as users read it. Default 'Binance'. */
  fallbackName?: string;
  /** A tracked coin's symbol ("btc"); undefined when unknown (the coin then has no fallback). */
  symbolOf: (coinId: string) => Promise<string | undefined>;
  /** Consecutive failed primary polls before the fallback serves prices. Default 2. */
  failuresBeforeFailover?: number;
  clock?: Clock;
  logger?: Logger;
}

/**
 * USDT stands in for USD: the exchange quotes coins against Tether, which tracks the dollar to
 * within a fraction of a percent in normal markets. Good enough for paper trading while CoinGecko
 * is away; not a real USD price, which is why /price names the source.
 */
const QUOTE_ASSET = 'USDT';

/**
 * A fallback price this far from the coin's last CoinGecko price (more than double or less than
 * half) is not used: the same ticker symbol on the exchange is then most likely another coin.
 */
const MAX_RATIO = new Dec(2);

/** How long a coin whose symbol could not be looked up waits before the next try. */
const SYMBOL_RETRY_MS = 10 * 60 * 1000;

export class FailoverFeed implements PriceFeed {
  readonly simulated = false;

  private readonly primary: PrimaryFeed;
  private readonly fallback: FailoverFeedOptions['fallback'];
  private readonly fallbackName: string;
  private readonly symbolOf: FailoverFeedOptions['symbolOf'];
  private readonly threshold: number;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;

  private readonly fallbackQuotes = new Map<string, Quote>();
  private onFallback = false;
  /** When the primary's current run of failed polls began; null while it answers. */
  private primaryDownSince: number | null = null;
  /** Coins whose fallback price was refused as implausible, so the warning is logged once. */
  private readonly implausible = new Set<string>();
  private inFlight: Promise<void> | undefined;
  /** Coin id -> symbol; a coin's symbol does not change. */
  private readonly symbolCache = new Map<string, string>();
  /** Coin ids whose symbol could not be had, until when they are not asked about again. */
  private readonly symbolMisses = new Map<string, number>();

  constructor(options: FailoverFeedOptions) {
    this.primary = options.primary;
    this.fallback = options.fallback;
    this.fallbackName = options.fallbackName ?? 'Binance';
    this.symbolOf = options.symbolOf;
    this.threshold = options.failuresBeforeFailover ?? 2;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.logger = options.logger;
  }

  /** The freshest quote either source holds: while the fallback serves, its quotes are newer; a
   *  coin it does not cover keeps its last CoinGecko quote, which ages out as stale. */
  quote(coinId: string): Quote | undefined {
    const primary = this.primary.quote(coinId);
    const fallback = this.fallbackQuotes.get(coinId);
    if (!fallback) return primary;
    if (!primary) return fallback;
    return fallback.receivedAt > primary.receivedAt ? fallback : primary;
  }

  /** Always CoinGecko's (the last ones it gave): the exchange has no fiat rates. */
  fiatRates(): FiatRates {
    return this.primary.fiatRates();
  }

  track(coinIds: string[]): void {
    this.primary.track(coinIds);
  }

  lookupCoin(coinId: string): Promise<Coin | null> {
    return this.primary.lookupCoin(coinId);
  }

  source(): PriceSourceStatus {
    return this.onFallback && this.primaryDownSince !== null
      ? { active: this.fallbackName, standingInFor: { source: 'CoinGecko', since: this.primaryDownSince } }
      : { active: 'CoinGecko' };
  }

  /** One poll: CoinGecko, then the fallback if CoinGecko has failed often enough. Never rejects;
   *  a call while a poll runs joins it. */
  refresh(): Promise<void> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async stop(): Promise<void> {
    await this.primary.stop?.();
    await this.inFlight;
  }

  // -------------------------------------------------------------------------------------------

  private async poll(): Promise<void> {
    const startedAt = this.clock.now();
    await this.primary.refresh();
    const health = this.primary.health();
    if (health.consecutiveFailures === 0) {
      if (this.onFallback) this.logger?.info({ source: 'CoinGecko' }, `prices: CoinGecko answers again and takes back over from ${this.fallbackName}`);
      this.onFallback = false;
      this.primaryDownSince = null;
      // Its quotes are older than CoinGecko's fresh ones now; dropping them keeps quote() simple.
      this.fallbackQuotes.clear();
      return;
    }
    this.primaryDownSince ??= startedAt;
    if (health.consecutiveFailures < this.threshold) return;
    if (!this.onFallback) {
      const kind = (health.lastError as { kind?: string } | null)?.kind;
      const status = (health.lastError as { status?: number } | null)?.status;
      this.logger?.warn({ consecutiveFailures: health.consecutiveFailures, kind, status, err: health.lastError?.message }, `prices: CoinGecko is failing; ${this.fallbackName} takes over until it answers again`);
      this.onFallback = true;
    }
    await this.pollFallback();
  }

  private async pollFallback(): Promise<void> {
    try {
      const coinsBySymbol = await this.symbols();
      const tickers = await this.fallback.tickers([...coinsBySymbol.keys()]);
      const receivedAt = this.clock.now();
      for (const [symbol, coinId] of coinsBySymbol) {
        const ticker = tickers.get(symbol);
        if (!ticker || !this.plausible(coinId, ticker.price)) continue;
        this.fallbackQuotes.set(coinId, { coinId, price: ticker.price, change24hPercent: ticker.change24hPercent, receivedAt, simulated: false, source: this.fallbackName });
      }
    } catch (error) {
      // Both sources down: the last quotes stay and age out as stale; the next poll tries again.
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error), kind: (error as { kind?: string }).kind }, `prices: ${this.fallbackName} failed too; keeping the last quotes`);
    }
  }

  /**
   * Exchange symbol -> coin id for the tracked coins. A symbol two tracked coins share (a clone
   * and the original) is left out: we could not tell which one the exchange means.
   */
  private async symbols(): Promise<Map<string, string>> {
    const tracked = this.primary.trackedCoins();
    const now = this.clock.now();
    // Looked up together, so a coin-list fetch behind symbolOf is shared; a coin whose symbol
    // could not be had is not asked about again for a while (its source is down, after all).
    const unknown = tracked.filter((id) => !this.symbolCache.has(id) && (this.symbolMisses.get(id) ?? 0) <= now);
    await Promise.all(unknown.map(async (coinId) => {
      const symbol = await this.symbolOf(coinId).catch(() => undefined);
      if (symbol) this.symbolCache.set(coinId, symbol);
      else this.symbolMisses.set(coinId, now + SYMBOL_RETRY_MS);
    }));
    const bySymbol = new Map<string, string | null>();
    for (const coinId of tracked) {
      const symbol = this.symbolCache.get(coinId);
      if (!symbol) continue;
      const pair = `${symbol.toUpperCase()}${QUOTE_ASSET}`;
      // Tether priced in Tether says nothing ("USDTUSDT" does not exist anyway).
      if (symbol.toUpperCase() === QUOTE_ASSET) continue;
      bySymbol.set(pair, bySymbol.has(pair) ? null : coinId);
    }
    return new Map([...bySymbol].filter((entry): entry is [string, string] => entry[1] !== null));
  }

  private plausible(coinId: string, price: string): boolean {
    const last = this.primary.quote(coinId)?.price;
    if (last === undefined) return true;
    const ratio = new Dec(price).div(last);
    const ok = ratio.lte(MAX_RATIO) && ratio.gte(new Dec(1).div(MAX_RATIO));
    if (!ok && !this.implausible.has(coinId)) {
      this.implausible.add(coinId);
      this.logger?.warn({ coinId, fallbackPrice: price, lastPrice: last }, `prices: ${this.fallbackName}'s price is far from CoinGecko's last; not using it (another coin with the same symbol?)`);
    }
    if (ok) this.implausible.delete(coinId);
    return ok;
  }
}
