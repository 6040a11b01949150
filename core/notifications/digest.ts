/**
 * The daily digest (/settings digest on): at the local hour a user picked, one message with their
 * portfolio's value at current prices, the day's change, cash, and the alerts that fired in the
 * last 24 hours, to their direct chats and by email (see userDestinations).
 *
 * The scheduler runs this several times an hour on every instance. A digest is due while the
 * user's local hour (Intl, in their time zone, so daylight-saving changes move it with the wall
 * clock) is the one they picked, and is claimed once per user and local date in the store
 * (claimOnce `digest:<username>:<yyyy-mm-dd>`), so however many runs or instances see it due,
 * one digest is queued. When a spring-forward change skips the hour, it comes in the hour after.
 */
import { describeCondition } from '../alerts/describe';
import type { Services } from '../context';
import type { Account, Coin, OutboxMessage, Portfolio, PriceAlert } from '../domain';
import { formatMoney, formatTime, moneyView, wallClock, type MoneyView } from '../format';
import { renderPlainText, reply, trendOf, type RichMessage } from '../messages';
import { Dec, ZERO, dec, formatPercent } from '../money';
import { userDestinations } from './destinations';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const PAGE = 100;

/** The local date and hour of an instant in a zone (UTC when the zone is absent or unknown). */
export function localDateHour(ms: number, timeZone?: string): { date: string; hour: number } {
  const wall = (timeZone === undefined ? undefined : wallClock(ms, timeZone)) ?? ms;
  const iso = new Date(wall).toISOString();
  return { date: iso.slice(0, 10), hour: Number(iso.slice(11, 13)) };
}

/** Whether `hour` is the user's digest hour at `now`: it is, or the clock just jumped over it. */
export function isDigestHour(now: number, timeZone: string | undefined, hour: number): boolean {
  const current = localDateHour(now, timeZone);
  if (current.hour === hour) return true;
  const before = localDateHour(now - HOUR_MS, timeZone);
  return before.date === current.date && before.hour < hour && hour < current.hour;
}

/** Queues the digests due at `now`; returns how many messages were queued. */
export async function runDigest(services: Services, now: number): Promise<number> {
  const { store, logger } = services;
  let queued = 0;
  let cursor: string | undefined;
  do {
    const page = await store.listAccounts({ limit: PAGE, cursor });
    for (const account of page.items) {
      if (account.digestHour === undefined || account.digestHour === null) continue;
      if (!isDigestHour(now, account.timezone, account.digestHour)) continue;
      try {
        queued += await digestFor(services, account, now);
      } catch (error) {
        // One account's failure (its claim is given back) does not cost the others their digest.
        logger.error({ username: account.username, err: error instanceof Error ? error.message : String(error) }, 'digest failed');
      }
    }
    cursor = page.next;
  } while (cursor);
  return queued;
}

async function digestFor(services: Services, account: Account, now: number): Promise<number> {
  const { store, notifier } = services;
  const { date } = localDateHour(now, account.timezone);
  const claim = `digest:${account.username}:${date}`;
  if (!(await store.claimOnce(claim, now + 2 * DAY_MS))) return 0;
  try {
    const [portfolio, identities, alerts, coins] = await Promise.all([
      store.getPortfolio(account.username), store.listIdentities(account.username), store.listAlerts(account.username), services.coins.list(),
    ]);
    const destinations = userDestinations(account, identities, { emailEnabled: notifier.enabled, kind: 'digest' });
    if (!portfolio || !destinations.length) return 0;
    const message = digestMessage(services, account, portfolio, alerts, coins, now, date);
    const base = { username: account.username, kind: 'digest' as const, createdAt: now, dueAt: now, attempts: 0, status: 'pending' as const };
    const messages: OutboxMessage[] = destinations.map((destination) => ({
      ...base,
      id: `digest:${account.username}:${date}:${destination}`,
      destination,
      ...(destination.startsWith('email:')
        ? { email: { subject: `CryptoPulse daily digest, ${date}`, body: `${renderPlainText(message)}\nThis is paper trading with virtual money.` } }
        : { message }),
    }));
    await store.enqueueMessages(messages);
    return messages.length;
  } catch (error) {
    await store.releaseOnce(claim);
    throw error;
  }
}

/** The digest itself: exact decimals throughout (core/money), shown in the user's currency and zone. */
export function digestMessage(
  services: Services, account: Account, portfolio: Portfolio, alerts: PriceAlert[], coins: Coin[], now: number, date: string,
): RichMessage {
  const view = moneyView(account.currency, services.prices.fiatRates(), account.timezone);
  const symbols = new Map(coins.map((c) => [c.id, c.symbol.toUpperCase()]));
  let holdings = ZERO;
  let change = ZERO;
  const unpriced: string[] = [];
  for (const h of Object.values(portfolio.holdings)) {
    const quote = services.prices.quote(h.coinId);
    if (!quote) {
      unpriced.push(symbols.get(h.coinId) ?? h.coinId);
      continue;
    }
    const value = dec(h.quantity).mul(quote.price);
    holdings = holdings.plus(value);
    // The quote's 24 h change p means value = before × (1 + p/100), so value - before = value × p / (100 + p).
    if (quote.change24hPercent !== null) {
      const p = dec(quote.change24hPercent);
      if (!p.eq(-100)) change = change.plus(value.mul(p).div(p.plus(100)));
    }
  }
  const total = dec(portfolio.cash).plus(holdings);
  const before = total.minus(change);
  const percent = before.isZero() ? '' : ` (${formatPercent(change.div(before).mul(100))})`;
  const fired = alerts
    .filter((a) => a.firedAt !== undefined && a.firedAt > now - DAY_MS && a.firedAt <= now)
    .sort((a, b) => a.firedAt! - b.firedAt!);
  const firedRows = fired.map((a) => [`${symbols.get(a.coinId) ?? a.coinId} ${describeCondition(a, view)}`, formatTime(a.firedAt!, account.timezone)]);
  return reply('info', {
    title: `📊 Your daily digest, ${date}`,
    trend: trendOf(change),
    fields: [
      { label: 'Portfolio value', value: formatMoney(total, view) },
      { label: "Day's change", value: `${signedMoney(change, view)}${percent}` },
      { label: 'Cash', value: formatMoney(portfolio.cash, view) },
      { label: 'Alerts fired (24 h)', value: fired.length ? String(fired.length) : 'none' },
    ],
    table: firedRows.length ? { columns: ['Alert fired', 'When'], rows: firedRows } : undefined,
    footer: [
      unpriced.length ? `No price yet for ${unpriced.join(', ')}: not counted.` : '',
      `Valued at prices from ${formatTime(now, account.timezone)}. Turn it off with /settings digest off.`,
    ].filter(Boolean).join(' '),
  });
}

function signedMoney(amount: Dec, view: MoneyView): string {
  const text = formatMoney(amount, view);
  // formatMoney shows a loss under a cent as $0.00, which needs no sign either way.
  return text.startsWith('-') || !/[1-9]/.test(text) ? text : `+${text}`;
}
