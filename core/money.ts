/**
 * Exact decimal money. The ledger never touches JavaScript floating point: every balance, quantity
 * and price is a decimal.js value in memory and a decimal string at rest.
 */
import Decimal from 'decimal.js';

/** A private Decimal constructor so nothing else in the process can change our precision or rounding. */
export const Dec = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -30, toExpPos: 40 });
export type Dec = InstanceType<typeof Dec>;

/** Cash is kept in cents of the base currency. */
export const CASH_DECIMALS = 2;
/** Coin quantities are kept to 8 decimal places (a satoshi for bitcoin). */
export const QUANTITY_DECIMALS = 8;

export const ZERO = new Dec(0);

export function dec(value: Dec | string | number): Dec {
  return value instanceof Dec ? value : new Dec(value);
}

/** Rounds cash half-up to cents. */
export function cash(value: Dec): Dec {
  return value.toDecimalPlaces(CASH_DECIMALS, Dec.ROUND_HALF_UP);
}

/** Rounds a quantity down, so a purchase never costs more than the cash given for it. */
export function quantityDown(value: Dec): Dec {
  return value.toDecimalPlaces(QUANTITY_DECIMALS, Dec.ROUND_DOWN);
}

/** Canonical string form for storage: no exponent, no trailing zeros. */
export function toStored(value: Dec): string {
  return value.toFixed();
}

export function decimalPlaces(text: string): number {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** Groups thousands and fixes the number of decimals: 12345.5 -> "12,345.50". */
export function groupDigits(value: Dec, decimals: number): string {
  const fixed = value.toFixed(decimals, Dec.ROUND_HALF_UP);
  const negative = fixed.startsWith('-');
  const [whole = '0', fraction] = (negative ? fixed.slice(1) : fixed).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''}`;
}

/**
 * Enough decimals to show a price meaningfully: two for prices of a dollar or more, up to eight
 * significant places for sub-cent coins.
 */
export function priceDecimals(value: Dec): number {
  const abs = value.abs();
  if (abs.isZero() || abs.gte(1)) return 2;
  // Leading zeros after the point plus four significant digits.
  const leadingZeros = -Math.floor(Math.log10(abs.toNumber())) - 1;
  return Math.min(12, Math.max(2, leadingZeros + 4));
}

/** Quantities without trailing zeros: "0.5", "1.23456789". */
export function formatQuantity(value: Dec): string {
  const q = value.toDecimalPlaces(QUANTITY_DECIMALS, Dec.ROUND_DOWN);
  const [whole = '0', fraction] = q.toFixed().split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction ? `${grouped}.${fraction}` : grouped;
}

/** "+1.25%", "-0.40%", and "0.00%" for a change that rounds to nothing (never "-0.00%"). */
export function formatPercent(value: Dec): string {
  const rounded = value.toDecimalPlaces(2, Dec.ROUND_HALF_UP);
  if (rounded.isZero()) return '0.00%';
  return `${rounded.gt(0) ? '+' : ''}${rounded.toFixed(2)}%`;
}
