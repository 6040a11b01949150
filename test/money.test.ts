/** How amounts read: rounding, grouping, currencies, and no negative zero. */
import { describe, expect, it } from 'vitest';
import { formatMoney, formatPrice, moneyView } from '../core/format';
import { Dec, formatPercent, formatQuantity } from '../core/money';

const usd = moneyView('usd', { rates: { usd: '1' }, simulated: false });
const jpy = moneyView('jpy', { rates: { jpy: '156.4' }, simulated: false });

describe('money formatting', () => {
  it('rounds cash half-up to cents and groups thousands', () => {
    expect(formatMoney('1234567.885', usd)).toBe('$1,234,567.89');
    expect(formatMoney('-0.004', usd)).toBe('$0.00');
    expect(formatMoney('-12.5', usd)).toBe('-$12.50');
  });

  it('shows sub-cent prices with significant digits', () => {
    expect(formatPrice('0.0000085123', usd)).toBe('$0.000008512');
    expect(formatPrice('0.15', usd)).toBe('$0.1500');
    expect(formatPrice('87000.126', usd)).toBe('$87,000.13');
  });

  it('converts to a currency without decimals', () => {
    expect(formatMoney('100', jpy)).toBe('¥15,640');
  });

  it('falls back to USD when a rate is missing', () => {
    expect(formatMoney('5', moneyView('eur', { rates: { usd: '1' }, simulated: true }))).toBe('$5.00');
  });

  it('never shows a negative zero percentage', () => {
    expect(formatPercent(new Dec('-0.0001'))).toBe('0.00%');
    expect(formatPercent(new Dec('1.005'))).toBe('+1.01%');
    expect(formatPercent(new Dec('-2.5'))).toBe('-2.50%');
  });

  it('writes quantities without trailing zeros, to 8 decimals', () => {
    expect(formatQuantity(new Dec('1500.500000000'))).toBe('1,500.5');
    expect(formatQuantity(new Dec('0.123456789'))).toBe('0.12345678');
  });
});
