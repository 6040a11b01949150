/** Turns base-currency decimals into what a user reads, in their display currency. */
import { FIAT_CURRENCIES, type FiatCode } from './currencies';
import { Dec, dec, groupDigits, priceDecimals } from './money';
import type { FiatRates } from './ports';

export interface MoneyView {
  currency: FiatCode;
  rate: Dec;
}

/** The user's currency and its rate; falls back to USD when no rate is known yet. */
export function moneyView(currency: FiatCode, rates: FiatRates): MoneyView {
  const rate = rates.rates[currency];
  return rate ? { currency, rate: dec(rate) } : { currency: 'usd', rate: new Dec(1) };
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

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
