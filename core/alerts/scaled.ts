/**
 * Exact fixed-point numbers as scaled BigInts, for the alert matcher: a decimal string is parsed
 * once into an integer count of 10^-18 units, so that a tick compares integers rather than
 * building a decimal object per alert.
 *
 * 18 decimal places hold every threshold exactly (thresholds have at most 12 by construction)
 * and every price the feeds give. A value with more than 18 decimal places is TRUNCATED toward
 * zero to 18: for a price that means a comparison may treat 1.0000000000000000001 as 1.
 */
import { Dec } from '../money';

export const SCALE_DIGITS = 18;
export const ONE = 10n ** BigInt(SCALE_DIGITS);
/** 100 (percent) at scale. */
export const HUNDRED = 100n * ONE;

const PLAIN = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** `text` in units of 10^-18, truncated toward zero beyond 18 decimals; undefined when it is
 *  not a finite decimal number. */
export function parseScaled(text: string): bigint | undefined {
  const match = PLAIN.exec(text.trim());
  if (match) {
    const [, sign, whole = '', fraction = ''] = match;
    if (whole === '' && fraction === '') return undefined;
    const digits = whole + fraction.slice(0, SCALE_DIGITS).padEnd(SCALE_DIGITS, '0');
    const value = BigInt(digits);
    return sign === '-' ? -value : value;
  }
  // Exponent notation ("1.5e-7") is rare here: let decimal.js spell it out.
  try {
    const value = new Dec(text.trim());
    if (!value.isFinite()) return undefined;
    return parseScaled(value.toFixed(SCALE_DIGITS, Dec.ROUND_DOWN));
  } catch {
    return undefined;
  }
}

/** The plain decimal string of a scaled value, without trailing zeros: 5230000000000000000n -> "5.23". */
export function formatScaled(value: bigint): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(SCALE_DIGITS + 1, '0');
  const whole = digits.slice(0, -SCALE_DIGITS);
  const fraction = digits.slice(-SCALE_DIGITS).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Integer division rounding toward negative infinity (BigInt `/` truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
