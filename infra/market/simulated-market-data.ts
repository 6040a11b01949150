/**
 * MarketData for the simulated feed (PRICE_FEED=simulated, or CoinGecko unreachable at start):
 * made-up but plausible history, so /chart, /analysis and /market work in a terminal with no
 * network. Everything is flagged simulated, and every answer says so.
 *
 * A chart is a seeded random walk run backwards from the coin's current simulated quote: the same
 * seed, coin, range and quote always give the same chart, and its last point is the price /price
 * shows. All arithmetic is Dec on integer draws, as in SimulatedFeed, so it replays everywhere.
 */
import { DEFAULT_COINS } from '../../core/coins';
import { Dec } from '../../core/money';
import { MarketDataError, type ChartRange, type Clock, type GlobalMarket, type MarketChart, type MarketData, type PriceFeed, type PricePoint, type TrendingCoin } from '../../core/ports';
import { mulberry32 } from '../prices/simulated-feed';

export interface SimulatedMarketDataOptions {
  feed: Pick<PriceFeed, 'quote'>;
  clock: Clock;
  /** Default 42 (SIMULATED_SEED). */
  seed?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Points, spacing and the largest move per step, in nano-units (1e-9) of the price: roughly
 *  CoinGecko's own granularity (5-minutely for a day, hourly to 90 days, daily beyond). */
const SHAPES: Record<ChartRange, { points: number; stepMs: number; maxMoveNanos: number }> = {
  '1d': { points: 289, stepMs: 5 * MINUTE, maxMoveNanos: 2_000_000 },
  '7d': { points: 169, stepMs: HOUR, maxMoveNanos: 5_000_000 },
  '30d': { points: 721, stepMs: HOUR, maxMoveNanos: 5_000_000 },
  '90d': { points: 2161, stepMs: HOUR, maxMoveNanos: 5_000_000 },
  '1y': { points: 366, stepMs: DAY, maxMoveNanos: 25_000_000 },
};

const NANO = new Dec('1e-9');
const NANOS_PER_ONE = 1_000_000_000;

/**
 * Circulating supplies (late 2025, rounded) of the default coins: the simulated market cap is
 * the simulated price times these, so shares and ranks look like the real market's.
 */
const SUPPLY: Record<string, string> = {
  bitcoin: '19950000', ethereum: '120700000', tether: '184000000000', binancecoin: '139000000',
  solana: '555000000', ripple: '60300000000', 'usd-coin': '75000000000', cardano: '36500000000',
  dogecoin: '151000000000', tron: '94700000000', 'avalanche-2': '427000000', 'shiba-inu': '589000000000000',
  polkadot: '1640000000', chainlink: '697000000', 'bitcoin-cash': '19960000', litecoin: '76600000',
  near: '1280000000', uniswap: '630000000', stellar: '32200000000', monero: '18450000',
};
/** A day's simulated trading volume, as a share of market cap (real markets trade a few percent). */
const VOLUME_SHARE = new Dec('0.04');
/** As many as CoinGecko's trending list shows on its front page. */
const TRENDING_COUNT = 7;

/** FNV-1a: a stable 32-bit hash, so each coin and range gets its own walk from one seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class SimulatedMarketData implements MarketData {
  readonly simulated = true;
  private readonly feed: SimulatedMarketDataOptions['feed'];
  private readonly clock: Clock;
  private readonly seed: number;

  constructor(options: SimulatedMarketDataOptions) {
    this.feed = options.feed;
    this.clock = options.clock;
    this.seed = options.seed ?? 42;
  }

  async chart(coinId: string, range: ChartRange): Promise<MarketChart> {
    const id = coinId.trim().toLowerCase();
    const quote = this.feed.quote(id);
    if (!quote) throw new MarketDataError('not_found', `No simulated price for ${id}, so no simulated chart.`);
    const shape = SHAPES[range];
    const next = mulberry32((this.seed ^ hash(`${id}:${range}`)) >>> 0);
    const end = quote.receivedAt || this.clock.now();
    const points: PricePoint[] = new Array(shape.points);
    let price = new Dec(quote.price);
    points[shape.points - 1] = { at: end, price: quote.price };
    for (let i = shape.points - 2; i >= 0; i--) {
      // One step back: price x (1 + u), u uniform in [-maxMove, +maxMove] (integer nano-units).
      const u = (next() % (2 * shape.maxMoveNanos + 1)) - shape.maxMoveNanos;
      const moved = price.times(new Dec(NANOS_PER_ONE + u).times(NANO)).toSignificantDigits(8, Dec.ROUND_HALF_UP);
      if (moved.gt(0)) price = moved;
      points[i] = { at: end - (shape.points - 1 - i) * shape.stepMs, price: price.toFixed() };
    }
    return { coinId: id, range, points, simulated: true };
  }

  async global(): Promise<GlobalMarket> {
    const caps = this.caps();
    const total = caps.reduce((sum, c) => sum.plus(c.cap), new Dec(0));
    if (total.isZero()) throw new MarketDataError('unavailable', 'No simulated prices yet.');
    // The market's 24 h change is the cap-weighted average of the coins' changes.
    const change = caps.reduce((sum, c) => sum.plus(c.cap.times(c.change ?? 0)), new Dec(0)).div(total);
    return {
      totalMarketCap: total.toDecimalPlaces(0).toFixed(),
      totalVolume24h: total.times(VOLUME_SHARE).toDecimalPlaces(0).toFixed(),
      marketCapChange24hPercent: change.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(),
      marketCapShare: Object.fromEntries(caps.map((c) => [c.symbol, c.cap.div(total).times(100).toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed()])),
      simulated: true,
    };
  }

  /** The tracked coins that moved most in 24 hours, either way: what people would be searching. */
  async trending(): Promise<TrendingCoin[]> {
    const caps = this.caps();
    return caps
      .map((c, rank) => ({ ...c, rank: rank + 1 }))
      .sort((a, b) => new Dec(b.change ?? 0).abs().comparedTo(new Dec(a.change ?? 0).abs()) || a.rank - b.rank)
      .slice(0, TRENDING_COUNT)
      .map((c) => ({ id: c.id, symbol: c.symbol, name: c.name, marketCapRank: c.rank }));
  }

  /** The default coins with a simulated price and a known supply, largest market cap first. */
  private caps() {
    const rows = [];
    for (const coin of DEFAULT_COINS) {
      const quote = this.feed.quote(coin.id);
      const supply = SUPPLY[coin.id];
      if (!quote || !supply) continue;
      rows.push({ id: coin.id, symbol: coin.symbol, name: coin.name, cap: new Dec(quote.price).times(supply), change: quote.change24hPercent });
    }
    return rows.sort((a, b) => b.cap.comparedTo(a.cap));
  }
}
