/**
 * Market data (issue 12): CoinGecko's market chart, global and trending endpoints behind a cache
 * and one request budget counted in the store, the Fear and Greed index, and the simulated
 * stand-ins for a terminal without network. Real HTTP against loopback stand-ins on port 0, real
 * SQLite, an injected clock; backoff waits are recorded, never slept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MarketDataError, type ChartRange, type Logger, type Store } from '../core/ports';
import { CoinGeckoMarketData, RANGE_DAYS } from '../infra/market/coingecko-market-data';
import { FearGreedSource } from '../infra/market/fear-greed';
import { SimulatedMarketData } from '../infra/market/simulated-market-data';
import { CoinGeckoClient, CoinGeckoError } from '../infra/prices/coingecko-client';
import { CoinGeckoFeed } from '../infra/prices/coingecko-feed';
import { StoreRequestBudget, pollReserve } from '../infra/prices/request-budget';
import { SimulatedFeed } from '../infra/prices/simulated-feed';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { loadConfig } from '../src/config';
import { standinChartLength, standinChartPrice, startCoinGeckoStandin, type CoinGeckoStandin } from './support/coingecko-standin';
import { startFearGreedStandin, type FearGreedStandin } from './support/fear-greed-standin';

/** A minute's start, so a test can move within the minute and into the next. */
const NOW = 1_764_000_000_000;
const MINUTE = 60_000;
const CHART_PATH = /^\/api\/v3\/coins\/[^/]+\/market_chart$/;

let standin: CoinGeckoStandin;
let dir: string;
let stores: SqliteStore[];
let clock: { t: number; now: () => number };

beforeEach(async () => {
  standin = await startCoinGeckoStandin();
  dir = mkdtempSync(join(tmpdir(), 'cp-market-'));
  stores = [];
  clock = { t: NOW, now: () => clock.t };
});

afterEach(async () => {
  await standin.close();
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection to the one SQLite file every "instance" in a test shares. */
function openStore(): SqliteStore {
  const store = SqliteStore.open({ file: join(dir, 'shared.sqlite') });
  stores.push(store);
  return store;
}

function recordingLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, info: () => {}, warn: (_o, msg) => void warnings.push(msg ?? ''), error: (_o, msg) => void errors.push(msg ?? '') };
}

/** One bot instance's CoinGecko side: its client, budget (on `store`) and market data. */
function instance(store: Pick<Store, 'recordAttempt' | 'getAttempts'>, callsPerMinute = 30, logger?: Logger) {
  const budget = new StoreRequestBudget({ store, clock, callsPerMinute, pollSeconds: 30, logger });
  const client = new CoinGeckoClient({ baseUrl: standin.url, clock, budget, maxRetries: 0, sleep: async () => {}, random: () => 0 });
  const market = new CoinGeckoMarketData({ client, clock, logger });
  return { budget, client, market };
}

function chartRequests(): string[] {
  return standin.requests.filter((r) => CHART_PATH.test(r.path)).map((r) => `${r.path.split('/')[4]}:${r.query.days}`);
}

async function rejection(promise: Promise<unknown>): Promise<MarketDataError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MarketDataError);
  return error as MarketDataError;
}

const COINS = [
  { id: 'bitcoin', usd: '87000' },
  { id: 'ethereum', usd: '2900' },
  { id: 'solana', usd: '135' },
  { id: 'dogecoin', usd: '0.15' },
  { id: 'shiba-inu', usd: '0.0000085' },
];
const RANGES: ChartRange[] = ['1d', '7d'];

