/**
 * The live PriceFeed: one shared poller fetches every tracked coin in a single CoinGecko request,
 * and quote() only ever reads the cache. So the number of upstream calls depends on the poll
 * interval alone, never on how many users ask for prices.
 */
import { REFERENCE_FIAT_RATES } from '../../core/coins';
import { FIAT_CODES } from '../../core/currencies';
import type { Coin, Quote } from '../../core/domain';
import { Dec } from '../../core/money';
import type { Clock, FiatRates, Logger, PriceFeed, PriceSourceStatus } from '../../core/ports';
import type { CoinGeckoClient, SimplePriceEntry } from './coingecko-client';

/** The ledger's base currency, as CoinGecko spells it. */
const BASE = 'usd';
/** Fiat rates are read off bitcoin's price in every currency, so bitcoin is always fetched. */
const RATE_COIN = 'bitcoin';

export interface CoinGeckoFeedOptions {
  /** Only these methods are used; tests may pass a stub. */
  client: Pick<CoinGeckoClient, 'simplePrice' | 'coinsList'>;
  clock?: Clock;
  logger?: Logger;
  /** Default 30000. */
  pollIntervalMs?: number;
  /** How long the upstream coin list is trusted. Default one hour. */
  coinListTtlMs?: number;
  /** The initially tracked coins; track() replaces them. */
  coinIds?: string[];
}

export interface FeedHealth {
  lastSuccessAt: number | null;
  consecutiveFailures: number;
  /** The error of the last poll, cleared by a successful one. */
  lastError: Error | null;
}

export class CoinGeckoFeed implements PriceFeed {
  readonly simulated = false;

  private readonly client: CoinGeckoFeedOptions['client'];
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly pollIntervalMs: number;
  private readonly coinListTtlMs: number;

  private tracked: string[];
  private readonly quotes = new Map<string, Quote>();
  /** Until the first successful poll, the reference rates, honestly flagged as simulated. */
  private rates: FiatRates = { rates: { ...REFERENCE_FIAT_RATES }, simulated: true };
  private health_: FeedHealth = { lastSuccessAt: null, consecutiveFailures: 0, lastError: null };

  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Bumped by start(), so a poll that outlives stop() + start() does not schedule a second loop. */
  private generation = 0;

  private coinList: { byId: Map<string, Coin>; fetchedAt: number } | undefined;
  private coinListLoading: Promise<Map<string, Coin>> | undefined;

  constructor(options: CoinGeckoFeedOptions) {
    this.client = options.client;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 30_000;
    this.coinListTtlMs = options.coinListTtlMs ?? 60 * 60 * 1000;
    this.tracked = normalize(options.coinIds ?? []);
  }

  quote(coinId: string): Quote | undefined {
    return this.quotes.get(coinId);
  }

  fiatRates(): FiatRates {
    return { rates: { ...this.rates.rates }, simulated: this.rates.simulated };
  }

  /** Replaces the tracked set; the next poll uses it. Quotes already held are kept. */
  track(coinIds: string[]): void {
    this.tracked = normalize(coinIds);
  }

  trackedCoins(): string[] {
    return [...this.tracked];
  }

  health(): FeedHealth {
    return { ...this.health_ };
  }

  source(): PriceSourceStatus {
    return { active: 'CoinGecko' };
  }

  /** Polls now and then every pollIntervalMs. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick(++this.generation);
  }

  /** Stops polling and waits for a poll already under way, so shutdown leaves nothing behind. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /**
   * Fetches every tracked coin (plus bitcoin, for the fiat rates) in one request. A call while a
   * poll runs joins it, so there is never more than one request in flight. Never rejects: a failed
   * poll keeps the old quotes, logs a warning and shows up in health().
   */
  refresh(): Promise<void> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Looks a coin up in CoinGecko's coin list, fetched at most once an hour. */
  async lookupCoin(coinId: string): Promise<Coin | null> {
    const byId = await this.loadCoinList();
    return byId.get(coinId.trim().toLowerCase()) ?? null;
  }

