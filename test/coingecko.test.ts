/**
 * The CoinGecko client and feed against a loopback stand-in, over real fetch and real HTTP.
 * Backoff waits go through an injected sleep that only records them, so nothing here waits for
 * real except the timeout test (two 100 ms attempts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIAT_CODES } from '../core/currencies';
import type { Logger } from '../core/ports';
import {
  COINGECKO_DEMO_URL,
  COINGECKO_PRO_URL,
  CoinGeckoClient,
  CoinGeckoError,
  parseJsonExact,
  JsonNumber,
  type CoinGeckoClientOptions,
} from '../infra/prices/coingecko-client';
import { CoinGeckoFeed, probeCoinGecko } from '../infra/prices/coingecko-feed';
import { startCoinGeckoStandin, type CoinGeckoStandin } from './support/coingecko-standin';

const NOW = 1_764_000_000_000;
const SIMPLE_PRICE = '/api/v3/simple/price';

let standin: CoinGeckoStandin;
let sleeps: number[];
let clock: { now: () => number; t: number };

beforeEach(async () => {
  standin = await startCoinGeckoStandin();
  sleeps = [];
  clock = { t: NOW, now: () => clock.t };
});

afterEach(async () => {
  await standin.close();
});

function client(options: CoinGeckoClientOptions = {}): CoinGeckoClient {
  return new CoinGeckoClient({
    baseUrl: standin.url,
    clock,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0,
    ...options,
  });
}

function recordingLogger(): Logger & { warnings: object[] } {
  const warnings: object[] = [];
  return { warnings, info: () => {}, warn: (obj) => void warnings.push(obj), error: () => {} };
}

async function failure(promise: Promise<unknown>): Promise<CoinGeckoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CoinGeckoError);
  return error as CoinGeckoError;
}

describe('CoinGeckoClient', () => {
  it('returns exact decimal strings, including tiny prices CoinGecko writes in exponent form', async () => {
    standin.setPrice('shiba-inu', '0.00000851', '-2.5');
    standin.setPrice('precise-coin', '0.123456789012345678901');
    const answer = await client().simplePrice(['shiba-inu', 'precise-coin', 'bitcoin'], ['usd', 'eur']);

    expect(answer['shiba-inu']).toEqual({
      prices: { usd: '0.00000851', eur: '0.0000073186' },
      change24h: '-2.5',
      lastUpdatedAt: 1_764_000_000_000,
    });
    // More digits than a double holds: a float round trip would lose them.
    expect(answer['precise-coin']?.prices.usd).toBe('0.123456789012345678901');
    expect(answer.bitcoin?.prices).toEqual({ usd: '87000', eur: '74820' });
  });

  it('sends one well-formed /simple/price request', async () => {
    await client().simplePrice(['bitcoin', 'ethereum', 'bitcoin'], ['usd', 'eur']);
    expect(standin.requests).toHaveLength(1);
    expect(standin.requests[0]).toMatchObject({
      path: SIMPLE_PRICE,
      query: { ids: 'bitcoin,ethereum', vs_currencies: 'usd,eur', include_24hr_change: 'true', include_last_updated_at: 'true' },
    });
  });

  it('leaves unknown coins out of the result', async () => {
    const answer = await client().simplePrice(['bitcoin', 'no-such-coin'], ['usd']);
    expect(Object.keys(answer)).toEqual(['bitcoin']);
  });

  it('sends the demo key header on the demo plan', async () => {
    await client({ apiKey: 'CG-demo', plan: 'demo' }).ping();
    expect(standin.requests[0]?.headers['x-cg-demo-api-key']).toBe('CG-demo');
    expect(standin.requests[0]?.headers['x-cg-pro-api-key']).toBeUndefined();
  });

  it('sends the pro key header on the pro plan', async () => {
    await client({ apiKey: 'CG-pro', plan: 'pro' }).ping();
    expect(standin.requests[0]?.headers['x-cg-pro-api-key']).toBe('CG-pro');
    expect(standin.requests[0]?.headers['x-cg-demo-api-key']).toBeUndefined();
  });

  it('sends no key header without a key, and picks the base URL by plan', async () => {
    await client().ping();
    expect(Object.keys(standin.requests[0]?.headers ?? {}).filter((h) => h.startsWith('x-cg-'))).toEqual([]);
    expect(new CoinGeckoClient().baseUrl).toBe(COINGECKO_DEMO_URL);
    expect(new CoinGeckoClient({ plan: 'pro' }).baseUrl).toBe(COINGECKO_PRO_URL);
  });

  it('honours Retry-After in seconds on 429, then succeeds', async () => {
    standin.script({ status: 429, retryAfter: '2' });
    const answer = await client().simplePrice(['bitcoin'], ['usd']);
    expect(answer.bitcoin?.prices.usd).toBe('87000');
    expect(sleeps).toEqual([2000]);
    expect(standin.requests).toHaveLength(2);
  });

  it('honours Retry-After as an HTTP date', async () => {
    standin.script({ status: 429, retryAfter: new Date(NOW + 5000).toUTCString() });
    await client().ping();
    expect(sleeps).toEqual([5000]);
  });

  it('backs off on 429 without Retry-After, and gives up as rate_limited', async () => {
    standin.script({ status: 429 }, { status: 429 }, { status: 429 });
    const error = await failure(client({ maxRetries: 2 }).ping());
    expect(error.kind).toBe('rate_limited');
    expect(error.status).toBe(429);
    expect(error.message).toContain("You've exceeded the Rate Limit");
    expect(sleeps).toEqual([250, 500]);
  });

  it('does not wait out an unreasonably long Retry-After', async () => {
    standin.script({ status: 429, retryAfter: '3600' });
    const error = await failure(client().ping());
    expect(error.kind).toBe('rate_limited');
    expect(standin.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('retries a 500 and succeeds', async () => {
    standin.script({ status: 500 });
    const answer = await client().simplePrice(['bitcoin'], ['usd']);
    expect(answer.bitcoin?.prices.usd).toBe('87000');
    expect(sleeps).toEqual([250]);
  });

  it('gives up on persistent 500 as unavailable, with exponential, jittered backoff', async () => {
    standin.script({ status: 500 }, { status: 502 }, { status: 503 }, { status: 500 });
    const error = await failure(client({ random: () => 0.5 }).simplePrice(['bitcoin'], ['usd']));
    expect(error.kind).toBe('unavailable');
    expect(error.message).toContain('gave up after 4 attempts');
    expect(standin.requests).toHaveLength(4);
    // Equal jitter: half of each doubling step is fixed, half random (0.5 here).
    expect(sleeps).toEqual([375, 750, 1500]);
  });

  it('times out a slow answer, retries, then fails as timeout', async () => {
    standin.script({ delayMs: 400 }, { delayMs: 400 });
    const started = Date.now();
    const error = await failure(client({ timeoutMs: 100, maxRetries: 1 }).simplePrice(['bitcoin'], ['usd']));
    expect(error.kind).toBe('timeout');
    expect(standin.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports malformed JSON as bad_response without retrying', async () => {
    standin.script({ body: 'not json' });
    const error = await failure(client().simplePrice(['bitcoin'], ['usd']));
    expect(error.kind).toBe('bad_response');
    expect(standin.requests).toHaveLength(1);
  });

  it('reports a well-formed body of the wrong shape as bad_response', async () => {
    standin.script({ body: '{"bitcoin":{"usd":"87000"}}' }, { body: '[{"id":1}]' });
    expect((await failure(client().simplePrice(['bitcoin'], ['usd']))).kind).toBe('bad_response');
    expect((await failure(client().coinsList())).kind).toBe('bad_response');
  });

  it('does not retry other 4xx', async () => {
    standin.script({ status: 401, body: '{"status":{"error_code":10002,"error_message":"Invalid API key"}}' });
    const error = await failure(client({ apiKey: 'wrong' }).ping());
    expect(error).toMatchObject({ kind: 'bad_response', status: 401 });
    expect(error.message).toContain('Invalid API key');
    expect(standin.requests).toHaveLength(1);
  });

  it('reports 404 as not_found', async () => {
    const error = await failure(client({ baseUrl: `${standin.url}/nowhere` }).ping());
    expect(error.kind).toBe('not_found');
    expect(standin.requests).toHaveLength(1);
  });

  it('reports a refused connection as unavailable after retrying', async () => {
    const url = standin.url;
    await standin.close();
    const error = await failure(client({ baseUrl: url, maxRetries: 1 }).ping());
    expect(error.kind).toBe('unavailable');
    expect(sleeps).toHaveLength(1);
    standin = await startCoinGeckoStandin(); // for afterEach
  });

  it('lists coins with lower-cased symbols', async () => {
    standin.setPrice('weird-coin', '1');
    const coins = await client().coinsList();
    expect(coins).toContainEqual({ id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' });
    expect(coins.find((c) => c.id === 'weird-coin')).toBeDefined();
    expect(standin.requests[0]?.path).toBe('/api/v3/coins/list');
  });

  it('answers a ping', async () => {
    await expect(client().ping()).resolves.toBe('(V3) To the Moon!');
  });
});

describe('parseJsonExact', () => {
  it('keeps number text exactly and leaves strings alone', () => {
    const parsed = parseJsonExact('{"a":0.1,"b":[-1.5e-7,2],"c":"x\\"1.5","d":null,"e":true}') as Record<string, unknown>;
    expect(parsed.a).toEqual(new JsonNumber('0.1'));
    expect(parsed.b).toEqual([new JsonNumber('-1.5e-7'), new JsonNumber('2')]);
    expect(parsed.c).toBe('x"1.5');
    expect(parsed.d).toBeNull();
    expect(parsed.e).toBe(true);
  });

  it('still rejects invalid JSON', () => {
    expect(() => parseJsonExact('{"a":01}')).toThrow();
    expect(() => parseJsonExact('{"a":1.}')).toThrow();
  });
});

describe('CoinGeckoFeed', () => {
  function feed(options: { coinIds?: string[]; clientOptions?: CoinGeckoClientOptions; logger?: Logger; pollIntervalMs?: number } = {}) {
    return new CoinGeckoFeed({
      client: client(options.clientOptions),
      clock,
      logger: options.logger,
      coinIds: options.coinIds ?? ['bitcoin', 'ethereum', 'shiba-inu', 'solana'],
      pollIntervalMs: options.pollIntervalMs,
    });
  }

  it('is not simulated and caches quotes from one refresh', async () => {
    standin.setPrice('shiba-inu', '0.00000851', '1.25');
    const f = feed();
    expect(f.simulated).toBe(false);
    expect(f.quote('bitcoin')).toBeUndefined();
    await f.refresh();
    expect(f.quote('shiba-inu')).toEqual({
      coinId: 'shiba-inu',
      price: '0.00000851',
      change24hPercent: '1.25',
      receivedAt: NOW,
      simulated: false,
      source: 'CoinGecko',
    });
    expect(f.quote('ethereum')?.price).toBe('2900');
  });

  it('makes one upstream request per refresh, however many coins and quote() calls', async () => {
    const f = feed({ coinIds: [] });
    f.track(Array.from({ length: 60 }, (_, i) => `coin-${i}`).concat(['bitcoin', 'ethereum']));
    await f.refresh();
    for (let i = 0; i < 1000; i++) f.quote(i % 2 ? 'bitcoin' : 'ethereum');
    await f.refresh();
    for (let i = 0; i < 1000; i++) f.quote('bitcoin');
    expect(standin.requests).toHaveLength(2);
    const query = standin.requests[0]?.query;
    expect(query?.ids?.split(',')).toHaveLength(62);
    expect(query?.vs_currencies).toBe(FIAT_CODES.join(','));
  });

  it('joins a refresh already in flight', async () => {
    standin.script({ delayMs: 50 });
    const f = feed();
    await Promise.all([f.refresh(), f.refresh(), f.refresh()]);
    expect(standin.requests).toHaveLength(1);
    expect(f.quote('bitcoin')?.price).toBe('87000');
  });

  it('derives fiat rates from bitcoin in the same request, exactly', async () => {
    const f = feed();
    expect(f.fiatRates().simulated).toBe(true); // reference rates until the first poll
    standin.setPrice('bitcoin', '90000');
    await f.refresh();
    const { rates, simulated } = f.fiatRates();
    expect(simulated).toBe(false);
    expect(rates.usd).toBe('1');
    expect(rates.eur).toBe('0.86');
    expect(rates.jpy).toBe('156');
    expect(Object.keys(rates).sort()).toEqual([...FIAT_CODES].sort());
  });

  it('fetches bitcoin for the rates even when it is not tracked', async () => {
    const f = feed({ coinIds: ['ethereum'] });
    await f.refresh();
    expect(standin.requests[0]?.query.ids).toBe('ethereum,bitcoin');
    expect(f.fiatRates().rates.gbp).toBe('0.76');
  });

  it('keeps the old quotes and warns when a poll fails', async () => {
    const logger = recordingLogger();
    const f = feed({ logger });
    await f.refresh();
    const before = f.quote('bitcoin');

    clock.t += 30_000;
    standin.setPrice('bitcoin', '99999');
    standin.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    await expect(f.refresh()).resolves.toBeUndefined();

    expect(f.quote('bitcoin')).toEqual(before);
    expect(f.fiatRates().rates.eur).toBe('0.86');
    const health = f.health();
    expect(health.consecutiveFailures).toBe(1);
    expect(health.lastError).toBeInstanceOf(CoinGeckoError);
    expect((health.lastError as CoinGeckoError).kind).toBe('unavailable');
    expect(logger.warnings).toHaveLength(1);

    await f.refresh();
    expect(f.quote('bitcoin')).toMatchObject({ price: '99999', receivedAt: NOW + 30_000 });
    expect(f.health()).toMatchObject({ consecutiveFailures: 0, lastError: null, lastSuccessAt: NOW + 30_000 });
  });

  it('uses the new tracked set on the next poll', async () => {
    const f = feed({ coinIds: ['bitcoin'] });
    await f.refresh();
    f.track(['solana', 'Dogecoin']);
    await f.refresh();
    expect(standin.requests[1]?.query.ids).toBe('solana,dogecoin,bitcoin');
    expect(f.quote('dogecoin')?.price).toBe('0.15');
  });

  it('polls on start() and stops on stop()', async () => {
    const f = feed({ pollIntervalMs: 20 });
    f.start();
    f.start(); // idempotent
    await new Promise((resolve) => setTimeout(resolve, 120));
    await f.stop();
    const count = standin.requests.length;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThanOrEqual(8);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(standin.requests).toHaveLength(count);
  });

  it('looks coins up in the coin list, cached for an hour', async () => {
    const f = feed();
    const [found, missing] = await Promise.all([f.lookupCoin('solana'), f.lookupCoin('no-such-coin')]);
    expect(found).toEqual({ id: 'solana', symbol: 'sol', name: 'Solana' });
    expect(missing).toBeNull();
    await f.lookupCoin('Bitcoin');
    expect(standin.requests.filter((r) => r.path === '/api/v3/coins/list')).toHaveLength(1);

    clock.t += 60 * 60 * 1000;
    standin.setPrice('brand-new', '3');
    expect((await f.lookupCoin('brand-new'))?.id).toBe('brand-new');
    expect(standin.requests.filter((r) => r.path === '/api/v3/coins/list')).toHaveLength(2);
  });

  it('keeps using a stale coin list when the refresh fails, and fails without one', async () => {
    const f = feed({ clientOptions: { maxRetries: 0 } });
    standin.script({ status: 500 });
    expect((await failure(f.lookupCoin('bitcoin'))).kind).toBe('unavailable');
    expect(await f.lookupCoin('bitcoin')).not.toBeNull();
    clock.t += 2 * 60 * 60 * 1000;
    standin.script({ status: 500 });
    expect(await f.lookupCoin('bitcoin')).not.toBeNull();
  });
});

describe('probeCoinGecko', () => {
  it('is true when CoinGecko answers and false when it does not', async () => {
    expect(await probeCoinGecko(client())).toBe(true);
    standin.script({ status: 503 }, { status: 503 });
    expect(await probeCoinGecko(client())).toBe(false);
  });
});
