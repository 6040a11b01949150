/**
 * MarketData from CoinGecko, cached per coin and range, within the shared request budget.
 *
 * A hundred users asking for the same chart make one upstream call: answers are kept for a time
 * that suits how fast the data moves (a day's chart in 5-minute steps goes stale quickly, a year's
 * daily closes do not), and callers arriving while a fetch runs share it (single flight). The
 * client takes every call from the request budget as 'demand', so polling keeps its share.
 */
import type { ChartRange, Clock, GlobalMarket, Logger, MarketChart, MarketData, TrendingCoin } from '../../core/ports';
import { MarketDataError } from '../../core/ports';
import { Dec } from '../../core/money';
import { CoinGeckoError, type CoinGeckoClient } from '../prices/coingecko-client';

/** CoinGecko's `days` per range. */
export const RANGE_DAYS: Record<ChartRange, number> = { '1d': 1, '7d': 7, '30d': 30, '90d': 90, '1y': 365 };

const MINUTE = 60_000;
/** How long an answer is served from the cache. CoinGecko itself refreshes a day's chart every
 *  few minutes and longer ranges far less often; global and trending change slowly. */
export const CHART_TTL_MS: Record<ChartRange, number> = { '1d': 5 * MINUTE, '7d': 15 * MINUTE, '30d': 60 * MINUTE, '90d': 60 * MINUTE, '1y': 60 * MINUTE };
export const GLOBAL_TTL_MS = 10 * MINUTE;
export const TRENDING_TTL_MS = 10 * MINUTE;
/** After a failed refresh the stale copy is served this long before asking again, so an outage
 *  does not turn every request into an upstream call. */
const RETRY_AFTER_FAILURE_MS = MINUTE;

export interface CoinGeckoMarketDataOptions {
  client: Pick<CoinGeckoClient, 'marketChart' | 'global' | 'trending'>;
  clock: Clock;
  logger?: Logger;
}

interface Entry<T> {
  value?: T;
  fetchedAt?: number;
  /** A refresh failed then: the cached copy is served for RETRY_AFTER_FAILURE_MS more. */
  failedAt?: number;
  inFlight?: Promise<T>;
}

export class CoinGeckoMarketData implements MarketData {
  readonly simulated = false;
  private readonly client: CoinGeckoMarketDataOptions['client'];
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly entries = new Map<string, Entry<unknown>>();

  constructor(options: CoinGeckoMarketDataOptions) {
    this.client = options.client;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  chart(coinId: string, range: ChartRange): Promise<MarketChart> {
    const id = coinId.trim().toLowerCase();
    return this.cached(`chart:${id}:${range}`, CHART_TTL_MS[range], async () => ({
      coinId: id,
      range,
      points: await this.client.marketChart(id, RANGE_DAYS[range], 'usd'),
      simulated: false,
    }));
  }

  global(): Promise<GlobalMarket> {
    return this.cached('global', GLOBAL_TTL_MS, async () => {
      const data = await this.client.global();
      const shares = Object.entries(data.marketCapPercentage).sort(([, a], [, b]) => new Dec(b).comparedTo(a));
      return {
        totalMarketCap: data.totalMarketCap,
        totalVolume24h: data.totalVolume,
        marketCapChange24hPercent: data.marketCapChange24hPercent,
        marketCapShare: Object.fromEntries(shares),
        simulated: false,
      };
    });
  }

  trending(): Promise<TrendingCoin[]> {
    return this.cached('trending', TRENDING_TTL_MS, () => this.client.trending());
  }

  private cached<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const entry = (this.entries.get(key) ?? {}) as Entry<T>;
    this.entries.set(key, entry);
    const now = this.clock.now();
    const fresh = entry.fetchedAt !== undefined && now - entry.fetchedAt < ttlMs;
    const resting = entry.failedAt !== undefined && entry.fetchedAt !== undefined && now - entry.failedAt < RETRY_AFTER_FAILURE_MS;
    if (fresh || resting) return Promise.resolve(entry.value as T);
    entry.inFlight ??= load()
      .then((value) => {
        entry.value = value;
        entry.fetchedAt = this.clock.now();
        entry.failedAt = undefined;
        return value;
      })
      .catch((error: unknown) => {
        const mapped = toMarketDataError(error);
        // A chart an hour old is still the chart the user asked for, and far better than "try
        // later" when CoinGecko is down or the budget is spent; a fresh answer replaces it as soon
        // as a refresh succeeds. Only with nothing cached does the caller see the error.
        if (entry.fetchedAt !== undefined) {
          entry.failedAt = this.clock.now();
          this.logger?.warn({ key, kind: mapped.kind, err: mapped.message }, 'market data refresh failed; serving the cached copy');
          return entry.value as T;
        }
        throw mapped;
      })
      .finally(() => {
        entry.inFlight = undefined;
      });
    return entry.inFlight;
  }
}

function toMarketDataError(error: unknown): MarketDataError {
  if (error instanceof MarketDataError) return error;
  if (error instanceof CoinGeckoError) {
    if (error.kind === 'over_budget') return new MarketDataError('busy', 'Too many market data requests this minute; try again in a minute.');
    if (error.kind === 'not_found') return new MarketDataError('not_found', 'CoinGecko has no market data for that coin.');
    return new MarketDataError('unavailable', `CoinGecko market data is unavailable (${error.kind}).`);
  }
  return new MarketDataError('unavailable', `Market data is unavailable (${error instanceof Error ? error.message : String(error)}).`);
}
