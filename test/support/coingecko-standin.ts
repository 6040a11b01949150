/**
 * A loopback stand-in for the CoinGecko API, so tests drive the real client over real HTTP without
 * the internet. It speaks the wire protocol the client will meet in production: JSON bodies with
 * numbers written the way CoinGecko writes them (tiny prices in exponent form, e.g. 8.51e-06),
 * unknown ids omitted, and 429s with a Retry-After header and CoinGecko's JSON error body.
 *
 * script() queues misbehaviour (errors, delays, garbage) for the next requests.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_COINS, REFERENCE_FIAT_RATES } from '../../core/coins';
import { Dec } from '../../core/money';

export interface StandinCoin {
  id: string;
  symbol?: string;
  name?: string;
  usd: string | number;
  /** 24h change in percent. Default 0. */
  change?: string | number;
}

export interface StandinOptions {
  /** Default: DEFAULT_COINS at their reference prices. */
  coins?: StandinCoin[];
  /** Units per USD; prices in other currencies are usd x rate. Default REFERENCE_FIAT_RATES. */
  fiatRates?: Record<string, string>;
  /** Unix seconds reported as last_updated_at. Default 1764000000. */
  lastUpdatedAt?: number;
  /** The body of /global. Default STANDIN_GLOBAL_BODY. */
  globalBody?: string;
}

/** /global as CoinGecko writes it (trimmed to the fields we read, plus one we ignore). */
export const STANDIN_GLOBAL_BODY =
  '{"data":{"active_cryptocurrencies":17412,"total_market_cap":{"btc":35012345.12,"usd":3046784124867.123},' +
  '"total_volume":{"usd":98765432101.99},"market_cap_percentage":{"eth":11.30125,"btc":56.94412,"usdt":5.9e-01},' +
  '"market_cap_change_percentage_24h_usd":-1.2345678,"updated_at":1764000000}}';

/** The stand-in's market chart: `points` steps ending at `lastAt` with the coin's current price,
 *  each earlier step 0.01% lower, so a test can compute every price by hand. */
export function standinChartPrice(usd: string | number, stepsBeforeLast: number): string {
  return new Dec(String(usd)).times(new Dec(1).minus(new Dec(stepsBeforeLast).div(10_000))).toFixed();
}

/** How many points the stand-in's market_chart answers for `days`: hourly up to 90 days, daily beyond. */
export function standinChartLength(days: number): number {
  return days <= 90 ? days * 24 + 1 : days + 1;
}

/** One queued answer; it is used by the next request (to `path`, when given). */
export interface ScriptedResponse {
  /** Only requests to this path (e.g. '/api/v3/simple/price') consume it. */
  path?: string;
  /** Wait this long before answering (the client may give up first). */
  delayMs?: number;
  /** Answer with this status; 429 and 5xx get CoinGecko's JSON error body unless `body` is set. */
  status?: number;
  /** Retry-After header value: delta-seconds or an HTTP date. */
  retryAfter?: string;
  /** A raw body (status 200 unless `status` says otherwise). */
  body?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
}

export interface CoinGeckoStandin {
  /** Base URL including /api/v3, for CoinGeckoClient's baseUrl. */
  url: string;
  requests: RecordedRequest[];
  setPrice(id: string, usdPrice: string | number, change?: string | number): void;
  script(...responses: ScriptedResponse[]): void;
  close(): Promise<void>;
}

const PREFIX = '/api/v3';

interface CoinState {
  symbol: string;
  name: string;
  usd: Dec;
  change: Dec;
}

