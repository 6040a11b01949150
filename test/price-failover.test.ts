/**
 * Price failover: CoinGecko (the loopback stand-in) failing for two polls hands prices to Binance
 * (its loopback stand-in), users are told which source a price came from, and CoinGecko takes
 * back over on its first good answer. Real clients over real HTTP; the clock is a ManualClock and
 * nothing sleeps (no retries, and the clients' sleep is a no-op).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCore, DEFAULT_CORE_CONFIG, type Core } from '../core/app';
import { DEFAULT_COINS } from '../core/coins';
import { renderPlainText } from '../core/messages';
import { CoinGeckoClient } from '../infra/prices/coingecko-client';
import { CoinGeckoFeed } from '../infra/prices/coingecko-feed';
import { ExchangeClient, ExchangeError } from '../infra/prices/exchange-client';
import { FailoverFeed } from '../infra/prices/failover-feed';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { BcryptPasswords } from '../infra/support/system';
import { startCoinGeckoStandin, type CoinGeckoStandin } from './support/coingecko-standin';
import { startExchangeStandin, type ExchangeStandin } from './support/exchange-standin';
import { ManualClock, RecordingNotifier, countingIds } from './support/harness';
import pino from 'pino';
import { ConfigError, loadConfig } from '../src/config';
import { startPriceFeed } from '../src/compose';

const SIMPLE_PRICE = '/api/v3/simple/price';
const POLL_MS = 30_000;

/** Binance lists every default coin against USDT at its own prices, except Monero (delisted there)
 *  and Tether itself. Prices differ from CoinGecko's so a test can tell who answered. */
function binancePrices(): Record<string, string> {
  const prices: Record<string, string> = {};
  for (const coin of DEFAULT_COINS) {
    if (coin.symbol === 'xmr' || coin.symbol === 'usdt') continue;
    prices[`${coin.symbol.toUpperCase()}USDT`] = coin.referencePriceUsd;
  }
  prices.BTCUSDT = '86950.12000000';
  prices.ETHUSDT = '2899.50000000';
  prices.SHIBUSDT = '0.00000849';
  return prices;
}

/** What users read: a guest asks in a private console chat. */
function asker(core: Core) {
  let n = 0;
  return async (text: string, user = 'guest1') => {
    const { message } = await core.dispatcher.dispatch({
      identity: { platform: 'console', userId: user },
      chat: { type: 'private', id: `console:${user}` },
      text,
      messageId: `m${++n}`,
    });
    return renderPlainText(message);
  };
}

