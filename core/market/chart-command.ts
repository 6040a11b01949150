/**
 * /chart <coin> [1d|7d|30d|90d|1y]: a coin's price over a range as a line chart image, with the
 * numbers beside it (first, last, change, high, low). When the image cannot be drawn the numbers
 * still come, with the reason; a platform without images shows the image's link.
 */
import { z } from 'zod';
import { ACCESS } from '../access';
import { args, optional } from '../args';
import type { CommandContext } from '../context';
import type { Coin } from '../domain';
import { UserError } from '../errors';
import { formatPrice } from '../format';
import { reply, trendOf, type Field, type RichMessage } from '../messages';
import { Dec, dec, formatPercent } from '../money';
import { CHART_RANGES, ChartUnavailableError, MarketDataError, type ChartRange, type MarketChart } from '../ports';
import { defineCommand } from '../registry';
import { timeFor, viewOf } from '../view';
import { lineChartSpec } from './chart-spec';

export const DEFAULT_CHART_RANGE: ChartRange = '7d';

/** How a range reads in a title and a field: "7 days". */
export const RANGE_NAMES: Record<ChartRange, string> = { '1d': '24 hours', '7d': '7 days', '30d': '30 days', '90d': '90 days', '1y': '1 year' };

const RANGE_MESSAGE = `The range is one of ${CHART_RANGES.slice(0, -1).join(', ')} or ${CHART_RANGES.at(-1)} (${DEFAULT_CHART_RANGE} unless you say).`;

/** A chart range, with a message that says what the ranges are. */
const range = () => optional({
  ...args.choice(`range: ${CHART_RANGES.join(', ')} (${DEFAULT_CHART_RANGE} unless you say)`, CHART_RANGES),
  schema: z.string().toLowerCase().pipe(z.enum(CHART_RANGES, RANGE_MESSAGE)),
});

export const chartPrice = defineCommand({
  name: 'chart price',
  groupDefault: true,
  summary: 'A chart of a coin\'s price over 1d, 7d, 30d, 90d or 1y, with its high, low and change',
  args: { coin: args.coin(), range: range() },
  examples: ['/chart btc', '/chart eth 30d', '/chart price sol 1y'],
  // The design's "View Charts": every account.
  roles: ACCESS.everyAccount,
  chats: 'any',
  async run(ctx, { coin: wanted, range = DEFAULT_CHART_RANGE }) {
    // Resolve first: a mistyped coin is answered at once, without asking for market data.
    const coin = await ctx.services.coins.resolve(wanted);
    const market = ctx.services.market;
    if (!market) return reply('warning', { text: 'Charts need market data, which this bot is not set up for.' });
    const chart = await priceHistory(() => market.chart(coin.id, range), coin);
    if (chart.points.length < 2) {
      return reply('warning', { text: `There is no price history for ${coin.name} over the last ${RANGE_NAMES[range]} yet.` });
    }
    return chartReply(ctx, coin, range, chart);
  },
});

/** The market data, or the plain answer for why there is none. */
async function priceHistory(load: () => Promise<MarketChart>, coin: Coin): Promise<MarketChart> {
  try {
    return await load();
  } catch (error) {
    if (!(error instanceof MarketDataError)) throw error;
    if (error.kind === 'not_found') throw new UserError(`CoinGecko has no price history for ${coin.name} (${coin.id}).`);
    if (error.kind === 'busy') throw new UserError('Many charts are being asked for right now: try again in a minute.');
    throw new UserError('Price history is unavailable right now (CoinGecko did not answer): try again in a few minutes.');
  }
}

async function chartReply(ctx: CommandContext, coin: Coin, range: ChartRange, chart: MarketChart): Promise<RichMessage> {
  const view = viewOf(ctx);
  const title = `${coin.name} (${coin.symbol.toUpperCase()}), ${RANGE_NAMES[range]}`;
  const first = chart.points[0]!;
  const last = chart.points.at(-1)!;
  const prices = chart.points.map((p) => dec(p.price));
  const change = dec(first.price).isZero() ? undefined : dec(last.price).minus(first.price).div(first.price).mul(100);
  const fields: Field[] = [
    { label: 'First', value: `${formatPrice(first.price, view)} (${timeFor(ctx, first.at)})` },
    { label: 'Last', value: `${formatPrice(last.price, view)} (${timeFor(ctx, last.at)})` },
    { label: 'Change', value: change ? formatPercent(change) : 'n/a' },
    { label: 'High', value: formatPrice(Dec.max(...prices), view) },
    { label: 'Low', value: formatPrice(Dec.min(...prices), view) },
  ];
  const common = {
    title,
    fields,
    ...(change && { trend: trendOf(change) }),
    buttons: [{ label: 'Refresh', command: `/chart price ${coin.id} ${range}`, kind: 'refresh' as const }],
    ...(chart.simulated && { footer: 'Simulated prices (CoinGecko is not in use): this is not market data.' }),
  };
  const charts = ctx.services.charts;
  if (!charts) return reply('warning', { ...common, text: 'Charts are not set up on this bot; the numbers:' });
  const spec = lineChartSpec({ title, series: coin.symbol.toUpperCase(), points: chart.points.map((p) => ({ at: p.at, value: p.price })), range, view });
  try {
    const { url } = await charts.render(spec);
    return reply('info', { ...common, imageUrl: url });
  } catch (error) {
    if (!(error instanceof ChartUnavailableError)) throw error;
    return reply('warning', { ...common, text: `Charts are unavailable right now (${error.message}); the numbers:` });
  }
}