  // -------------------------------------------------------------------------------------------

  private async tick(generation: number): Promise<void> {
    await this.refresh();
    // Schedule from the end of a poll, not on a fixed beat, so a slow upstream cannot pile polls up.
    if (!this.running || generation !== this.generation) return;
    this.timer = setTimeout(() => void this.tick(generation), this.pollIntervalMs);
    // The poller alone should not keep the process alive.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const ids = this.tracked.includes(RATE_COIN) ? this.tracked : [...this.tracked, RATE_COIN];
    try {
      const answer = await this.client.simplePrice(ids, FIAT_CODES, { kind: 'poll' });
      const receivedAt = this.clock.now();
      for (const [coinId, entry] of Object.entries(answer)) {
        const price = entry.prices[BASE];
        if (price === undefined) continue;
        this.quotes.set(coinId, { coinId, price, change24hPercent: entry.change24h, receivedAt, simulated: false, source: 'CoinGecko' });
      }
      const rates = deriveRates(answer[RATE_COIN]);
      if (rates) this.rates = { rates: { ...this.rates.rates, ...rates }, simulated: false };
      this.health_ = { lastSuccessAt: receivedAt, consecutiveFailures: 0, lastError: null };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      const failures = this.health_.consecutiveFailures + 1;
      this.health_ = { ...this.health_, consecutiveFailures: failures, lastError: err };
      const kind = (err as { kind?: string }).kind;
      this.logger?.warn({ err: err.message, kind, consecutiveFailures: failures }, 'price poll failed; keeping the last quotes');
    }
  }

  private loadCoinList(): Promise<Map<string, Coin>> {
    const cached = this.coinList;
    if (cached && this.clock.now() - cached.fetchedAt < this.coinListTtlMs) return Promise.resolve(cached.byId);
    this.coinListLoading ??= this.client
      .coinsList()
      .then((coins) => {
        const byId = new Map(coins.map((coin) => [coin.id, coin]));
        this.coinList = { byId, fetchedAt: this.clock.now() };
        return byId;
      })
      .catch((error: unknown) => {
        // A stale list beats no list for an admin adding a coin; with none, the caller sees why.
        if (cached) {
          this.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'coin list refresh failed; using the stale list');
          return cached.byId;
        }
        throw error;
      })
      .finally(() => {
        this.coinListLoading = undefined;
      });
    return this.coinListLoading;
  }
}

/**
 * Units of each fiat per US dollar, read off bitcoin's prices: rate(c) = btc[c] / btc[usd].
 * Twelve significant digits is far beyond what the inputs carry. Undefined when bitcoin or its USD
 * price is missing, so the caller keeps the previous rates.
 */
function deriveRates(bitcoin: SimplePriceEntry | undefined): Record<string, string> | undefined {
  const usd = bitcoin?.prices[BASE];
  if (!bitcoin || usd === undefined) return undefined;
  const rates: Record<string, string> = { [BASE]: '1' };
  for (const code of FIAT_CODES) {
    const price = bitcoin.prices[code];
    if (code === BASE || price === undefined) continue;
    rates[code] = new Dec(price).div(usd).toSignificantDigits(12, Dec.ROUND_HALF_UP).toFixed();
  }
  return rates;
}

function normalize(coinIds: string[]): string[] {
  return [...new Set(coinIds.map((id) => id.trim().toLowerCase()).filter(Boolean))];
}

/** How long a ping attempt may take at start; two attempts and a backoff stay within about 3 s. */
export const PROBE_TIMEOUT_MS = 1_250;

/** True when CoinGecko answers a ping within about 3 s: the composition root's live-or-simulated
 *  decision. A server that accepts the connection and never answers must not hold start-up. */
export async function probeCoinGecko(client: Pick<CoinGeckoClient, 'ping'>): Promise<boolean> {
  try {
    // One retry rides out a blip without stalling startup for the full retry budget.
    await client.ping({ maxRetries: 1, timeoutMs: PROBE_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  }
}
