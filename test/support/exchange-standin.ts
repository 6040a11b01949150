/**
 * A loopback stand-in for Binance's public market-data API (the fallback price source), so tests
 * drive the real ExchangeClient over real HTTP. It answers GET /api/v3/ticker/24hr with `symbols`
 * (a JSON array) or `symbol`, as Binance does: prices as decimal strings, and the whole request
 * refused with HTTP 400 {"code":-1121,"msg":"Invalid symbol."} when any symbol is not listed.
 *
 * script() queues misbehaviour (429 with Retry-After, 5xx, garbage, delays) for the next requests.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ExchangeScript {
  status?: number;
  retryAfter?: string;
  body?: string;
  delayMs?: number;
}

export interface ExchangeRequest {
  path: string;
  /** The symbols asked for, from `symbols` or `symbol`. */
  symbols: string[];
}

export interface ExchangeStandin {
  /** Base URL, for ExchangeClient's baseUrl (FALLBACK_PRICES_URL). */
  url: string;
  requests: ExchangeRequest[];
  /** Lists a symbol ("BTCUSDT") at a price; change in percent. */
  setPrice(symbol: string, price: string, change?: string): void;
  /** Delists a symbol: asking for it is answered -1121. */
  delist(symbol: string): void;
  script(...responses: ExchangeScript[]): void;
  close(): Promise<void>;
}

/** Binance's closeTime of every ticker here. */
export const STANDIN_CLOSE_TIME = 1_764_072_000_000;

export async function startExchangeStandin(prices: Record<string, string> = {}): Promise<ExchangeStandin> {
  const listed = new Map<string, { price: string; change: string }>(Object.entries(prices).map(([s, p]) => [s, { price: p, change: '0.000' }]));
  const requests: ExchangeRequest[] = [];
  const queue: ExchangeScript[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(body);
  };

  const ticker = (symbol: string) => {
    const t = listed.get(symbol)!;
    // Binance sends more fields, all numbers as strings; the client must ignore the extras.
    return { symbol, priceChange: '0', priceChangePercent: t.change, lastPrice: t.price, volume: '1000.00000000', openTime: STANDIN_CLOSE_TIME - 86_400_000, closeTime: STANDIN_CLOSE_TIME, count: 42 };
  };

  const route = (res: ServerResponse, url: URL, symbols: string[] | undefined) => {
    if (url.pathname !== '/api/v3/ticker/24hr') return send(res, 404, '');
    if (!symbols) return send(res, 400, JSON.stringify({ code: -1102, msg: 'Mandatory parameter was not sent.' }));
    if (symbols.some((s) => !listed.has(s))) return send(res, 400, JSON.stringify({ code: -1121, msg: 'Invalid symbol.' }));
    const single = url.searchParams.has('symbol');
    return send(res, 200, JSON.stringify(single ? ticker(symbols[0]!) : symbols.map(ticker)));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let symbols: string[] | undefined;
    try {
      const many = url.searchParams.get('symbols');
      const one = url.searchParams.get('symbol');
      symbols = many !== null ? (JSON.parse(many) as string[]) : one !== null ? [one] : undefined;
    } catch {
      return send(res, 400, JSON.stringify({ code: -1100, msg: 'Illegal characters found in parameter symbols.' }));
    }
    requests.push({ path: url.pathname, symbols: symbols ?? [] });
    const scripted = queue.shift();
    const answer = () => {
      if (!scripted || (scripted.status === undefined && scripted.body === undefined)) return route(res, url, symbols);
      const status = scripted.status ?? 200;
      const body = scripted.body ?? JSON.stringify(status === 429 ? { code: -1003, msg: 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.' } : { code: -1000, msg: 'An unknown error occurred while processing the request.' });
      send(res, status, body, scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : {});
    };
    if (scripted?.delayMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, scripted.delayMs);
      timers.add(timer);
    } else {
      answer();
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setPrice: (symbol, price, change = '0.000') => void listed.set(symbol, { price, change }),
    delist: (symbol) => void listed.delete(symbol),
    script: (...responses) => void queue.push(...responses),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
