/**
 * What a line chart shows, built from a series of exact base-currency values: converted into the
 * reader's currency, labelled in the reader's time zone, thinned to a size every chat platform's
 * image service draws quickly. The renderer (a ChartRenderer port) only draws it.
 */
import { wallClock, type MoneyView } from '../format';
import { dec } from '../money';
import type { ChartRange, ChartSpec } from '../ports';

/** One value of a series at a time, in the base currency (exact decimal). */
export interface SeriesPoint {
  at: number;
  value: string;
}

/** A chart draws at most this many points: enough for a smooth line, few enough that the chart's
 *  address stays short and the image quick (CoinGecko's 1y answer has 365, its 1d about 288). */
export const MAX_CHART_POINTS = 120;

/** Keeps at most `max` points, evenly spread, always with the first and the last. */
export function thin<T>(points: T[], max = MAX_CHART_POINTS): T[] {
  if (points.length <= max) return points;
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A point's label: the time of day for one day's chart, the date for longer ones, in the
 *  reader's zone ("14:05", "25 Nov"). */
export function pointLabel(at: number, range: ChartRange, timeZone?: string): string {
  const wall = new Date((timeZone && wallClock(at, timeZone)) || at);
  if (range === '1d') return wall.toISOString().slice(11, 16);
  return `${wall.getUTCDate()} ${MONTHS[wall.getUTCMonth()]}`;
}

/** The chart of one series in the reader's currency; values rounded to what the eye can tell. */
export function lineChartSpec(options: { title: string; series: string; points: SeriesPoint[]; range: ChartRange; view: MoneyView }): ChartSpec {
  const { series, points, ...rest } = options;
  return multiLineChartSpec({ ...rest, series: [series], points: points.map((p) => ({ at: p.at, values: [p.value] })) });
}

/** One time with a value per series (base currency, exact decimals), for multiLineChartSpec. */
export interface MultiSeriesPoint {
  at: number;
  values: string[];
}

/** Several series over the same times (a price and its moving averages), one line each, in the
 *  reader's currency; thinned together so the lines stay aligned with the labels. */
export function multiLineChartSpec(options: { title: string; series: string[]; points: MultiSeriesPoint[]; range: ChartRange; view: MoneyView }): ChartSpec {
  const { view, range } = options;
  const points = thin(options.points);
  return {
    title: options.title,
    labels: points.map((p) => pointLabel(p.at, range, view.timeZone)),
    series: options.series.map((label, i) => ({ label, values: points.map((p) => dec(p.values[i]!).mul(view.rate).toSignificantDigits(8).toNumber()) })),
    yLabel: view.currency.toUpperCase(),
  };
}
