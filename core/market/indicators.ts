/**
 * Technical indicators for /analysis, on exact decimals: the numbers a reader compares with their
 * trading site should not drift by float rounding. Every function answers null when the series is
 * too short to say anything honest, rather than an indicator computed from fewer points than its
 * name promises.
 */
import { Dec, dec } from '../money';
import type { PricePoint } from '../ports';

const DAY_MS = 86_400_000;

/** One UTC day's closing price: the last point of that day. */
export interface DailyClose {
  /** YYYY-MM-DD, UTC. */
  day: string;
  at: number;
  close: Dec;
}

/**
 * A market chart's points (oldest first, any spacing: CoinGecko answers hourly for 2-90 days)
 * as one close per UTC day, oldest first. Today's "close" is the latest point so far, so the last
 * value is the current price, as trading sites show it.
 */
export function dailyCloses(points: readonly PricePoint[]): DailyClose[] {
  const byDay = new Map<number, PricePoint>();
  for (const point of points) {
    const day = Math.floor(point.at / DAY_MS);
    const kept = byDay.get(day);
    if (!kept || point.at >= kept.at) byDay.set(day, point);
  }
  return [...byDay.entries()]
    .sort(([a], [b]) => a - b)
    .map(([day, point]) => ({ day: new Date(day * DAY_MS).toISOString().slice(0, 10), at: point.at, close: dec(point.price) }));
}

/** The simple moving average of the last `n` closes; null with fewer than `n`. */
export function sma(closes: readonly Dec[], n: number): Dec | null {
  if (n < 1 || closes.length < n) return null;
  return closes.slice(-n).reduce((sum, c) => sum.add(c), new Dec(0)).div(n);
}

/** The simple moving average ending at every close that has `n` before it (itself included):
 *  result[i] belongs to closes[i + n - 1]. For drawing the averages beside the price. */
export function smaSeries(closes: readonly Dec[], n: number): Dec[] {
  const out: Dec[] = [];
  for (let end = n; end <= closes.length; end++) out.push(sma(closes.slice(end - n, end), n)!);
  return out;
}

/** Percent change from `from` to `to` (+10 for 100 -> 110); null when `from` is zero. */
export function percentChange(from: Dec, to: Dec): Dec | null {
  if (from.isZero()) return null;
  return to.div(from).minus(1).mul(100);
}

/** Percent change of the last close against the close `periods` before it; null when the series
 *  does not reach back that far. */
export function changeOver(closes: readonly Dec[], periods: number): Dec | null {
  if (periods < 1 || closes.length < periods + 1) return null;
  return percentChange(closes[closes.length - 1 - periods]!, closes[closes.length - 1]!);
}

/**
 * The Relative Strength Index with Wilder's smoothing (J. Welles Wilder, 1978), 0..100:
 *  - changes d_i = c_i - c_(i-1); gain_i = max(d_i, 0), loss_i = max(-d_i, 0);
 *  - the first average gain (loss) is the plain mean of the first `period` gains (losses);
 *  - each later one is (previous average x (period - 1) + this gain) / period;
 *  - RSI = 100 - 100 / (1 + average gain / average loss): 100 when nothing fell, 50 when nothing
 *    moved at all.
 * Needs period + 1 closes; null with fewer.
 */
export function rsi(closes: readonly Dec[], period = 14): Dec | null {
  if (period < 1 || closes.length < period + 1) return null;
  let avgGain = new Dec(0);
  let avgLoss = new Dec(0);
  for (let i = 1; i < closes.length; i++) {
    const change = closes[i]!.minus(closes[i - 1]!);
    const gain = change.gt(0) ? change : new Dec(0);
    const loss = change.lt(0) ? change.neg() : new Dec(0);
    if (i <= period) {
      avgGain = avgGain.add(gain.div(period));
      avgLoss = avgLoss.add(loss.div(period));
    } else {
      avgGain = avgGain.mul(period - 1).add(gain).div(period);
      avgLoss = avgLoss.mul(period - 1).add(loss).div(period);
    }
  }
  if (avgLoss.isZero()) return avgGain.isZero() ? new Dec(50) : new Dec(100);
  return new Dec(100).minus(new Dec(100).div(avgGain.div(avgLoss).add(1)));
}

export interface Volatility {
  /** The sample standard deviation of the daily returns, in percent. */
  daily: Dec;
  /** `daily` x sqrt(365): crypto trades every day of the year. */
  annualised: Dec;
}

/**
 * Volatility over the last `window` daily returns: the sample standard deviation (n - 1) of the
 * simple percentage returns r_i = (c_i / c_(i-1) - 1) x 100, and that x sqrt(365). Simple, not
 * log, returns: they are the "% a day" readers know, and for daily moves the two differ little.
 * Needs window + 1 closes (and a window of at least 2); null with fewer or with a zero close.
 */
export function volatility(closes: readonly Dec[], window = 30): Volatility | null {
  if (window < 2 || closes.length < window + 1) return null;
  const recent = closes.slice(-(window + 1));
  const returns: Dec[] = [];
  for (let i = 1; i < recent.length; i++) {
    const r = percentChange(recent[i - 1]!, recent[i]!);
    if (r === null) return null;
    returns.push(r);
  }
  const mean = returns.reduce((s, r) => s.add(r), new Dec(0)).div(returns.length);
  const squares = returns.reduce((s, r) => s.add(r.minus(mean).pow(2)), new Dec(0));
  const daily = squares.div(returns.length - 1).sqrt();
  return { daily, annualised: daily.mul(new Dec(365).sqrt()) };
}
