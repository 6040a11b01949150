/** Small helpers handlers share: the caller's money view, paging, the simulated-price notice. */
import type { CommandContext } from './context';
import type { Account, Coin, Quote } from './domain';
import { UserError } from './errors';
import { formatAge, formatPrice, formatTime, moneyView, type MoneyView } from './format';
import type { Button, Table } from './messages';
import { dec, formatPercent } from './money';
import type { Page, PageRequest } from './ports';

/** The caller's currency and time zone: how every amount and time in a reply is shown. */
export function viewOf(ctx: CommandContext): MoneyView {
  return moneyView(ctx.account?.currency ?? 'usd', ctx.services.prices.fiatRates(), ctx.account?.timezone);
}

/** The caller's time zone (undefined: UTC), for formatTime. */
export function timeZoneOf(ctx: CommandContext): string | undefined {
  return ctx.account?.timezone;
}

/** A time as the caller reads it: in their zone. */
export function timeFor(ctx: CommandContext, ms: number): string {
  return formatTime(ms, timeZoneOf(ctx));
}

export function requireAccount(ctx: CommandContext): Account {
  if (!ctx.account) throw new UserError('You have no account yet: /signup <username> <email>, or /link <code> from a chat where you have one.');
  return ctx.account;
}

/** Said on every reply that shows a price while the feed is simulated, or while a fallback
 *  source stands in for the usual one (price failover). */
export function priceFooter(ctx: CommandContext): string | undefined {
  if (ctx.services.prices.simulated) return 'Prices are simulated (CoinGecko is not in use): nothing here is a live market price.';
  const { active, standingInFor } = ctx.services.prices.source();
  if (!standingInFor) return undefined;
  return `${standingInFor.source} has been unavailable since ${timeFor(ctx, standingInFor.since)}: prices marked (${active}) come from ${active}, in USDT (about one US dollar).`;
}

/** The source a quote is marked with: its own when it is not the feed's usual one. */
function unusualSource(ctx: CommandContext, quote: Quote): string | undefined {
  if (!quote.source || quote.simulated) return undefined;
  const status = ctx.services.prices.source();
  const usual = status.standingInFor?.source ?? status.active;
  return quote.source === usual ? undefined : quote.source;
}

/** The columns of a table of latest quotes (/price, /watchlist), one row per coin (quoteRow). */
export const QUOTE_COLUMNS: Pick<Table, 'columns' | 'align'> = { columns: ['Coin', 'Price', '24h', 'Updated'], align: ['left', 'right', 'right', 'right'] };

/** The price cell: "$87,000.00", marked when simulated or from a fallback source ("(Binance)"). */
export function priceCell(ctx: CommandContext, quote: Quote): string {
  const source = unusualSource(ctx, quote);
  return formatPrice(quote.price, viewOf(ctx)) + (quote.simulated ? ' (simulated)' : source ? ` (${source})` : '');
}

export function changeCell(quote: Quote): string {
  return quote.change24hPercent === null ? 'n/a' : formatPercent(dec(quote.change24hPercent));
}

/** A coin's latest quote as a row of QUOTE_COLUMNS: price, 24 h change and how old the quote
 *  is; "no price yet" before the first one. */
export function quoteRow(ctx: CommandContext, coin: Coin, now: number): string[] {
  const label = `${coin.symbol.toUpperCase()} ${coin.name}`;
  const quote = ctx.services.prices.quote(coin.id);
  return quote ? [label, priceCell(ctx, quote), changeCell(quote), formatAge(now - quote.receivedAt)] : [label, 'no price yet', '', ''];
}

export const PAGE_SIZE = 10;

/**
 * Page `n` (1-based) of a cursor-paged list. Stores page by cursor, not offset (DynamoDB cannot
 * skip), so deeper pages walk the cursors; lists are bounded by their retention and this is rare.
 */
export async function pageAt<T>(fetch: (request: PageRequest) => Promise<Page<T>>, n: number, size = PAGE_SIZE): Promise<{ items: T[]; hasNext: boolean }> {
  let cursor: string | undefined;
  for (let i = 1; i < n; i++) {
    const skipped = await fetch({ limit: size, cursor });
    if (!skipped.next) return { items: [], hasNext: false };
    cursor = skipped.next;
  }
  const page = await fetch({ limit: size, cursor });
  return { items: page.items, hasNext: Boolean(page.next) };
}

/** Previous / Next buttons that re-run the command with another page number. */
export function pageButtons(command: (page: number) => string, n: number, hasNext: boolean): Button[] {
  const buttons: Button[] = [];
  if (n > 1) buttons.push({ label: '« Previous', command: command(n - 1) });
  if (hasNext) buttons.push({ label: 'Next »', command: command(n + 1) });
  return buttons;
}