describe('the request budget holds when 100 users ask for charts at once', () => {
  /** The i-th user's request: 5 coins x 2 ranges, spread over the callers. */
  const ask = (i: number) => ({ coin: COINS[i % 5]!, range: RANGES[Math.floor(i / 5) % 2]! });

  it('one instance: 100 concurrent chart requests make one upstream call per coin and range, and everyone gets their coin', async () => {
    const { market } = instance(openStore());
    const charts = await Promise.all(Array.from({ length: 100 }, (_, i) => market.chart(ask(i).coin.id, ask(i).range)));

    expect(chartRequests().sort()).toEqual(COINS.flatMap((c) => ['1', '7'].map((d) => `${c.id}:${d}`)).sort());
    charts.forEach((chart, i) => {
      const { coin, range } = ask(i);
      expect(chart.coinId).toBe(coin.id);
      expect(chart.points).toHaveLength(standinChartLength(RANGE_DAYS[range]));
      expect(chart.points.at(-1)!.price).toBe(coin.usd);
    });
  });

  it('two instances on one store: at most one call per coin and range each, all counted in the shared budget', async () => {
    const store = openStore();
    const first = instance(store);
    const second = instance(openStore());
    const charts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? second : first).market.chart(ask(i).coin.id, ask(i).range)),
    );

    const calls = chartRequests();
    // Each instance caches on its own (the store has no shared cache), so 10 keys x 2 instances.
    expect(calls.length).toBeLessThanOrEqual(20);
    for (const key of new Set(calls)) expect(calls.filter((c) => c === key).length).toBeLessThanOrEqual(2);
    // Both instances counted into the same store window: the budget saw every call.
    const counted = await store.getAttempts(`upstream:coingecko:${Math.floor(NOW / MINUTE)}:demand`, clock.now());
    expect(counted?.count).toBe(calls.length);
    charts.forEach((chart, i) => {
      expect(chart.coinId).toBe(ask(i).coin.id);
      expect(chart.points.at(-1)!.price).toBe(ask(i).coin.usd);
    });
  });
});

describe('on-demand calls stop at N minus the polling reserve', () => {
  it('refuses the next chart as busy, still lets the price poll through, and has room again next minute', async () => {
    // N = 10 with a poll every 30 s: 2 polls a minute, reserve 4 (each poll and a retry), 6 on demand.
    expect(pollReserve(10, 30)).toBe(4);
    const first = instance(openStore(), 10);
    const second = instance(openStore(), 10);
    const asks = COINS.flatMap((c) => RANGES.map((r) => [c.id, r] as const));
    for (const [coin, range] of asks.slice(0, 3)) await first.market.chart(coin, range);
    for (const [coin, range] of asks.slice(3, 6)) await second.market.chart(coin, range);
    expect(chartRequests()).toHaveLength(6);

    const [coin, range] = asks[6]!;
    const busy = await rejection(first.market.chart(coin, range));
    expect(busy.kind).toBe('busy');
    expect(busy.message).toMatch(/try again in a minute/);
    expect((await rejection(second.market.global())).kind).toBe('busy');
    // Refused calls never reached CoinGecko.
    expect(chartRequests()).toHaveLength(6);
    expect(standin.requests.filter((r) => r.path.endsWith('/global'))).toHaveLength(0);

    // The price poll in the same minute goes through the same client and budget.
    const feed = new CoinGeckoFeed({ client: first.client, clock, coinIds: ['bitcoin'] });
    await feed.refresh();
    expect(feed.health().lastError).toBeNull();
    expect(feed.quote('bitcoin')?.price).toBe('87000');

    clock.t += MINUTE;
    const chart = await first.market.chart(coin, range);
    expect(chart.coinId).toBe(coin);
    expect(chartRequests()).toHaveLength(7);
  });

  it('polls may use the whole budget, but not more, when nobody asks for charts', async () => {
    const { budget } = instance(openStore(), 10);
    const taken = await Promise.all(Array.from({ length: 15 }, () => budget.take('poll')));
    expect(taken.filter(Boolean)).toHaveLength(10);
  });

  it('racing polls and on-demand calls from two instances never pass N together', async () => {
    const a = instance(openStore(), 10).budget;
    const b = instance(openStore(), 10).budget;
    const taken = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take(i % 3 ? 'demand' : 'poll')));
    expect(taken.filter(Boolean).length).toBeLessThanOrEqual(10);
  });

  it('a store error lets polls through and refuses on-demand calls, and says so', async () => {
    const logger = recordingLogger();
    const broken = { recordAttempt: async () => Promise.reject(new Error('disk I/O error')), getAttempts: async () => null };
    const budget = new StoreRequestBudget({ store: broken, clock, callsPerMinute: 10, pollSeconds: 30, logger });
    expect(await budget.take('poll')).toBe(true);
    expect(await budget.take('demand')).toBe(false);
    expect(logger.errors).toEqual(['request budget unavailable; polling anyway', 'request budget unavailable; refusing an on-demand call']);
  });
});

