/**
 * One budget of upstream calls per minute, shared by every bot instance on the same store.
 *
 * CoinGecko limits a key (or, keyless, an IP) per minute, not per process: two instances that each
 * kept "30 a minute" in memory would together send 60 and be answered 429, prices included. So the
 * count lives in the store, taken atomically with Store.recordAttempt under a key per fixed minute
 * (`upstream:coingecko:<minute>`): a new minute is a new key, and the old one expires on its own.
 *
 * Price polling must never starve behind a crowd asking for charts, so the budget has two shares:
 *
 * - Polls may use the whole budget (N per minute), minus whatever on-demand calls already used.
 * - On-demand calls (charts, the global market, trending, coin lookups) stop at N - reserve.
 *
 * The reserve is what polling needs in a minute: one poll per PRICE_POLL_SECONDS (60 / 30 = 2 with
 * the defaults), doubled so that each poll can also retry once within the minute, and never more
 * than N - 1 so on-demand calls always get at least one. With the defaults (N = 30, a poll every
 * 30 s) that is 4 for polling and 26 for everyone else.
 *
 * The two shares are counted under two keys. Each take first counts itself on its own key, then
 * reads the other's: of two racing takes at least one sees the other, so together they never pass
 * N. A refused take is still counted (recordAttempt cannot give one back), which only makes the
 * budget more careful for the rest of that minute, never less.
 */
import type { Clock, Logger, Store } from '../../core/ports';

export type BudgetKind = 'poll' | 'demand';

/** What the CoinGecko client asks before every HTTP attempt. */
export interface RequestBudget {
  /** True when the call may go out now; false when this minute's share is used up. */
  take(kind: BudgetKind): Promise<boolean>;
}

export interface StoreRequestBudgetOptions {
  store: Pick<Store, 'recordAttempt' | 'getAttempts'>;
  clock: Clock;
  /** N: upstream calls per minute across every instance (COINGECKO_CALLS_PER_MINUTE). */
  callsPerMinute: number;
  /** How often the price job polls (PRICE_POLL_SECONDS). */
  pollSeconds: number;
  logger?: Logger;
  /** Names the upstream in the store keys. Default 'coingecko'. */
  name?: string;
}

const MINUTE_MS = 60_000;

/** Polls in one minute: 2 for every 30 s, 1 for a minute or longer. */
export function pollsPerMinute(pollSeconds: number): number {
  return Math.max(1, Math.ceil(60 / pollSeconds));
}

/** The share kept for polling (see the header): each poll plus one retry, at most N - 1. */
export function pollReserve(callsPerMinute: number, pollSeconds: number): number {
  return Math.max(0, Math.min(callsPerMinute - 1, 2 * pollsPerMinute(pollSeconds)));
}

export class StoreRequestBudget implements RequestBudget {
  readonly callsPerMinute: number;
  readonly reserve: number;
  /** The most on-demand calls a minute may have: N - reserve. */
  readonly demandLimit: number;
  private readonly store: StoreRequestBudgetOptions['store'];
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly name: string;

  constructor(options: StoreRequestBudgetOptions) {
    if (!Number.isInteger(options.callsPerMinute) || options.callsPerMinute < 1) throw new RangeError('callsPerMinute must be a positive integer');
    this.callsPerMinute = options.callsPerMinute;
    this.reserve = pollReserve(options.callsPerMinute, options.pollSeconds);
    this.demandLimit = this.callsPerMinute - this.reserve;
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
    this.name = options.name ?? 'coingecko';
  }

  async take(kind: BudgetKind): Promise<boolean> {
    const now = this.clock.now();
    const minute = Math.floor(now / MINUTE_MS);
    const own = `upstream:${this.name}:${minute}:${kind}`;
    const other = `upstream:${this.name}:${minute}:${kind === 'poll' ? 'demand' : 'poll'}`;
    try {
      const mine = (await this.store.recordAttempt(own, now, MINUTE_MS)).count;
      if (kind === 'demand' && mine > this.demandLimit) return false;
      const theirs = (await this.store.getAttempts(other, now))?.count ?? 0;
      // Counts include refused takes; on-demand ones can never have used more than their limit.
      const used = kind === 'poll' ? mine + Math.min(theirs, this.demandLimit) : mine + theirs;
      return used <= this.callsPerMinute;
    } catch (error) {
      // Without the store we cannot count. Prices must keep flowing (a poll is a few calls a
      // minute per instance, well inside the plan), but a crowd's charts could exceed the plan and
      // get everyone 429s, prices included: polls go out, on-demand calls wait.
      this.logger?.error({ err: error instanceof Error ? error.message : String(error), kind }, `request budget unavailable; ${kind === 'poll' ? 'polling anyway' : 'refusing an on-demand call'}`);
      return kind === 'poll';
    }
  }
}
