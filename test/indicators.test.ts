/**
 * The indicators /analysis shows, against values worked out by hand here (the arithmetic is in the
 * comments), so a mistake in the code cannot hide behind the same mistake in the expectation.
 */
import { describe, expect, it } from 'vitest';
import { changeOver, dailyCloses, percentChange, rsi, sma, smaSeries, volatility } from '../core/market/indicators';
import { dec } from '../core/money';

const series = (...values: number[]) => values.map((v) => dec(v));

describe('simple moving average', () => {
  it('averages the last n closes only', () => {
    // Last five of 10..15: (11 + 12 + 13 + 14 + 15) / 5 = 65 / 5 = 13.
    expect(sma(series(10, 11, 12, 13, 14, 15), 5)!.toFixed()).toBe('13');
    // Last two: (14 + 15) / 2 = 14.5.
    expect(sma(series(10, 11, 12, 13, 14, 15), 2)!.toFixed()).toBe('14.5');
  });

  it('is exact where floating point is not: (0.1 + 0.2 + 0.3) / 3 = 0.2', () => {
    expect(sma(series(0.1, 0.2, 0.3), 3)!.toFixed()).toBe('0.2');
  });

  it('is null with fewer closes than its length', () => {
    expect(sma(series(1, 2, 3), 7)).toBeNull();
  });

  it('as a series: one average per close that has n behind it', () => {
    // 1,2,3,4,5 with n = 3: (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4.
    expect(smaSeries(series(1, 2, 3, 4, 5), 3).map((d) => d.toFixed())).toEqual(['2', '3', '4']);
  });
});

describe('RSI(14), Wilder', () => {
  // 100, then the changes +2 -1 +3 -2 +1 +1 -1 +2 -1 -1 +2 +1 -2 +1 (14 of them, 15 closes).
  const changes = [2, -1, 3, -2, 1, 1, -1, 2, -1, -1, 2, 1, -2, 1];
  const closes15 = changes.reduce((c, d) => [...c, c[c.length - 1]! + d], [100]);

  it('the first value: plain averages of the first 14 gains and losses', () => {
    expect(closes15).toHaveLength(15);
    // Gains: 2 + 3 + 1 + 1 + 2 + 2 + 1 + 1 = 13, so average gain 13/14.
    // Losses: 1 + 2 + 1 + 1 + 1 + 2 = 8, so average loss 8/14.
    // RS = 13/8 = 1.625; RSI = 100 - 100 / 2.625 = 100 - 38.0952... = 61.9047619...
    expect(rsi(series(...closes15))!.toFixed(6)).toBe('61.904762');
  });

  it('then smooths: average = (previous x 13 + this change) / 14', () => {
    // A 16th close 3 higher: gain 3, loss 0.
    // Average gain = (13/14 x 13 + 3) / 14 = (169/14 + 42/14) / 14 = 211/196.
    // Average loss = (8/14 x 13 + 0) / 14 = 104/196.
    // RS = 211/104; RSI = 100 x 211 / (211 + 104) = 21100 / 315 = 66.984126...
    // (Dropping the oldest change instead, as a plain 14-day window would, gives 63.64: not this.)
    expect(rsi(series(...closes15, closes15[14]! + 3))!.toFixed(6)).toBe('66.984127');
  });

  it('is 100 when nothing fell, 50 when nothing moved, and null on 14 closes', () => {
    expect(rsi(series(...Array.from({ length: 15 }, (_, i) => 100 + i)))!.toFixed()).toBe('100');
    expect(rsi(series(...Array.from({ length: 15 }, () => 100)))!.toFixed()).toBe('50');
    expect(rsi(series(...Array.from({ length: 14 }, (_, i) => 100 + i)))).toBeNull();
  });
});

describe('volatility', () => {
  it('is the sample standard deviation of daily percentage returns, and that x sqrt(365)', () => {
    // 100 -> 110 -> 99 -> 108.9: returns +10%, -10%, +10%.
    // Mean 10/3 = 3.333...; deviations 6.667, -13.333, 6.667; squares 44.444 + 177.778 + 44.444
    // = 266.667; divided by n - 1 = 2: 133.333; square root 11.5470054 (% a day).
    // A year: sqrt(133.333 x 365) = sqrt(48666.667) = 220.6052281.
    const v = volatility(series(100, 110, 99, 108.9), 3)!;
    expect(v.daily.toFixed(7)).toBe('11.5470054');
    expect(v.annualised.toFixed(7)).toBe('220.6052281');
  });

  it('uses only the last window of returns', () => {
    // A wild start is outside a window of 3: the same three returns as above.
    expect(volatility(series(1, 1000, 100, 110, 99, 108.9), 3)!.daily.toFixed(7)).toBe('11.5470054');
  });

  it('is zero for a steady rise of 1% a day, and null without window + 1 closes', () => {
    expect(volatility(series(100, 101, 102.01, 103.0301), 3)!.daily.toFixed()).toBe('0');
    expect(volatility(series(100, 110, 99), 3)).toBeNull();
  });
});

describe('changes', () => {
  it('percent change and change over n periods', () => {
    expect(percentChange(dec(100), dec(110))!.toFixed()).toBe('10');
    expect(percentChange(dec(200), dec(150))!.toFixed()).toBe('-25');
    expect(percentChange(dec(0), dec(5))).toBeNull();
    // 100 -> 120 over two periods: +20%; three periods is further back than the series reaches.
    expect(changeOver(series(100, 90, 120), 2)!.toFixed()).toBe('20');
    expect(changeOver(series(100, 90, 120), 3)).toBeNull();
  });
});

describe('daily closes', () => {
  it('keeps the last point of each UTC day, oldest day first, whatever order the points came in', () => {
    const at = (iso: string) => Date.parse(iso);
    const closes = dailyCloses([
      { at: at('2026-11-25T12:00:00Z'), price: '105' },
      { at: at('2026-11-24T10:00:00Z'), price: '100' },
      { at: at('2026-11-24T23:59:59Z'), price: '101' },
      { at: at('2026-11-25T00:00:00Z'), price: '102' },
    ]);
    expect(closes.map((c) => [c.day, c.close.toFixed()])).toEqual([['2026-11-24', '101'], ['2026-11-25', '105']]);
    expect(dailyCloses([])).toEqual([]);
  });
});
