/**
 * A small CoinGecko HTTP client on global fetch.
 *
 * Why hand-rolled rather than an SDK: we need a handful of endpoints, exact decimals (an SDK hands back
 * floats), and full control over retries so one slow upstream cannot stall the shared poller.
 *
 * Every request gets its own timeout; network errors, timeouts and 5xx are retried with exponential
 * backoff and jitter; 429 honours Retry-After; other 4xx fail at once. Every body is validated with
 * zod, so a malformed answer becomes a CoinGeckoError('bad_response') rather than a crash. With a
 * request budget (infra/prices/request-budget.ts) every attempt takes from it first, and a refusal
 * is CoinGeckoError('over_budget'), never retried.
 */
import { z } from 'zod';
import type { Coin } from '../../core/domain';
import { Dec } from '../../core/money';
import type { Clock, Logger } from '../../core/ports';
import { backoffDelay } from '../support/backoff';
import { retryAfterMs } from '../support/retry-after';
import type { BudgetKind, RequestBudget } from './request-budget';

export type CoinGeckoPlan = 'demo' | 'pro';

export const COINGECKO_DEMO_URL = 'https://api.coingecko.com/api/v3';
export const COINGECKO_PRO_URL = 'https://pro-api.coingecko.com/api/v3';

export interface CoinGeckoClientOptions {
  /** Defaults to the public API for 'demo' and the pro API for 'pro'. */
  baseUrl?: string;
  apiKey?: string;
  /** Default 'demo'. Decides the key header and the default base URL. */
  plan?: CoinGeckoPlan;
  /** Per attempt, covering headers and body. Default 10000. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** First backoff step; doubles per retry. Default 500. */
  baseDelayMs?: number;
  /** Cap for one backoff step. Default 30000. */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited out: we give up with 'rate_limited'. Default 60000. */
  maxRetryAfterMs?: number;
  clock?: Clock;
  /** Injectable so tests do not wait for real. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
  logger?: Logger;
  /** Told of every HTTP attempt (each counts against CoinGecko's rate limit), for metrics: kept a
   *  plain callback so this client stays free of any metrics library. */
  onCall?: (call: CoinGeckoCall) => void;
  /** The shared per-minute budget (infra/prices/request-budget.ts); every attempt, retries
   *  included, takes from it first. Absent: no budget (tests, scripts). */
  budget?: RequestBudget;
}

/** One HTTP attempt: its path, 'ok' or why it failed, and how long it took by the client's clock. */
export interface CoinGeckoCall {
  path: string;
  outcome: 'ok' | CoinGeckoErrorKind;
  seconds: number;
}

/** `over_budget`: this minute's share of the request budget is used up; nothing was sent. */
export type CoinGeckoErrorKind = 'rate_limited' | 'unavailable' | 'bad_response' | 'timeout' | 'not_found' | 'over_budget';

export class CoinGeckoError extends Error {
  constructor(
    readonly kind: CoinGeckoErrorKind,
    message: string,
    /** HTTP status of the last answer, when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CoinGeckoError';
  }
}

export interface SimplePriceEntry {
  /** Price per requested currency as an exact decimal string; currencies CoinGecko left out are absent. */
  prices: Record<string, string>;
  /** 24h change in percent, in the first requested currency. */
  change24h: string | null;
  /** When CoinGecko last updated the price, ms since epoch. */
  lastUpdatedAt: number | null;
}

export interface RequestOptions {
  /** Overrides the client's maxRetries for this call (a startup probe should not linger). */
  maxRetries?: number;
  /** Overrides the client's per-attempt timeout for this call. */
  timeoutMs?: number;
  /** Which share of the request budget the call takes: the price poll's, or on-demand (default). */
  kind?: BudgetKind;
}

/** A point of a market chart: ms since epoch and the price, an exact decimal string. */
export interface MarketChartPoint {
  at: number;
  price: string;
}

/** CoinGecko's /global, in one currency. */
export interface GlobalData {
  totalMarketCap: string;
  totalVolume: string;
  marketCapChange24hPercent: string | null;
  /** Percent by lower-case symbol, as CoinGecko lists them. */
  marketCapPercentage: Record<string, string>;
}

export interface TrendingEntry {
  id: string;
  symbol: string;
  name: string;
  marketCapRank: number | null;
}

// ---------------------------------------------------------------------------------------------
// Exact JSON numbers.
//
// JSON.parse turns 0.1 + friends into binary floats, and Node 20 lacks the reviver's
// `context.source`. So before parsing we rewrite every number token outside string literals into a
// marked string, and the reviver turns those back into JsonNumber holding the original digits.
// Invalid JSON stays invalid after the rewrite, so JSON.parse still reports it.

/** A JSON number with its exact source text. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MARK = '\u0000#';

export function parseJsonExact(text: string): unknown {
  const parts: string[] = [];
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      // Skip the string literal, escapes included.
      i++;
      while (i < text.length) {
        const c = text.charCodeAt(i);
        i += c === 0x5c /* \ */ ? 2 : 1;
        if (c === 0x22) break;
      }
    } else if (ch === 0x2d /* - */ || (ch >= 0x30 && ch <= 0x39)) {
      NUMBER_TOKEN.lastIndex = i;
      const match = NUMBER_TOKEN.exec(text);
      if (!match) {
        i++;
        continue;
      }
      parts.push(text.slice(last, i), '"\\u0000#', match[0], '"');
      i += match[0].length;
      last = i;
    } else {
      i++;
    }
  }
  parts.push(text.slice(last));
  return JSON.parse(parts.join(''), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARK) ? new JsonNumber(value.slice(MARK.length)) : value,
  );
}

