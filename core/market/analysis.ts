/**
 * /analysis [coin]: the analyst's view. With a coin: price against its 7- and 30-day moving
 * averages, RSI(14), 30-day volatility, 7- and 30-day change and market-cap share, with a chart of
 * the price and both averages. Without one: the day's top gainers and losers among tracked coins.
 */
import { ACCESS } from '../access';
import { args, optional } from '../args';
import type { CommandContext } from '../context';
import type { Coin, Quote } from '../domain';
import { formatPrice, type MoneyView } from '../format';
import type { Field, RichMessage } from '../messages';
import { reply } from '../messages';
import { Dec, dec, formatPercent } from '../money';
import { ChartUnavailableError, MarketDataError, type ChartSpec, type GlobalMarket } from '../ports';
import { defineCommand } from '../registry';
import { priceCell, changeCell, priceFooter, viewOf } from '../view';
import { multiLineChartSpec } from './chart-spec';
import { changeOver, dailyCloses, rsi, sma, smaSeries, volatility, type DailyClose } from './indicators';
import { formatShare, marketDataProblem, NOT_SET_UP, UNAVAILABLE } from './overview';

/** The history /analysis reads: 90 days holds the 30-day average and RSI with room to settle,
 *  and is the range /chart asks for most, so the cached answer is usually shared. */
const HISTORY_RANGE = '90d' as const;
export const MOVERS_SHOWN = 5;
const RSI_PERIOD = 14;
const VOLATILITY_WINDOW = 30;

export const analysis = defineCommand({
  name: 'analysis',
  summary: 'Market analysis: top movers, or one coin\'s averages, RSI, volatility and chart',
  args: { coin: optional(args.coin('coin id or symbol to analyse, e.g. btc')) },
  examples: ['/analysis', '/analysis btc'],
  roles: ACCESS.marketAnalysis,
  chats: 'any',
  async run(ctx, { coin }) {
    if (coin === undefined) return movers(ctx);
    return coinAnalysis(ctx, await ctx.services.coins.resolve(coin));
  },
});

/** The market-cap shares, or why there are none; never fails the analysis around it. */
async function sharesOf(ctx: CommandContext): Promise<GlobalMarket | string> {
  const market = ctx.services.market;
  if (!market) return NOT_SET_UP;
  try {
    return await market.global();
  } catch (error) {
    if (error instanceof MarketDataError) return UNAVAILABLE;
    throw error;
  }
}

function shareText(global: GlobalMarket | string, coin: Coin): string {
  if (typeof global === 'string') return global;
  const share = global.marketCapShare[coin.symbol.toLowerCase()];
  return share === undefined ? 'not in the top list' : formatShare(share);
}

// --- one coin -------------------------------------------------------------------------------

async function coinAnalysis(ctx: CommandContext, coin: Coin): Promise<RichMessage> {
  const market = ctx.services.market;
  if (!market) return reply('warning', { text: `Market analysis needs price history, and market data is ${NOT_SET_UP}.` });
  // Both at once: the shares are cheap (one cached /global) and never block the numbers.
  const [history, global] = await Promise.all([
    market.chart(coin.id, HISTORY_RANGE).catch((error: unknown) => {
      if (error instanceof MarketDataError) return error;
      throw error;
    }),
    sharesOf(ctx),
  ]);
  if (history instanceof MarketDataError) return reply('warning', { text: marketDataProblem(history, coin.name) });

  const days = dailyCloses(history.points);
  const closes = days.map((d) => d.close);
  if (closes.length < 2) return reply('warning', { text: `There is not enough price history for ${coin.name} yet to analyse.` });
  const view = viewOf(ctx);
  const price = closes[closes.length - 1]!;
  const fields = indicatorFields(closes, price, view);
  fields.push({ label: 'Market-cap share', value: shareText(global, coin) });

  const notes: string[] = [];
  const image = await chartImage(ctx, coin, days, view, notes);
  if (history.simulated) notes.push('The price history is simulated, not market data.');
  const footer = [...notes, priceFooter(ctx)].filter(Boolean).join('\n') || undefined;
  const weekly = changeOver(closes, 7);
  return reply('info', {
    title: `${coin.name} (${coin.symbol.toUpperCase()}) analysis`,
    text: `Daily closes (UTC) over the last ${days.length} days; the last is the latest price.`,
    fields,
    ...(weekly && !weekly.isZero() && { trend: weekly.gt(0) ? 'up' as const : 'down' as const }),
    ...(image && { imageUrl: image }),
    footer,
  });
}