describe('the client and the budget', () => {
  it('takes from the budget before every attempt, retries included, with the caller\'s kind', async () => {
    const takes: string[] = [];
    const budget = { take: async (kind: 'poll' | 'demand') => (takes.push(kind), true) };
    const client = new CoinGeckoClient({ baseUrl: standin.url, clock, budget, sleep: async () => {}, random: () => 0 });
    standin.script({ status: 503 }, { status: 503 });
    await client.simplePrice(['bitcoin'], ['usd'], { kind: 'poll' });
    await client.trending();
    expect(takes).toEqual(['poll', 'poll', 'poll', 'demand']);
  });

  it('a refused take is over_budget, sends nothing and is not retried', async () => {
    let takes = 0;
    const client = new CoinGeckoClient({ baseUrl: standin.url, clock, budget: { take: async () => (takes++, false) }, sleep: async () => {} });
    const error = await client.marketChart('bitcoin', 1).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CoinGeckoError);
    expect((error as CoinGeckoError).kind).toBe('over_budget');
    expect(takes).toBe(1);
    expect(standin.requests).toEqual([]);
  });
});

describe('cache', () => {
  it('serves a chart within its TTL without asking, and asks again after it', async () => {
    const { market } = instance(openStore());
    await market.chart('bitcoin', '1d');
    clock.t += 5 * MINUTE - 1;
    await market.chart('bitcoin', '1d');
    expect(chartRequests()).toEqual(['bitcoin:1']);

    standin.setPrice('bitcoin', '88000.5');
    clock.t += 1;
    const fresh = await market.chart('bitcoin', '1d');
    expect(chartRequests()).toEqual(['bitcoin:1', 'bitcoin:1']);
    expect(fresh.points.at(-1)!.price).toBe('88000.5');

    // Longer ranges keep longer: a year's chart is still good after 59 minutes.
    await market.chart('bitcoin', '1y');
    clock.t += 59 * MINUTE;
    await market.chart('bitcoin', '1y');
    expect(chartRequests()).toEqual(['bitcoin:1', 'bitcoin:1', 'bitcoin:365']);
  });

  it('keeps global and trending ten minutes', async () => {
    const { market } = instance(openStore());
    await market.global();
    await market.trending();
    clock.t += 10 * MINUTE - 1;
    await market.global();
    await market.trending();
    clock.t += 1;
    await market.global();
    expect(standin.requests.map((r) => r.path)).toEqual(['/api/v3/global', '/api/v3/search/trending', '/api/v3/global']);
  });

  it('serves the stale copy when a refresh fails, and errors only with nothing cached', async () => {
    const logger = recordingLogger();
    const { market } = instance(openStore(), 30, logger);
    await market.chart('ethereum', '7d');
    standin.setPrice('ethereum', '3100');
    clock.t += 15 * MINUTE;
    standin.script({ path: '/api/v3/coins/ethereum/market_chart', status: 500 });
    const stale = await market.chart('ethereum', '7d');
    expect(stale.points.at(-1)!.price).toBe('2900');
    expect(logger.warnings).toEqual(['market data refresh failed; serving the cached copy']);

    standin.script({ path: '/api/v3/coins/solana/market_chart', status: 500 });
    const failed = await rejection(market.chart('solana', '7d'));
    expect(failed.kind).toBe('unavailable');

    // After a short rest the next request refreshes.
    clock.t += MINUTE;
    expect((await market.chart('ethereum', '7d')).points.at(-1)!.price).toBe('3100');
  });
});