/** Canonical decimal string for a JSON number: "8.51e-06" -> "0.00000851". */
function exactDecimal(n: JsonNumber): string {
  return new Dec(n.text).toFixed();
}

// ---------------------------------------------------------------------------------------------
// Response shapes (only the fields we use; extra fields are ignored).

const jsonNumber = z.instanceof(JsonNumber);
const simplePriceSchema = z.record(z.string(), z.record(z.string(), z.union([jsonNumber, z.null()])));
const coinsListSchema = z.array(z.object({ id: z.string().min(1), symbol: z.string(), name: z.string() }));
const pingSchema = z.object({ gecko_says: z.string() });
const marketChartSchema = z.object({ prices: z.array(z.tuple([jsonNumber, z.union([jsonNumber, z.null()])])) });
const globalSchema = z.object({
  data: z.object({
    total_market_cap: z.record(z.string(), jsonNumber),
    total_volume: z.record(z.string(), jsonNumber),
    market_cap_percentage: z.record(z.string(), jsonNumber),
    market_cap_change_percentage_24h_usd: z.union([jsonNumber, z.null()]).optional(),
  }),
});
const trendingSchema = z.object({
  coins: z.array(z.object({
    item: z.object({
      id: z.string().min(1),
      symbol: z.string(),
      name: z.string(),
      market_cap_rank: z.union([jsonNumber, z.null()]).optional(),
    }),
  })),
});

/** CoinGecko's error bodies: `{"status":{"error_message":...}}` or `{"error":...}`. */
function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { status?: { error_message?: unknown }; error?: unknown };
    const message = parsed?.status?.error_message ?? parsed?.error;
    if (typeof message === 'string') return message.slice(0, 200);
  } catch {
    // Not JSON (an HTML error page from a proxy, say): fall through.
  }
  return body.slice(0, 100).replace(/\s+/g, ' ').trim();
}

function validate<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
  throw new CoinGeckoError('bad_response', `CoinGecko ${path}: unexpected response shape${where}: ${issue?.message ?? ''}`);
}

