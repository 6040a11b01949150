/**
 * /healthz, /readyz and /metrics on the real shared HTTP server (loopback, port 0), over a core on
 * a real SQLite store with a hand-set price feed and a manual clock: what an operator's probe, a
 * load balancer and a Prometheus scrape see. Last, the DynamoDB store's ping against DynamoDB Local.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../adapters/shared/http-server';
import { createReadiness, mountHealthRoutes } from '../adapters/shared/health';
import type { ChatAdapter } from '../core/chat-adapter';
import type { OutboxMessage } from '../core/domain';
import type { Store } from '../core/ports';
import { deleteTables, ensureTables } from '../infra/dynamodb/admin';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { STORE_TABLES } from '../infra/dynamodb/tables';
import { createPrometheusMetrics, type PrometheusMetrics } from '../infra/metrics/prometheus-metrics';
import { CoinGeckoClient } from '../infra/prices/coingecko-client';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { LOCAL_CLIENT_CONFIG } from './support/dynamodb-local';
import { startCoinGeckoStandin } from './support/coingecko-standin';
import { makeTestBot, type TestBot } from './support/harness';

const MAX_QUOTE_AGE_MS = 60_000;
const CACHE_MS = 1_000;

/** A configured platform's adapter whose connection the test switches; it sends nothing. */
function fakeAdapter(platform: 'telegram' | 'discord'): ChatAdapter & { up: boolean } {
  const adapter = {
    platform,
    capabilities: { buttons: true, images: true, privateReplies: 'dm' as const, maxMessageLength: 4096 },
    up: true,
    start: async () => {},
    stop: async () => {},
    connected: () => adapter.up,
    deliverToUser: async () => ({ status: 'sent' as const }),
    deliverToChat: async () => ({ status: 'sent' as const }),
  };
  return adapter;
}

interface Probe {
  status: number;
  contentType: string | null;
  text: string;
}