describe('parsing', () => {
  it('reads market_chart prices as exact decimals, oldest first', async () => {
    const { market } = instance(openStore());
    const chart = await market.chart('shiba-inu', '7d');
    expect(chart).toMatchObject({ coinId: 'shiba-inu', range: '7d', simulated: false });
    expect(chart.points).toHaveLength(7 * 24 + 1);
    // The stand-in sends 8.5e-06 and the like; nothing goes through a float.
    expect(chart.points.at(-1)).toEqual({ at: 1_764_000_000_000, price: '0.0000085' });
    expect(chart.points[0]).toEqual({ at: 1_764_000_000_000 - 168 * 3_600_000, price: standinChartPrice('0.0000085', 168) });
    // 0.0000085 x (1 - 168 x 0.0001), by hand.
    expect(chart.points[0]!.price).toBe('0.0000083572');
    expect(standin.requests.at(-1)!.query).toEqual({ vs_currency: 'usd', days: '7' });
  });

  it('reads /global exactly, shares largest first', async () => {
    const { market } = instance(openStore());
    expect(await market.global()).toEqual({
      totalMarketCap: '3046784124867.123',
      totalVolume24h: '98765432101.99',
      marketCapChange24hPercent: '-1.2345678',
      marketCapShare: { btc: '56.94412', eth: '11.30125', usdt: '0.59' },
      simulated: false,
    });
    expect(Object.keys((await market.global()).marketCapShare)).toEqual(['btc', 'eth', 'usdt']);
  });

  it('reads /search/trending, symbols lower-cased, a missing rank as null', async () => {
    const { market } = instance(openStore());
    expect(await market.trending()).toEqual([
      { id: 'bitcoin', symbol: 'btc', name: 'Bitcoin', marketCapRank: 1 },
      { id: 'ethereum', symbol: 'eth', name: 'Ethereum', marketCapRank: 2 },
      { id: 'tether', symbol: 'usdt', name: 'Tether', marketCapRank: null },
    ]);
  });

  it('a malformed answer is unavailable; an unknown coin is not_found', async () => {
    const { market } = instance(openStore());
    standin.script({ path: '/api/v3/coins/bitcoin/market_chart', body: '{"prices":[["yesterday",87000]]}' });
    expect((await rejection(market.chart('bitcoin', '30d'))).kind).toBe('unavailable');
    standin.script({ path: '/api/v3/global', body: '{"data":{"total_market_cap":{"eur":1}}}' });
    expect((await rejection(market.global())).kind).toBe('unavailable');
    standin.script({ path: '/api/v3/search/trending', body: '<html>oops</html>' });
    expect((await rejection(market.trending())).kind).toBe('unavailable');
    const missing = await rejection(market.chart('not-a-coin', '1d'));
    expect(missing.kind).toBe('not_found');
    expect(missing.message).toBe('CoinGecko has no market data for that coin.');
  });
});

describe('fear and greed', () => {
  let fng: FearGreedStandin;
  beforeEach(async () => {
    fng = await startFearGreedStandin();
  });
  afterEach(() => fng.close());

  it('reads the index and keeps it ten minutes', async () => {
    const source = new FearGreedSource({ url: fng.url, clock });
    fng.set('23', 'Extreme Fear', '1763942400');
    expect(await source.fearGreed()).toEqual({ value: 23, classification: 'Extreme Fear', at: 1_763_942_400_000 });
    clock.t += 10 * MINUTE - 1;
    fng.set('60', 'Greed', '1764028800');
    expect((await source.fearGreed())?.value).toBe(23);
    expect(fng.requests).toBe(1);
    clock.t += 1;
    expect(await source.fearGreed()).toEqual({ value: 60, classification: 'Greed', at: 1_764_028_800_000 });
    expect(fng.requests).toBe(2);
  });

  it('is null when the source fails or answers nonsense, and logs why', async () => {
    const logger = recordingLogger();
    const source = new FearGreedSource({ url: fng.url, clock, logger });
    fng.fail(1, { status: 503 });
    expect(await source.fearGreed()).toBeNull();
    fng.fail(1, { body: '{"data":[{"value":"lots","value_classification":"Neutral","timestamp":"1"}]}' });
    expect(await source.fearGreed()).toBeNull();
    fng.fail(1, { body: 'not json' });
    expect(await source.fearGreed()).toBeNull();
    expect(logger.warnings).toEqual(Array(3).fill('fear and greed index unavailable'));
    expect(await new FearGreedSource({ url: 'http://127.0.0.1:1/fng/', clock }).fearGreed()).toBeNull();
  });
});