function indicatorFields(closes: Dec[], price: Dec, view: MoneyView): Field[] {
  const average = (n: number) => {
    const value = sma(closes, n);
    if (!value) return `not enough history (needs ${n} days)`;
    const against = price.div(value).minus(1).mul(100);
    const where = against.isZero() ? 'price at it' : `price ${formatPercent(against.abs()).replace('+', '')} ${against.gt(0) ? 'above' : 'below'}`;
    return `${formatPrice(value, view)} (${where})`;
  };
  const strength = rsi(closes, RSI_PERIOD);
  const swings = volatility(closes, VOLATILITY_WINDOW);
  const change = (n: number) => {
    const value = changeOver(closes, n);
    return value ? formatPercent(value) : `not enough history (needs ${n + 1} days)`;
  };
  return [
    { label: 'Price', value: formatPrice(price, view) },
    { label: '7-day average', value: average(7) },
    { label: '30-day average', value: average(30) },
    { label: `RSI (${RSI_PERIOD})`, value: strength ? `${strength.toFixed(1, Dec.ROUND_HALF_UP)} (${rsiReading(strength)})` : `not enough history (needs ${RSI_PERIOD + 1} days)` },
    {
      label: `Volatility (${VOLATILITY_WINDOW} d)`,
      value: swings
        ? `${swings.daily.toFixed(2, Dec.ROUND_HALF_UP)}% a day, ${swings.annualised.toFixed(1, Dec.ROUND_HALF_UP)}% a year`
        : `not enough history (needs ${VOLATILITY_WINDOW + 1} days)`,
    },
    { label: '7-day change', value: change(7) },
    { label: '30-day change', value: change(30) },
  ];
}

/** The usual reading of RSI: above 70 overbought, below 30 oversold. */
export function rsiReading(value: Dec): string {
  if (value.gt(70)) return 'overbought';
  if (value.lt(30)) return 'oversold';
  return 'neutral';
}

/**
 * The price with both averages over the days where all three lines exist: a chart's series have
 * a value at every label, and an average drawn from fewer days than its name says would mislead.
 * From 90 days of history that is the last 60 or so.
 */
export function analysisChartSpec(coin: Coin, days: DailyClose[], view: MoneyView): ChartSpec | null {
  const long = 30;
  if (days.length < long) return null;
  const closes = days.map((d) => d.close);
  const week = smaSeries(closes, 7);
  const month = smaSeries(closes, long);
  const points = month.map((m, i) => {
    const at = i + long - 1;
    return { at: days[at]!.at, values: [closes[at]!.toFixed(), week[at - 6]!.toFixed(), m.toFixed()] };
  });
  return multiLineChartSpec({
    title: `${coin.symbol.toUpperCase()} price with 7- and 30-day averages (${view.currency.toUpperCase()})`,
    series: ['Price', '7-day average', '30-day average'],
    points,
    range: HISTORY_RANGE,
    view,
  });
}

/** The chart's address, or undefined with a note saying why the numbers come alone. */
async function chartImage(ctx: CommandContext, coin: Coin, days: DailyClose[], view: MoneyView, notes: string[]): Promise<string | undefined> {
  const spec = analysisChartSpec(coin, days, view);
  if (!spec) return undefined;
  const charts = ctx.services.charts;
  if (!charts) {
    notes.push('Charts are not set up on this bot: the numbers only.');
    return undefined;
  }
  try {
    return (await charts.render(spec)).url;
  } catch (error) {
    if (!(error instanceof ChartUnavailableError)) throw error;
    notes.push('The chart could not be drawn right now (the chart service did not answer): the numbers only.');
    return undefined;
  }
}

// --- the whole market -----------------------------------------------------------------------

/**
 * The day's top gainers and losers among tracked coins, from the live quotes the poller already
 * holds. No per-coin volatility here: that would take one price-history request per coin from the
 * request budget every user shares (and polling must keep its share), for a table the reader can
 * get one coin at a time with /analysis <coin>.
 */
async function movers(ctx: CommandContext): Promise<RichMessage> {
  const [list, global] = await Promise.all([ctx.services.coins.list(), sharesOf(ctx)]);
  const quoted = list
    .map((coin) => ({ coin, quote: ctx.services.prices.quote(coin.id) }))
    .filter((q): q is { coin: Coin; quote: Quote } => q.quote?.change24hPercent != null)
    .map((q) => ({ ...q, change: dec(q.quote.change24hPercent!) }))
    .sort((a, b) => b.change.cmp(a.change));
  if (!quoted.length) return reply('warning', { text: 'No 24 h changes are known yet: try again in a minute.' });
  const gainers = quoted.filter((q) => q.change.gt(0)).slice(0, MOVERS_SHOWN);
  const losers = quoted.filter((q) => q.change.lt(0)).reverse().slice(0, MOVERS_SHOWN);
  // Without shares, one note in the footer rather than the same words in every row.
  const row = (kind: string) => ({ coin, quote }: { coin: Coin; quote: Quote }) =>
    [kind, `${coin.symbol.toUpperCase()} ${coin.name}`, priceCell(ctx, quote), changeCell(quote), typeof global === 'string' ? '-' : shareText(global, coin)];
  const up = quoted.filter((q) => q.change.gt(0)).length;
  const down = quoted.filter((q) => q.change.lt(0)).length;
  const summary = `${up} of ${quoted.length} tracked coins are up over 24 h and ${down} down; the biggest moves each way:`;
  const simulated = typeof global === 'string' ? `Market-cap shares: ${global}.` : global.simulated ? 'Market-cap shares are simulated, not market data.' : undefined;
  return reply('info', {
    title: 'Market analysis (24 h)',
    text: summary,
    table: {
      columns: ['', 'Coin', 'Price', '24h', 'Cap share'],
      rows: [...gainers.map(row('Gainer')), ...losers.map(row('Loser'))],
      align: ['left', 'left', 'right', 'right', 'right'],
    },
    footer: [simulated, priceFooter(ctx), 'For one coin\'s averages, RSI, volatility and chart: /analysis <coin>.'].filter(Boolean).join('\n'),
  });
}