describe('health, readiness and metrics over HTTP', () => {
  let bot: TestBot;
  let http: HttpServer;
  let metrics: PrometheusMetrics;
  let unmount: () => Promise<void>;
  let telegram: ReturnType<typeof fakeAdapter>;
  /** Stands between readiness and the real store: when set, ping fails as an unreachable database does. */
  let storeDown: Error | undefined;

  const get = async (path: string): Promise<Probe> => {
    const response = await fetch(`${http.url()}${path}`);
    return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
  };
  const ready = async () => {
    const probe = await get('/readyz');
    return { status: probe.status, body: JSON.parse(probe.text) as { status: string; failed?: string[]; checks: Record<string, { ok: boolean; detail: string }> } };
  };
  /** Past the readiness cache, so the next probe checks again. */
  const later = (ms = CACHE_MS) => bot.clock.advance(ms);

  beforeEach(async () => {
    bot = await makeTestBot();
    metrics = createPrometheusMetrics();
    // The services object is the one the dispatcher and the outbox worker hold.
    bot.core.services.metrics = metrics;
    telegram = fakeAdapter('telegram');
    storeDown = undefined;
    const store: Pick<Store, 'ping'> = { ping: () => (storeDown ? Promise.reject(storeDown) : bot.store.ping()) };
    http = createHttpServer({ port: 0 });
    unmount = await mountHealthRoutes(http, {
      readiness: createReadiness({
        store, prices: bot.feed, coins: () => bot.core.services.coins.list(), maxQuoteAgeMs: MAX_QUOTE_AGE_MS,
        adapters: () => [telegram], clock: bot.clock, cacheMs: CACHE_MS,
      }),
      scrape: () => metrics.scrape(),
    });
  });

  afterEach(async () => {
    await unmount();
    await bot.close();
  });

  it('serves /healthz with 200 "ok" and closes the server once unmounted', async () => {
    const probe = await get('/healthz');
    expect(probe.status).toBe(200);
    expect(probe.text.trim()).toBe('ok');
    const url = http.url();
    await unmount();
    expect(http.address()).toBeUndefined();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    unmount = async () => {};
  });

  it('is ready with fresh prices, turns unready naming "prices" once they are stale, and ready again after a fresh quote', async () => {
    const fresh = await ready();
    expect(fresh.status).toBe(200);
    expect(fresh.body.status).toBe('ready');
    expect(Object.keys(fresh.body.checks).sort()).toEqual(['prices', 'store', 'telegram']);

    later(MAX_QUOTE_AGE_MS + 1_000);
    const stale = await ready();
    expect(stale.status).toBe(503);
    expect(stale.body.failed).toEqual(['prices']);
    expect(stale.body.checks.prices!.detail).toMatch(/stale/);

    bot.feed.set('bitcoin', '90000');
    later();
    const again = await ready();
    expect(again.status).toBe(200);
    expect(again.body.failed).toBeUndefined();
  });

  it('turns unready naming "store" while the store is unreachable, and ready again after', async () => {
    storeDown = new Error('connect ECONNREFUSED');
    later();
    const down = await ready();
    expect(down.status).toBe(503);
    expect(down.body.failed).toEqual(['store']);
    expect(down.body.checks.store!.detail).toContain('ECONNREFUSED');

    storeDown = undefined;
    later();
    expect((await ready()).status).toBe(200);
  });

  it('answers a burst of probes from one check until the cache time has passed', async () => {
    expect((await ready()).status).toBe(200);
    storeDown = new Error('gone');
    // Same clock: the answer of a moment ago, without asking the store again.
    expect((await ready()).status).toBe(200);
    later();
    expect((await ready()).status).toBe(503);
  });

  it('turns unready naming the platform whose adapter is not connected', async () => {
    telegram.up = false;
    later();
    const down = await ready();
    expect(down.status).toBe(503);
    expect(down.body.failed).toEqual(['telegram']);
    telegram.up = true;
    later();
    expect((await ready()).status).toBe(200);
  });

  it('exposes commands by name and outcome with their latency, trades, and deliveries by platform in Prometheus format', async () => {
    await bot.signup('ana');
    await bot.send('ana', '/price btc');
    await bot.send('ana', '/price eth');
    await bot.send('ana', '/frobnicate');
    await bot.send('ana', '/buy btc $100');
    await bot.send('ana', '/watch btc', { messageId: 'w1' });
    await bot.send('ana', '/watch btc', { messageId: 'w1' }); // the platform delivered it twice
    await bot.send('bob', '/portfolio'); // no account

    const broadcast = (id: string): OutboxMessage => ({
      id, destination: 'chat:telegram:-100123', kind: 'broadcast', message: { tone: 'info', text: 'BTC crossed 100k' },
      createdAt: bot.clock.now(), dueAt: bot.clock.now(), attempts: 0, status: 'pending',
    });
    bot.chats.script('chat:telegram:-100123', { status: 'failed', reason: 'HTTP 502' });
    await bot.store.enqueueMessages([broadcast('b1')]);
    await bot.outbox.runOnce(); // fails: retried later
    bot.clock.advance(10 * 60_000);
    await bot.outbox.runOnce(); // delivered

    const probe = await get('/metrics');
    expect(probe.status).toBe(200);
    expect(probe.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = probe.text;
    expect(text).toContain('cryptopulse_commands_total{command="price",outcome="ok"} 2');
    // An unknown word is never a label (it may be a password typed without its command).
    expect(text).toContain('cryptopulse_commands_total{command="(unknown)",outcome="user_error"} 1');
    expect(text).not.toContain('frobnicate');
    expect(text).toContain('cryptopulse_command_duration_seconds_count{command="price"} 2');
    expect(text).toContain('cryptopulse_command_duration_seconds_bucket{le="0.005",command="price"} 2');
    expect(text).toContain('cryptopulse_commands_total{command="watch add",outcome="ok"} 1');
    expect(text).toContain('cryptopulse_commands_total{command="watch add",outcome="duplicate"} 1');
    expect(text).toContain('cryptopulse_commands_total{command="portfolio",outcome="denied"} 1');
    expect(text).toContain('cryptopulse_trades_total{kind="market",side="buy"} 1');
    expect(text).toContain('cryptopulse_deliveries_total{platform="telegram",outcome="failed"} 1');
    expect(text).toContain('cryptopulse_deliveries_total{platform="telegram",outcome="sent"} 1');
    // Default process metrics, under the same prefix.
    expect(text).toContain('cryptopulse_process_resident_memory_bytes');
  });

  it('counts upstream CoinGecko calls by outcome through the client hook', async () => {
    const coingecko = await startCoinGeckoStandin();
    try {
      const client = new CoinGeckoClient({
        baseUrl: coingecko.url, maxRetries: 1, sleep: async () => {}, clock: bot.clock,
        onCall: (call) => metrics.upstreamCall('coingecko', call.outcome, call.seconds),
      });
      coingecko.script({ status: 503 });
      await client.simplePrice(['bitcoin'], ['usd']); // one 503, then an answer
    } finally {
      await coingecko.close();
    }
    const text = (await get('/metrics')).text;
    expect(text).toContain('cryptopulse_upstream_calls_total{service="coingecko",outcome="unavailable"} 1');
    expect(text).toContain('cryptopulse_upstream_calls_total{service="coingecko",outcome="ok"} 1');
    expect(text).toContain('cryptopulse_upstream_call_duration_seconds_count{service="coingecko"} 2');
  });
});

describe('store ping', () => {
  it('SQLite answers while open and rejects once closed', async () => {
    const store = SqliteStore.open({ file: ':memory:' });
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await expect(store.ping()).rejects.toThrow();
  });

  describe('DynamoDB (DynamoDB Local)', () => {
    const endpoint = inject('dynamodbEndpoint');
    const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
    const prefix = `t-${randomUUID().slice(0, 8)}-`;
    afterAll(async () => {
      await deleteTables(admin, prefix, STORE_TABLES);
      admin.destroy();
    });

    it('answers when the tables exist and rejects when they do not', async () => {
      await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
      const store = DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: prefix });
      const missing = DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: `t-${randomUUID().slice(0, 8)}-none-` });
      try {
        await expect(store.ping()).resolves.toBeUndefined();
        await expect(missing.ping()).rejects.toThrow(/resource|table/i);
      } finally {
        await store.close();
        await missing.close();
      }
    });
  });
});
