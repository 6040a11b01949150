/** Turns base-currency decimals into what a user reads, in their display currency. */
import { FIAT_CURRENCIES, type FiatCode } from './currencies';
import { Dec, dec, groupDigits, priceDecimals } from './money';
import type { FiatRates } from './ports';

export interface MoneyView {
  currency: FiatCode;
  rate: Dec;
  /** The reader's IANA time zone, for the times shown beside the money; UTC when absent. */
  timeZone?: string;
}

/** The user's currency and its rate; falls back to USD when no rate is known yet. */
export function moneyView(currency: FiatCode, rates: FiatRates, timeZone?: string): MoneyView {
  const rate = rates.rates[currency];
  const zone = timeZone ? { timeZone } : {};
  return rate ? { currency, rate: dec(rate), ...zone } : { currency: 'usd', rate: new Dec(1), ...zone };
}

function symbolAnd(view: MoneyView, value: Dec, decimals: number): string {
  const { symbol } = FIAT_CURRENCIES[view.currency];
  const rounded = value.toDecimalPlaces(decimals, Dec.ROUND_HALF_UP);
  // Round first, so a loss smaller than a cent reads $0.00, not -$0.00.
  const sign = rounded.isNegative() && !rounded.isZero() ? '-' : '';
  return `${sign}${symbol}${groupDigits(rounded.abs(), decimals)}`;
}

/** Cash amounts: 2 decimals (0 for yen and won). */
export function formatMoney(usd: Dec | string, view: MoneyView): string {
  return symbolAnd(view, dec(usd).mul(view.rate), FIAT_CURRENCIES[view.currency].decimals);
}

/** Prices: enough decimals to be meaningful for sub-cent coins. */
export function formatPrice(usd: Dec | string, view: MoneyView): string {
  const value = dec(usd).mul(view.rate);
  return symbolAnd(view, value, Math.max(FIAT_CURRENCIES[view.currency].decimals, priceDecimals(value)));
}

/** Converts an amount the user typed in their currency back into the base currency. */
export function toBase(amount: Dec, view: MoneyView): Dec {
  return amount.div(view.rate);
}

export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}

/** How long to wait, rounded up: never tells someone to try again a moment too early. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes <= 60) return `${minutes} min`;
  return `${Math.ceil(minutes / 60)} h`;
}

/** One formatter per zone: building an Intl.DateTimeFormat is far slower than using one. */
const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = zoneFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    zoneFormatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The canonical name of an IANA time zone ("europe/athens" → "Europe/Athens", "utc" → "UTC"),
 *  or undefined when Intl does not know it. */
export function canonicalTimeZone(name: string): string | undefined {
  // Only zone names: Intl would also take offsets ("+02:00"), which do not follow summer time.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** "UTC", "UTC+2", "UTC-4", "UTC+5:30". */
function offsetLabel(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'UTC';
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  const minutes = abs % 60;
  return `UTC${sign}${Math.floor(abs / 60)}${minutes ? `:${String(minutes).padStart(2, '0')}` : ''}`;
}

/**
 * "2026-11-25 14:00 UTC+2": the wall-clock time in the reader's zone, with the zone's offset at
 * that instant (so the same zone reads UTC+3 in summer and UTC+2 in winter, and nobody has to
 * know what "EET" means). Without a zone, or in UTC, it is UTC as before.
 */
export function formatTime(ms: number, timeZone?: string): string {
  const utc = new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
  if (!timeZone || timeZone === 'UTC') return `${utc} UTC`;
  const wall = wallClock(ms, timeZone);
  // A zone this runtime does not know (saved by a newer one): UTC is still right.
  if (wall === undefined) return `${utc} UTC`;
  // The wall clock read as if it were UTC, minus the instant, is the zone's offset then.
  const offsetMinutes = Math.round((wall - (ms - (ms % 1000))) / 60_000);
  const local = new Date(wall).toISOString().replace('T', ' ').slice(0, 16);
  return `${local} ${offsetLabel(offsetMinutes)}`;
}

/**
 * The wall-clock reading of an instant in a zone, to the second, as a timestamp whose UTC fields
 * (toISOString, getUTCHours) are that reading; undefined when this runtime does not know the zone.
 */
export function wallClock(ms: number, timeZone: string): number | undefined {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = formatterFor(timeZone).formatToParts(ms);
  } catch {
    return undefined;
  }
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
}

/** "30m", "1h", "12h", "7d": the largest unit that divides the duration (how durations are typed). */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}
