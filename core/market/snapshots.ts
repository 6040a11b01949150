/**
 * Daily portfolio snapshots: each user account's portfolio value (cash plus holdings at the latest
 * quotes, exact decimals in the base currency) for a UTC day, which /chart portfolio draws and
 * /leaderboard compares with. The scheduler records them once a day (src/jobs.ts); recording a
 * day again replaces that day's values.
 */
import type { Services } from '../context';
import type { Portfolio, PortfolioSnapshot } from '../domain';
import { type Dec, dec, toStored } from '../money';
import type { PriceFeed } from '../ports';

/** Accounts read, and snapshots written, this many at a time. */
const PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day of an instant, as snapshots are keyed: "2026-11-25". */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day `days` before the day of `ms`. */
export function daysBefore(ms: number, days: number): string {
  return utcDay(ms - days * DAY_MS);
}

/**
 * Cash plus every holding at its latest quote. A coin with no quote at all (a coin no longer
 * tracked, or the feed not yet answered) counts at its cost basis, which is what the user paid,
 * rather than as nothing: a missing price must not look like a crash. `unpriced` names those.
 */
export function portfolioValue(portfolio: Portfolio, prices: Pick<PriceFeed, 'quote'>): { value: Dec; unpriced: string[] } {
  let value = dec(portfolio.cash);
  const unpriced: string[] = [];
  for (const h of Object.values(portfolio.holdings)) {
    const quote = prices.quote(h.coinId);
    if (quote) value = value.plus(dec(h.quantity).mul(quote.price));
    else {
      value = value.plus(h.costBasis);
      unpriced.push(h.coinId);
    }
  }
  return { value, unpriced };
}

/** Records every user account's snapshot for the UTC day of `now`; returns how many. */
export async function recordSnapshots(services: Services, now: number): Promise<number> {
  const { store, prices, logger } = services;
  const day = utcDay(now);
  let saved = 0;
  let cursor: string | undefined;
  do {
    const page = await store.listAccounts({ limit: PAGE, cursor });
    // Staff accounts do not trade: they have nothing to chart or rank.
    const users = page.items.filter((a) => a.role === 'user');
    const portfolios = await Promise.all(users.map((a) => store.getPortfolio(a.username)));
    const batch: PortfolioSnapshot[] = [];
    for (const portfolio of portfolios) {
      if (!portfolio) continue;
      const { value, unpriced } = portfolioValue(portfolio, prices);
      if (unpriced.length) logger.warn({ username: portfolio.username, unpriced }, 'snapshot: no price, valued at cost basis');
      batch.push({ username: portfolio.username, day, value: toStored(value), at: now });
    }
    await store.savePortfolioSnapshots(batch);
    saved += batch.length;
    cursor = page.next;
  } while (cursor);
  return saved;
}

/**
 * The scheduler's run: records today's snapshots unless they are recorded already (claimed once
 * per UTC day in the store, so that a restart, or several instances, record them once). Returns
 * how many were recorded; 0 when another run had. A failed run gives its claim back.
 */
export async function recordDailySnapshots(services: Services, now: number): Promise<number> {
  const claim = `snapshots:${utcDay(now)}`;
  if (!(await services.store.claimOnce(claim, now + 2 * DAY_MS))) return 0;
  try {
    return await recordSnapshots(services, now);
  } catch (error) {
    await services.store.releaseOnce(claim);
    throw error;
  }
}