/** Numbers as CoinGecko's serializer writes them: small ones as 8.51e-06, others plain. */
function wireNumber(value: Dec): string {
  if (!value.isZero() && value.abs().lt('0.0001')) {
    return value.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return value.toFixed();
}

export async function startCoinGeckoStandin(options: StandinOptions = {}): Promise<CoinGeckoStandin> {
  const fiat = options.fiatRates ?? REFERENCE_FIAT_RATES;
  const lastUpdatedAt = options.lastUpdatedAt ?? 1_764_000_000;
  const coins = new Map<string, CoinState>();
  const setPrice = (id: string, usd: string | number, change: string | number = 0, symbol?: string, name?: string) => {
    const existing = coins.get(id);
    coins.set(id, {
      symbol: symbol ?? existing?.symbol ?? id.slice(0, 4),
      name: name ?? existing?.name ?? id,
      usd: new Dec(String(usd)),
      change: new Dec(String(change)),
    });
  };
  const initial: StandinCoin[] = options.coins ?? DEFAULT_COINS.map((d) => ({ id: d.id, symbol: d.symbol, name: d.name, usd: d.referencePriceUsd }));
  for (const c of initial) {
    setPrice(c.id, c.usd, c.change, c.symbol, c.name);
  }

  const requests: RecordedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const sendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(body);
  };

  const errorBody = (status: number) => {
    const message =
      status === 429
        ? "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."
        : 'Internal Server Error';
    return JSON.stringify({ status: { error_code: status, error_message: message } });
  };

  const simplePrice = (query: Record<string, string>): string => {
    const ids = (query.ids ?? '').split(',').filter(Boolean);
    const vs = (query.vs_currencies ?? '').split(',').filter((c) => fiat[c] !== undefined);
    const withChange = query.include_24hr_change === 'true';
    const withUpdated = query.include_last_updated_at === 'true';
    // Built by hand so the numbers go out exactly as written, not through float formatting.
    const entries: string[] = [];
    for (const id of ids) {
      const coin = coins.get(id);
      if (!coin) continue; // CoinGecko omits unknown ids.
      const fields: string[] = [];
      for (const c of vs) fields.push(`"${c}":${wireNumber(coin.usd.times(fiat[c]!))}`);
      if (withChange) for (const c of vs) fields.push(`"${c}_24h_change":${wireNumber(coin.change)}`);
      if (withUpdated) fields.push(`"last_updated_at":${lastUpdatedAt}`);
      entries.push(`${JSON.stringify(id)}:{${fields.join(',')}}`);
    }
    return `{${entries.join(',')}}`;
  };

  const marketChart = (coin: CoinState, days: number): string => {
    const n = standinChartLength(days);
    const stepMs = days <= 90 ? 3_600_000 : 86_400_000;
    const lastAt = lastUpdatedAt * 1000;
    const prices: string[] = [];
    for (let i = 0; i < n; i++) {
      const back = n - 1 - i;
      prices.push(`[${lastAt - back * stepMs},${wireNumber(new Dec(standinChartPrice(coin.usd.toFixed(), back)))}]`);
    }
    // CoinGecko also sends market_caps and total_volumes; the client ignores them.
    return `{"prices":[${prices.join(',')}],"market_caps":[],"total_volumes":[]}`;
  };

  const trending = (): string => {
    const items = [...coins].slice(0, 3).map(([id, c], i) =>
      `{"item":{"id":${JSON.stringify(id)},"coin_id":${i + 1},"name":${JSON.stringify(c.name)},"symbol":${JSON.stringify(c.symbol.toUpperCase())},` +
      `"market_cap_rank":${i === 2 ? 'null' : i + 1},"price_btc":1.5e-05,"score":${i}}}`,
    );
    return `{"coins":[${items.join(',')}],"nfts":[],"categories":[]}`;
  };

  const route = (res: ServerResponse, path: string, query: Record<string, string>) => {
    const chart = path.match(/^\/api\/v3\/coins\/([^/]+)\/market_chart$/);
    if (chart) {
      const coin = coins.get(decodeURIComponent(chart[1]!));
      const days = Number(query.days);
      if (!query.vs_currency || !Number.isInteger(days) || days < 1) return sendJson(res, 400, JSON.stringify({ error: 'Missing parameter vs_currency or days' }));
      if (!coin) return sendJson(res, 404, JSON.stringify({ error: 'coin not found' }));
      return sendJson(res, 200, marketChart(coin, days));
    }
    if (path === `${PREFIX}/global`) return sendJson(res, 200, options.globalBody ?? STANDIN_GLOBAL_BODY);
    if (path === `${PREFIX}/search/trending`) return sendJson(res, 200, trending());
    if (path === `${PREFIX}/ping`) return sendJson(res, 200, JSON.stringify({ gecko_says: '(V3) To the Moon!' }));
    if (path === `${PREFIX}/simple/price`) {
      if (!query.ids || !query.vs_currencies) return sendJson(res, 400, JSON.stringify({ error: 'Missing parameter ids or vs_currencies' }));
      return sendJson(res, 200, simplePrice(query));
    }
    if (path === `${PREFIX}/coins/list`) {
      const list = [...coins].map(([id, c]) => ({ id, symbol: c.symbol, name: c.name }));
      return sendJson(res, 200, JSON.stringify(list));
    }
    return sendJson(res, 404, JSON.stringify({ error: 'Incorrect path. Please check https://www.coingecko.com/api/documentation' }));
  };

  const answer = (res: ServerResponse, scripted: ScriptedResponse | undefined, path: string, query: Record<string, string>) => {
    if (!scripted || (scripted.status === undefined && scripted.body === undefined)) return route(res, path, query);
    const status = scripted.status ?? 200;
    const headers: Record<string, string> = scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : {};
    sendJson(res, status, scripted.body ?? errorBody(status), headers);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query, headers: req.headers });
    const index = queue.findIndex((s) => s.path === undefined || s.path === url.pathname);
    const scripted = index >= 0 ? queue.splice(index, 1)[0] : undefined;
    if (scripted?.delayMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer(res, scripted, url.pathname, query);
      }, scripted.delayMs);
      timers.add(timer);
    } else {
      answer(res, scripted, url.pathname, query);
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${PREFIX}`,
    requests,
    setPrice: (id, usdPrice, change) => setPrice(id, usdPrice, change),
    script: (...responses) => void queue.push(...responses),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        // Keep-alive sockets from fetch would otherwise hold close() open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