describe('simulated market data', () => {
  function simulated(seed: number) {
    const feed = new SimulatedFeed({ seed: 7, clock });
    for (let i = 0; i < 5; i++) feed.step();
    return { feed, market: new SimulatedMarketData({ feed, clock, seed }) };
  }

  it('is the same for the same seed, ends at the current quote, and says it is simulated', async () => {
    const a = simulated(42);
    const b = simulated(42);
    const chart = await a.market.chart('bitcoin', '30d');
    expect(await b.market.chart('bitcoin', '30d')).toEqual(chart);
    expect(chart.simulated).toBe(true);
    expect(chart.points).toHaveLength(30 * 24 + 1);
    expect(chart.points.at(-1)).toEqual({ at: NOW, price: a.feed.quote('bitcoin')!.price });
    expect(chart.points[0]!.at).toBe(NOW - 30 * 24 * 3_600_000);
    // Not a flat line, and not the same walk for another seed.
    expect(new Set(chart.points.map((p) => p.price)).size).toBeGreaterThan(100);
    expect((await simulated(43).market.chart('bitcoin', '30d')).points[0]).not.toEqual(chart.points[0]);
    expect((await rejection(a.market.chart('not-a-coin', '1d'))).kind).toBe('not_found');
  });

  it('builds the whole market and trending coins from the simulated quotes', async () => {
    const { feed, market } = simulated(42);
    const global = await market.global();
    expect(global.simulated).toBe(true);
    expect(Object.keys(global.marketCapShare).slice(0, 2)).toEqual(['btc', 'eth']);
    const shares = Object.values(global.marketCapShare).reduce((sum, s) => sum + Number(s), 0);
    expect(shares).toBeCloseTo(100, 0);

    const trending = await market.trending();
    expect(trending).toHaveLength(7);
    const moves = trending.map((c) => Math.abs(Number(feed.quote(c.id)!.change24hPercent)));
    expect(moves).toEqual([...moves].sort((x, y) => y - x));
  });
});

describe('configuration', () => {
  it('defaults to the Demo plan\'s 30 calls a minute and alternative.me, and takes off', () => {
    const config = loadConfig({});
    expect(config.COINGECKO_CALLS_PER_MINUTE).toBe(30);
    expect(config.FEAR_GREED_URL).toBe('https://api.alternative.me/fng/');
    expect(loadConfig({ FEAR_GREED_URL: 'off' }).FEAR_GREED_URL).toBe('off');
  });

  it('refuses a budget polling alone would use up, and nonsense', () => {
    expect(() => loadConfig({ PRICE_POLL_SECONDS: '5', COINGECKO_CALLS_PER_MINUTE: '12' })).toThrow(
      'COINGECKO_CALLS_PER_MINUTE: must exceed the 12 price polls a minute PRICE_POLL_SECONDS makes',
    );
    expect(loadConfig({ PRICE_POLL_SECONDS: '5', COINGECKO_CALLS_PER_MINUTE: '13' }).COINGECKO_CALLS_PER_MINUTE).toBe(13);
    expect(() => loadConfig({ COINGECKO_CALLS_PER_MINUTE: '0' })).toThrow(/COINGECKO_CALLS_PER_MINUTE/);
    expect(() => loadConfig({ COINGECKO_CALLS_PER_MINUTE: '1001' })).toThrow(/COINGECKO_CALLS_PER_MINUTE/);
    expect(() => loadConfig({ FEAR_GREED_URL: 'ftp://example.com/fng' })).toThrow('FEAR_GREED_URL: must be an http or https URL, or off');
  });
});
