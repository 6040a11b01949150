/**
 * A small client for Binance's public market-data API, the fallback price source when CoinGecko
 * fails (infra/prices/failover-feed.ts). No key: https://data-api.binance.vision serves the same
 * market-data routes as api.binance.com and nothing else.
 *
 * One route: GET /api/v3/ticker/24hr?symbols=["BTCUSDT","ETHUSDT"]. Binance sends prices as decimal
 * strings, so they stay exact. Binance rejects the whole request (HTTP 400, code -1121 "Invalid
 * symbol.") when one symbol in the list has no market; then we ask symbol by symbol once, remember
 * the ones it does not list (for an hour) and leave them out of later batches.
 *
 * Every request has its own timeout; network errors, timeouts and 5xx are retried with backoff;
 * 429 (rate limited) and 418 (IP banned for ignoring 429s) honour Retry-After and are never
 * retried early: while Retry-After runs, the client does not call at all.
 */
import { z } from 'zod';
import { Dec } from '../../core/money';
import type { Clock, Logger } from '../../core/ports';
import { backoffDelay } from '../support/backoff';
import { retryAfterMs } from '../support/retry-after';

export const BINANCE_DATA_URL = 'https://data-api.binance.vision';

export interface ExchangeTicker {
  /** Binance's symbol, "BTCUSDT". */
  symbol: string;
  /** Last trade price in the quote asset (USDT), exact decimal. */
  price: string;
  /** 24 h change in percent, exact decimal. */
  change24hPercent: string;
  /** When the 24 h window closed (ms since epoch): the ticker's time. */
  closeTime: number;
}

export type ExchangeErrorKind = 'rate_limited' | 'unavailable' | 'bad_response' | 'timeout';

export class ExchangeError extends Error {
  constructor(
    readonly kind: ExchangeErrorKind,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExchangeError';
  }
}

export interface ExchangeClientOptions {
  /** Default BINANCE_DATA_URL. */
  baseUrl?: string;
  /** Per attempt, headers and body. Default 5000: the fallback must not hold the poll up long. */
  timeoutMs?: number;
  /** Retries after the first attempt (network errors, timeouts, 5xx). Default 1. */
  maxRetries?: number;
  /** First backoff step. Default 500. */
  baseDelayMs?: number;
  /** How long a symbol Binance said it does not list stays left out. Default one hour. */
  unlistedTtlMs?: number;
  /** Binance allows 100 symbols per ticker request. */
  batchSize?: number;
  clock?: Clock;
  /** Injectable so tests do not wait for real. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger?: Logger;
}

/** Binance's ticker, only the fields we use (numbers come as strings). */
const decimalText = z.string().regex(/^-?\d+(\.\d+)?$/, 'a decimal number');
const tickerSchema = z.object({
  symbol: z.string().min(1),
  lastPrice: decimalText,
  priceChangePercent: decimalText,
  closeTime: z.number().int(),
});
const tickersSchema = z.array(tickerSchema);
const errorSchema = z.object({ code: z.number(), msg: z.string() });

/** Binance's "Invalid symbol." */
const INVALID_SYMBOL = -1121;

type Answer = { ok: true; body: unknown } | { ok: false; status: number; code?: number; message: string; retryAfterMs?: number };

export class ExchangeClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly unlistedTtlMs: number;
  private readonly batchSize: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  /** Symbols Binance answered -1121 for, until when they stay left out. */
  private readonly unlisted = new Map<string, number>();
  /** While Binance's Retry-After runs, calls fail at once without asking (asking again earns a ban). */
  private blockedUntil = 0;

  constructor(options: ExchangeClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? BINANCE_DATA_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxRetries = options.maxRetries ?? 1;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.unlistedTtlMs = options.unlistedTtlMs ?? 60 * 60 * 1000;
    this.batchSize = options.batchSize ?? 100;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
  }

  /**
   * The 24 h tickers of `symbols` (upper-case, "BTCUSDT"), keyed by symbol. Symbols Binance does
   * not list are absent. Rejects with ExchangeError when Binance cannot be asked.
   */
  async tickers(symbols: string[]): Promise<Map<string, ExchangeTicker>> {
    const now = this.clock.now();
    const wanted = [...new Set(symbols.map((s) => s.trim().toUpperCase()).filter(Boolean))].filter((s) => (this.unlisted.get(s) ?? 0) <= now);
    const result = new Map<string, ExchangeTicker>();
    for (let i = 0; i < wanted.length; i += this.batchSize) {
      for (const ticker of await this.batch(wanted.slice(i, i + this.batchSize))) result.set(ticker.symbol, ticker);
    }
    return result;
  }

  /** Symbols Binance said it does not list (left out until their hour is up). */
  unlistedSymbols(): string[] {
    const now = this.clock.now();
    return [...this.unlisted].filter(([, until]) => until > now).map(([s]) => s).sort();
  }