describe('price failover to Binance', () => {
  let coingecko: CoinGeckoStandin;
  let binance: ExchangeStandin;
  let clock: ManualClock;
  let feed: FailoverFeed;
  let store: SqliteStore;
  let say: (text: string, user?: string) => Promise<string>;
  let warnings: string[];
  let infos: string[];

  beforeEach(async () => {
    coingecko = await startCoinGeckoStandin();
    binance = await startExchangeStandin(binancePrices());
    clock = new ManualClock();
    warnings = [];
    infos = [];
    const logger = { info: (_o: object, msg?: string) => void infos.push(msg ?? ''), warn: (_o: object, msg?: string) => void warnings.push(msg ?? ''), error() {} };
    const noSleep = async () => {};
    const primary = new CoinGeckoFeed({
      // No retries: one scripted failure is one failed poll.
      client: new CoinGeckoClient({ baseUrl: coingecko.url, maxRetries: 0, sleep: noSleep, clock }),
      clock,
      coinIds: DEFAULT_COINS.map((c) => c.id),
    });
    const exchange = new ExchangeClient({ baseUrl: binance.url, maxRetries: 0, sleep: noSleep, clock });
    const symbols = new Map(DEFAULT_COINS.map((c) => [c.id, c.symbol]));
    feed = new FailoverFeed({ primary, fallback: exchange, symbolOf: async (id) => symbols.get(id), clock, logger });
    store = SqliteStore.open({ file: ':memory:' });
    const core = createCore({
      store, prices: feed, notifier: new RecordingNotifier(), passwords: new BcryptPasswords(4), clock, ids: countingIds(), logger,
      config: { ...DEFAULT_CORE_CONFIG, priceRefreshMs: POLL_MS },
    });
    say = asker(core);
    await feed.refresh(); // a healthy first poll: CoinGecko's prices
  });

  afterEach(async () => {
    await feed.stop();
    await Promise.all([coingecko.close(), binance.close(), store.close()]);
  });

  /** One scheduled poll, POLL_MS after the last. */
  async function poll(): Promise<void> {
    clock.advance(POLL_MS);
    await feed.refresh();
  }

  it.each([451, 429])('keeps CoinGecko after one failed poll (HTTP %i) and switches to Binance after two', async (status) => {
    coingecko.script({ path: SIMPLE_PRICE, status });
    await poll();
    expect(feed.quote('bitcoin')).toMatchObject({ price: '87000', source: 'CoinGecko' });
    expect(binance.requests).toEqual([]);
    expect(await say('/price btc')).not.toContain('Binance');
    expect(await say('/about')).toContain('Prices come from CoinGecko and refresh every 30 s.');

    coingecko.script({ path: SIMPLE_PRICE, status });
    await poll();
    expect(feed.quote('bitcoin')).toMatchObject({ price: '86950.12', source: 'Binance', receivedAt: clock.now() });
    expect(feed.quote('shiba-inu')?.price).toBe('0.00000849');

    const price = await say('/price btc eth');
    expect(price).toContain('$86,950.12 (Binance)');
    expect(price).toContain('(Binance)');
    // The first failed poll was 30 s after the start at 12:00.
    expect(price).toContain('CoinGecko has been unavailable since 2026-11-25 12:00 UTC: prices marked (Binance) come from Binance, in USDT');
    expect(await say('/about')).toContain('Prices come from Binance right now (in USDT, about one US dollar), refreshed every 30 s: CoinGecko has been unavailable since 2026-11-25 12:00 UTC and takes back over as soon as it answers.');
    expect(warnings.filter((w) => w.includes('Binance takes over'))).toHaveLength(1);
  });

  it('hands back to CoinGecko as soon as it answers, and stops asking Binance', async () => {
    coingecko.script({ path: SIMPLE_PRICE, status: 451 }, { path: SIMPLE_PRICE, status: 451 }, { path: SIMPLE_PRICE, status: 451 });
    await poll();
    await poll();
    await poll(); // a third failed poll: still Binance, switch logged once
    expect(feed.quote('bitcoin')?.source).toBe('Binance');
    expect(warnings.filter((w) => w.includes('Binance takes over'))).toHaveLength(1);
    const asked = binance.requests.length;

    coingecko.setPrice('bitcoin', '87100');
    await poll();
    expect(feed.quote('bitcoin')).toMatchObject({ price: '87100', source: 'CoinGecko', receivedAt: clock.now() });
    expect(await say('/price btc')).not.toContain('Binance');
    expect(await say('/about')).toContain('Prices come from CoinGecko and refresh every 30 s.');
    expect(infos.filter((i) => i.includes('CoinGecko answers again'))).toHaveLength(1);

    await poll();
    expect(binance.requests).toHaveLength(asked);
  });

  it('leaves a coin Binance does not list on its last CoinGecko price, which goes stale', async () => {
    await say('/signup ann ann@example.com', 'ann');
    const lastCoinGecko = feed.quote('monero')!;
    coingecko.script({ path: SIMPLE_PRICE, status: 500 }, { path: SIMPLE_PRICE, status: 500 }, { path: SIMPLE_PRICE, status: 500 });
    await poll();
    await poll();
    expect(feed.quote('monero')).toEqual(lastCoinGecko);
    expect(feed.quote('bitcoin')?.source).toBe('Binance');
    // The batch with XMRUSDT in it was refused whole; each symbol was then asked once, and
    // XMRUSDT is left out of the next batch.
    expect(binance.requests.filter((r) => r.symbols.includes('XMRUSDT'))).toHaveLength(2);
    await poll();
    expect(binance.requests.at(-1)?.symbols).not.toContain('XMRUSDT');
    expect(binance.requests.at(-1)?.symbols).toContain('BTCUSDT');

    const price = await say('/price xmr', 'ann');
    // CoinGecko's last price, unmarked, 90 s old by now.
    expect(price).toMatch(/XMR Monero +\$400\.00 +0\.00% +90 s ago\n/);
    expect(await say('/buy xmr $10', 'ann')).toContain('The latest Monero price is from 90 s ago, too old to trade on');
    expect(await say('/buy btc $10', 'ann')).toContain('86,950.12');
  });

  it('does not serve a Binance price far from CoinGecko\'s last one (another coin under the same symbol)', async () => {
    binance.setPrice('BTCUSDT', '40000.00000000');
    coingecko.script({ path: SIMPLE_PRICE, status: 451 }, { path: SIMPLE_PRICE, status: 451 });
    await poll();
    await poll();
    expect(feed.quote('bitcoin')).toMatchObject({ price: '87000', source: 'CoinGecko' });
    expect(feed.quote('ethereum')).toMatchObject({ price: '2899.5', source: 'Binance' });
    expect(warnings.filter((w) => w.includes('far from CoinGecko'))).toHaveLength(1);
  });

  it('keeps the last quotes when Binance fails too, and honours its Retry-After', async () => {
    coingecko.script({ path: SIMPLE_PRICE, status: 503 }, { path: SIMPLE_PRICE, status: 503 }, { path: SIMPLE_PRICE, status: 503 }, { path: SIMPLE_PRICE, status: 503 });
    binance.script({ status: 500 });
    await poll();
    await expect(poll()).resolves.toBeUndefined();
    expect(feed.quote('bitcoin')).toMatchObject({ price: '87000', source: 'CoinGecko' });
    expect(warnings.some((w) => w.includes('Binance failed too'))).toBe(true);

    binance.script({ status: 429, retryAfter: '120' });
    await poll();
    expect(feed.quote('bitcoin')?.source).toBe('CoinGecko');
    const asked = binance.requests.length;
    await poll(); // 30 s into Binance's 120 s: not asked at all
    expect(binance.requests).toHaveLength(asked);
    expect(feed.quote('bitcoin')?.source).toBe('CoinGecko');
  });
});