function parseOrThrow(parse: (text: string) => unknown, text: string, path: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    throw new CoinGeckoError('bad_response', `CoinGecko ${path}: response is not valid JSON`, undefined, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------

/** What one attempt produced: a body to return, or a failure that may be retried. */
type Attempt =
  | { ok: true; text: string }
  | { ok: false; error: CoinGeckoError; retry: boolean; waitMs?: number };

export class CoinGeckoClient {
  readonly baseUrl: string;
  readonly plan: CoinGeckoPlan;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly onCall: ((call: CoinGeckoCall) => void) | undefined;
  private readonly budget: RequestBudget | undefined;

  constructor(options: CoinGeckoClientOptions = {}) {
    this.plan = options.plan ?? 'demo';
    this.baseUrl = (options.baseUrl ?? (this.plan === 'pro' ? COINGECKO_PRO_URL : COINGECKO_DEMO_URL)).replace(/\/+$/, '');
    this.apiKey = options.apiKey || undefined;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.onCall = options.onCall;
    this.budget = options.budget;
  }

  /** CoinGecko's liveness check; resolves with its greeting. */
  async ping(options?: RequestOptions): Promise<string> {
    const text = await this.get('/ping', {}, options);
    return validate(pingSchema, parseOrThrow(JSON.parse, text, '/ping'), '/ping').gecko_says;
  }

  /**
   * Prices of `ids` in every `vsCurrencies`, as exact decimal strings. Unknown ids are simply
   * absent from the result (CoinGecko omits them). Non-positive prices are dropped: a zero price
   * is CoinGecko's way of saying "no market", and trading at it would be nonsense.
   */
  async simplePrice(ids: string[], vsCurrencies: string[], options?: RequestOptions): Promise<Record<string, SimplePriceEntry>> {
    const coinIds = [...new Set(ids.map((id) => id.trim().toLowerCase()).filter(Boolean))];
    const vs = [...new Set(vsCurrencies.map((c) => c.trim().toLowerCase()).filter(Boolean))];
    if (coinIds.length === 0 || vs.length === 0) return {};

    const path = '/simple/price';
    const text = await this.get(
      path,
      { ids: coinIds, vs_currencies: vs, include_24hr_change: ['true'], include_last_updated_at: ['true'] },
      options,
    );
    const raw = validate(simplePriceSchema, parseOrThrow(parseJsonExact, text, path), path);

    const result: Record<string, SimplePriceEntry> = {};
    for (const [coinId, fields] of Object.entries(raw)) {
      const prices: Record<string, string> = {};
      for (const currency of vs) {
        const value = fields[currency];
        if (value instanceof JsonNumber && new Dec(value.text).gt(0)) prices[currency] = exactDecimal(value);
      }
      const change = fields[`${vs[0]}_24h_change`];
      const updated = fields.last_updated_at;
      result[coinId] = {
        prices,
        change24h: change instanceof JsonNumber ? exactDecimal(change) : null,
        lastUpdatedAt: updated instanceof JsonNumber ? Math.round(Number(updated.text) * 1000) : null,
      };
    }
    return result;
  }

  /** Every coin CoinGecko knows (about 17,000); symbols lower-cased. */
  async coinsList(options?: RequestOptions): Promise<Coin[]> {
    const path = '/coins/list';
    const text = await this.get(path, {}, options);
    return validate(coinsListSchema, parseOrThrow(JSON.parse, text, path), path).map((c) => ({
      id: c.id,
      symbol: c.symbol.toLowerCase(),
      name: c.name,
    }));
  }

  /**
   * A coin's price history over the last `days` days, oldest first, exact decimals (CoinGecko picks
   * the step: 5 minutes for one day, hourly up to 90, daily beyond). Points without a price are
   * dropped. An unknown coin is CoinGecko's 404: CoinGeckoError('not_found').
   */
  async marketChart(coinId: string, days: number, vsCurrency = 'usd', options?: RequestOptions): Promise<MarketChartPoint[]> {
    const path = `/coins/${encodeURIComponent(coinId.trim().toLowerCase())}/market_chart`;
    const text = await this.get(path, { vs_currency: [vsCurrency.toLowerCase()], days: [String(days)] }, options);
    const raw = validate(marketChartSchema, parseOrThrow(parseJsonExact, text, path), path);
    const points: MarketChartPoint[] = [];
    for (const [at, price] of raw.prices) {
      if (price instanceof JsonNumber) points.push({ at: Math.round(Number(at.text)), price: exactDecimal(price) });
    }
    return points;
  }

  /** The whole market (/global) in USD: total market cap, volume, 24 h change and shares. */
  async global(options?: RequestOptions): Promise<GlobalData> {
    const path = '/global';
    const text = await this.get(path, {}, options);
    const { data } = validate(globalSchema, parseOrThrow(parseJsonExact, text, path), path);
    const cap = data.total_market_cap.usd;
    const volume = data.total_volume.usd;
    if (!cap || !volume) throw new CoinGeckoError('bad_response', `CoinGecko ${path}: no USD market cap or volume`);
    const change = data.market_cap_change_percentage_24h_usd;
    return {
      totalMarketCap: exactDecimal(cap),
      totalVolume: exactDecimal(volume),
      marketCapChange24hPercent: change instanceof JsonNumber ? exactDecimal(change) : null,
      marketCapPercentage: Object.fromEntries(Object.entries(data.market_cap_percentage).map(([symbol, share]) => [symbol.toLowerCase(), exactDecimal(share)])),
    };
  }

  /** The coins most searched on CoinGecko in the last 24 hours, in its order. */
  async trending(options?: RequestOptions): Promise<TrendingEntry[]> {
    const path = '/search/trending';
    const text = await this.get(path, {}, options);
    const raw = validate(trendingSchema, parseOrThrow(parseJsonExact, text, path), path);
    return raw.coins.map(({ item }) => ({
      id: item.id,
      symbol: item.symbol.toLowerCase(),
      name: item.name,
      marketCapRank: item.market_cap_rank instanceof JsonNumber ? Number(item.market_cap_rank.text) : null,
    }));
  }

  // -------------------------------------------------------------------------------------------

  /** GET with retries; resolves with the body text of a 2xx answer. */
  private async get(path: string, query: Record<string, string[]>, options?: RequestOptions): Promise<string> {
    const url = this.url(path, query);
    const maxRetries = options?.maxRetries ?? this.maxRetries;
    const kind = options?.kind ?? 'demand';
    for (let attempt = 0; ; attempt++) {
      // Retries take from the budget too: they are calls CoinGecko counts. A refusal is final for
      // this call (waiting out the minute would hold the caller, or the poller, hostage).
      if (this.budget && !(await this.budget.take(kind))) {
        throw new CoinGeckoError('over_budget', `CoinGecko ${path}: this minute's ${kind === 'poll' ? 'request budget' : 'on-demand request budget'} is used up`);
      }
      const began = this.clock.now();
      const outcome = await this.attempt(url, path, options?.timeoutMs ?? this.timeoutMs);
      this.onCall?.({ path, outcome: outcome.ok ? 'ok' : outcome.error.kind, seconds: (this.clock.now() - began) / 1000 });
      if (outcome.ok) return outcome.text;
      const { error } = outcome;
      if (!outcome.retry) throw error;
      if (attempt >= maxRetries) {
        throw new CoinGeckoError(error.kind, `${error.message} (gave up after ${attempt + 1} attempts)`, error.status, { cause: error.cause });
      }
      if (outcome.waitMs !== undefined && outcome.waitMs > this.maxRetryAfterMs) {
        // Waiting that long would hold the shared poller hostage; the next poll tries again.
        throw new CoinGeckoError('rate_limited', `${error.message} (Retry-After ${Math.ceil(outcome.waitMs / 1000)} s is too long to wait)`, error.status);
      }
      const waitMs = outcome.waitMs ?? this.backoff(attempt);
      this.logger?.info({ path, attempt: attempt + 1, kind: error.kind, waitMs }, 'CoinGecko request failed; retrying');
      await this.sleep(waitMs);
    }
  }

  private async attempt(url: string, path: string, timeoutMs: number): Promise<Attempt> {
    let response: Response;
    let text: string;
    try {
      // One signal covers headers and body, so a server that stalls mid-body also times out.
      const signal = AbortSignal.timeout(timeoutMs);
      response = await fetch(url, { headers: this.headers(), signal });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return timedOut
        ? { ok: false, retry: true, error: new CoinGeckoError('timeout', `CoinGecko ${path}: no answer within ${timeoutMs} ms`, undefined, { cause: error }) }
        : { ok: false, retry: true, error: new CoinGeckoError('unavailable', `CoinGecko ${path}: network error: ${describe(error)}`, undefined, { cause: error }) };
    }

    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, text };
    const detail = `CoinGecko ${path}: HTTP ${status}: ${errorMessage(text)}`;
    if (status === 429) {
      const waitMs = retryAfterMs(response.headers.get('retry-after'), this.clock.now());
      return { ok: false, retry: true, waitMs, error: new CoinGeckoError('rate_limited', detail, status) };
    }
    if (status >= 500) return { ok: false, retry: true, error: new CoinGeckoError('unavailable', detail, status) };
    // Other 4xx (a bad key, a bad request) will not get better by asking again.
    if (status === 404) return { ok: false, retry: false, error: new CoinGeckoError('not_found', detail, status) };
    return { ok: false, retry: false, error: new CoinGeckoError('bad_response', detail, status) };
  }

  private url(path: string, query: Record<string, string[]>): string {
    // Commas stay literal between ids, as CoinGecko's own examples write them.
    const qs = Object.entries(query)
      .map(([key, values]) => `${key}=${values.map(encodeURIComponent).join(',')}`)
      .join('&');
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.apiKey) headers[this.plan === 'pro' ? 'x-cg-pro-api-key' : 'x-cg-demo-api-key'] = this.apiKey;
    return headers;
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, { baseMs: this.baseDelayMs, maxMs: this.maxDelayMs, jitter: 'equal' }, this.random);
  }

}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