  // -------------------------------------------------------------------------------------------

  private async batch(symbols: string[]): Promise<ExchangeTicker[]> {
    if (symbols.length === 0) return [];
    const answer = await this.get(`/api/v3/ticker/24hr?symbols=${encodeURIComponent(JSON.stringify(symbols))}`);
    if (answer.ok) return this.parse(answer.body, '/api/v3/ticker/24hr');
    if (answer.code !== INVALID_SYMBOL) throw this.failure(answer);
    // One symbol spoiled the batch and Binance does not say which: ask each once, remember the bad.
    const tickers: ExchangeTicker[] = [];
    for (const symbol of symbols) {
      const single = await this.get(`/api/v3/ticker/24hr?symbol=${encodeURIComponent(symbol)}`);
      if (single.ok) {
        tickers.push(...this.parse([single.body], '/api/v3/ticker/24hr'));
      } else if (single.code === INVALID_SYMBOL) {
        this.unlisted.set(symbol, this.clock.now() + this.unlistedTtlMs);
        this.logger?.info({ symbol }, 'Binance does not list this symbol; the coin has no fallback price');
      } else {
        throw this.failure(single);
      }
    }
    return tickers;
  }

  private parse(body: unknown, path: string): ExchangeTicker[] {
    const parsed = tickersSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ExchangeError('bad_response', `Binance ${path}: unexpected response shape at ${issue?.path.join('.') || 'top'}: ${issue?.message ?? ''}`);
    }
    return parsed.data
      // A zero last price means no trades in the window: no price, not a free coin.
      .filter((t) => new Dec(t.lastPrice).gt(0))
      .map((t) => ({ symbol: t.symbol, price: new Dec(t.lastPrice).toFixed(), change24hPercent: new Dec(t.priceChangePercent).toFixed(), closeTime: t.closeTime }));
  }

  private failure(answer: Extract<Answer, { ok: false }>): ExchangeError {
    const kind: ExchangeErrorKind = answer.status === 429 || answer.status === 418 ? 'rate_limited' : answer.status >= 500 ? 'unavailable' : 'bad_response';
    return new ExchangeError(kind, answer.message, answer.status);
  }

  /** GET with retries for network errors, timeouts and 5xx; 4xx answers come back as they are. */
  private async get(pathAndQuery: string): Promise<Answer> {
    const path = pathAndQuery.split('?')[0]!;
    for (let attempt = 0; ; attempt++) {
      const waitLeft = this.blockedUntil - this.clock.now();
      if (waitLeft > 0) {
        throw new ExchangeError('rate_limited', `Binance ${path}: rate limited; not asking again for ${Math.ceil(waitLeft / 1000)} s`, 429);
      }
      let error: ExchangeError;
      try {
        const response = await fetch(`${this.baseUrl}${pathAndQuery}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
        const text = await response.text();
        const status = response.status;
        if (status >= 200 && status < 300) {
          try {
            return { ok: true, body: JSON.parse(text) as unknown };
          } catch (cause) {
            throw new ExchangeError('bad_response', `Binance ${path}: response is not valid JSON`, status, { cause });
          }
        }
        const parsed = errorSchema.safeParse(safeJson(text));
        const detail = parsed.success ? `${parsed.data.msg} (code ${parsed.data.code})` : text.slice(0, 100).replace(/\s+/g, ' ').trim();
        const message = `Binance ${path}: HTTP ${status}: ${detail}`;
        if (status === 429 || status === 418) {
          // Binance bans IPs that keep asking after a 429 (the 418); Retry-After says how long.
          const waitMs = retryAfterMs(response.headers.get('retry-after'), this.clock.now()) ?? 60_000;
          this.blockedUntil = this.clock.now() + waitMs;
          return { ok: false, status, message, retryAfterMs: waitMs };
        }
        if (status < 500) return { ok: false, status, code: parsed.success ? parsed.data.code : undefined, message };
        error = new ExchangeError('unavailable', message, status);
      } catch (caught) {
        if (caught instanceof ExchangeError) throw caught;
        const timedOut = caught instanceof Error && (caught.name === 'TimeoutError' || caught.name === 'AbortError');
        error = timedOut
          ? new ExchangeError('timeout', `Binance ${path}: no answer within ${this.timeoutMs} ms`, undefined, { cause: caught })
          : new ExchangeError('unavailable', `Binance ${path}: network error: ${caught instanceof Error ? caught.message : String(caught)}`, undefined, { cause: caught });
      }
      if (attempt >= this.maxRetries) throw error;
      await this.sleep(backoffDelay(attempt, { baseMs: this.baseDelayMs, maxMs: 10_000, jitter: 'equal' }, this.random));
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