describe('ExchangeClient', () => {
  let binance: ExchangeStandin;
  beforeEach(async () => {
    binance = await startExchangeStandin({ BTCUSDT: '86950.12000000', SHIBUSDT: '0.00000849' });
  });
  afterEach(() => binance.close());

  it('reads exact decimals and asks for all symbols in one request', async () => {
    binance.setPrice('ETHUSDT', '2899.50000000', '-1.250');
    const tickers = await new ExchangeClient({ baseUrl: binance.url }).tickers(['btcusdt', 'ETHUSDT', 'SHIBUSDT']);
    expect(tickers.get('SHIBUSDT')?.price).toBe('0.00000849');
    expect(tickers.get('ETHUSDT')).toMatchObject({ price: '2899.5', change24hPercent: '-1.25' });
    expect(binance.requests).toEqual([{ path: '/api/v3/ticker/24hr', symbols: ['BTCUSDT', 'ETHUSDT', 'SHIBUSDT'] }]);
  });

  it('says plainly when the answer is not a ticker list', async () => {
    binance.script({ body: '[{"symbol":"BTCUSDT","lastPrice":86950.12}]' });
    const error = await new ExchangeClient({ baseUrl: binance.url }).tickers(['BTCUSDT']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExchangeError);
    expect((error as ExchangeError).kind).toBe('bad_response');
    expect((error as ExchangeError).message).toContain('unexpected response shape at 0.lastPrice');
  });

  it('gives up on a request that takes longer than its timeout', async () => {
    binance.script({ delayMs: 2_000 });
    const error = await new ExchangeClient({ baseUrl: binance.url, timeoutMs: 50, maxRetries: 0 }).tickers(['BTCUSDT']).catch((e: unknown) => e);
    expect((error as ExchangeError).kind).toBe('timeout');
  });

  it('retries a 5xx once after a backoff, without waiting for real', async () => {
    const sleeps: number[] = [];
    binance.script({ status: 502 });
    const client = new ExchangeClient({ baseUrl: binance.url, sleep: async (ms) => void sleeps.push(ms), random: () => 0 });
    expect((await client.tickers(['BTCUSDT'])).get('BTCUSDT')?.price).toBe('86950.12');
    expect(sleeps).toEqual([250]);
  });

  it('stops asking while a 418 ban runs', async () => {
    const clock = new ManualClock();
    binance.script({ status: 418, retryAfter: '300' });
    const client = new ExchangeClient({ baseUrl: binance.url, clock });
    await expect(client.tickers(['BTCUSDT'])).rejects.toMatchObject({ kind: 'rate_limited', status: 418 });
    clock.advance(299_000);
    await expect(client.tickers(['BTCUSDT'])).rejects.toThrow('not asking again for 1 s');
    expect(binance.requests).toHaveLength(1);
    clock.advance(1_000);
    expect((await client.tickers(['BTCUSDT'])).size).toBe(1);
  });
});

describe('FALLBACK_PRICES_URL', () => {
  it('wires Binance behind CoinGecko by default, and not at all when off', async () => {
    const coingecko = await startCoinGeckoStandin();
    const logger = pino({ level: 'silent' });
    const store = SqliteStore.open({ file: ':memory:' });
    try {
      const base = { PRICE_FEED: 'coingecko', COINGECKO_BASE_URL: coingecko.url };
      expect(loadConfig(base).FALLBACK_PRICES_URL).toBe('https://data-api.binance.vision');
      const on = await startPriceFeed(loadConfig({ ...base, FALLBACK_PRICES_URL: 'http://127.0.0.1:9/' }), logger, store);
      expect(on.feed).toBeInstanceOf(FailoverFeed);
      expect(on.feed.source()).toEqual({ active: 'CoinGecko' });
      expect(on.feed.quote('bitcoin')?.source).toBe('CoinGecko');
      await on.stop();
      const off = await startPriceFeed(loadConfig({ ...base, FALLBACK_PRICES_URL: 'off' }), logger, store);
      expect(off.feed).toBeInstanceOf(CoinGeckoFeed);
      await off.stop();
    } finally {
      await store.close();
      await coingecko.close();
    }
  });

  it('refuses a value that is neither a URL nor off', () => {
    expect(() => loadConfig({ FALLBACK_PRICES_URL: 'binance' })).toThrow(ConfigError);
    expect(() => loadConfig({ FALLBACK_PRICES_URL: 'binance' })).toThrow('FALLBACK_PRICES_URL: must be an http or https URL, or off');
  });
});
