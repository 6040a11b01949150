/**
 * Health, readiness and metrics on the shared HTTP server (http-server.ts), beside the chat
 * platforms' routes:
 *   GET /healthz  200 "ok" whenever the process can answer at all: the load balancer's check, so
 *                 an instance is replaced only when it is truly stuck, not while the store blips.
 *   GET /readyz   200 with every check when all pass, 503 naming the ones that failed:
 *                   store     the store answers a cheap read (Store.ping) within a bound;
 *                   prices    some tracked coin has a quote younger than the max quote age, so
 *                             trades and alerts can work (no coins tracked: nothing to be fresh);
 *                   <platform> each configured chat adapter says it is connected.
 *                 The answer is kept for `cacheMs`, so a storm of probes reads the store once.
 *   GET /metrics  Prometheus exposition text (text/plain; version=0.0.4).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatAdapter } from '../../core/chat-adapter';
import type { Coin } from '../../core/domain';
import type { Clock, PriceFeed, Store } from '../../core/ports';
import type { HttpServer } from './http-server';

export const HEALTH_PATHS = { health: '/healthz', ready: '/readyz', metrics: '/metrics' } as const;

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** By name: 'store', 'prices', and each configured platform ('telegram', ...). */
  checks: Record<string, ReadinessCheck>;
}

export interface ReadinessOptions {
  store: Pick<Store, 'ping'>;
  prices: Pick<PriceFeed, 'quote'>;
  /** The tracked coins (CoinCatalog.list: cached, so this rarely reads the store). */
  coins: () => Promise<Coin[]>;
  maxQuoteAgeMs: number;
  /** The chat adapters running here (the terminal chat has no connected() and always passes). */
  adapters: () => readonly ChatAdapter[];
  clock: Clock;
  /** How long one answer is reused. Default 1000 ms. */
  cacheMs?: number;
  /** A store that has not answered by then counts as unreachable. Default 2000 ms. */
  pingTimeoutMs?: number;
}

export interface Readiness {
  check(): Promise<ReadinessReport>;
}

export function createReadiness(options: ReadinessOptions): Readiness {
  const cacheMs = options.cacheMs ?? 1000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2000;
  let cached: { at: number; report: Promise<ReadinessReport> } | undefined;

  async function storeCheck(): Promise<ReadinessCheck> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${pingTimeoutMs} ms`)), pingTimeoutMs);
    });
    try {
      await Promise.race([options.store.ping(), timeout]);
      return { ok: true, detail: 'reachable' };
    } catch (error) {
      return { ok: false, detail: `unreachable: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  async function pricesCheck(now: number): Promise<ReadinessCheck> {
    let coins: Coin[];
    try {
      coins = await options.coins();
    } catch (error) {
      return { ok: false, detail: `could not list the tracked coins: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (coins.length === 0) return { ok: true, detail: 'no coins tracked' };
    const newest = Math.max(...coins.map((c) => options.prices.quote(c.id)?.receivedAt ?? -Infinity));
    if (newest === -Infinity) return { ok: false, detail: 'no quote yet' };
    const ageSeconds = Math.round((now - newest) / 1000);
    return now - newest <= options.maxQuoteAgeMs
      ? { ok: true, detail: `newest quote ${ageSeconds} s old` }
      : { ok: false, detail: `stale: newest quote ${ageSeconds} s old, more than ${Math.round(options.maxQuoteAgeMs / 1000)} s` };
  }

  async function run(now: number): Promise<ReadinessReport> {
    const [store, prices] = await Promise.all([storeCheck(), pricesCheck(now)]);
    const checks: Record<string, ReadinessCheck> = { store, prices };
    for (const adapter of options.adapters()) {
      if (!adapter.connected) continue;
      checks[adapter.platform] = adapter.connected() ? { ok: true, detail: 'connected' } : { ok: false, detail: 'not connected' };
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  return {
    check() {
      const now = options.clock.now();
      // Concurrent probes share the one in flight as well as a recent answer.
      if (!cached || now - cached.at >= cacheMs) cached = { at: now, report: run(now) };
      return cached.report;
    },
  };
}

export interface HealthRoutesOptions {
  readiness: Readiness;
  /** The metrics exposition, e.g. PrometheusMetrics.scrape. */
  scrape: () => Promise<{ contentType: string; body: string }>;
}

/** Mounts /healthz, /readyz and /metrics on `http` (which starts it listening); the returned
 *  function unmounts them again. */
export async function mountHealthRoutes(http: HttpServer, options: HealthRoutesOptions): Promise<() => Promise<void>> {
  const getOnly = (handler: (res: ServerResponse) => Promise<void> | void) => async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    res.setHeader('cache-control', 'no-store');
    await handler(res);
  };
  const routes: Array<[string, ReturnType<typeof getOnly>]> = [
    [HEALTH_PATHS.health, getOnly((res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
    })],
    [HEALTH_PATHS.ready, getOnly(async (res) => {
      const report = await options.readiness.check();
      const failed = Object.entries(report.checks).filter(([, c]) => !c.ok).map(([name]) => name);
      const body = { status: report.ready ? 'ready' : 'unready', ...(failed.length && { failed }), checks: report.checks };
      res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(`${JSON.stringify(body)}\n`);
    })],
    [HEALTH_PATHS.metrics, getOnly(async (res) => {
      const { contentType, body } = await options.scrape();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    })],
  ];
  const mounted: string[] = [];
  try {
    for (const [path, handler] of routes) {
      await http.mount(path, handler);
      mounted.push(path);
    }
  } catch (error) {
    for (const path of mounted) await http.unmount(path);
    throw error;
  }
  return async () => {
    for (const path of mounted) await http.unmount(path);
  };
}
