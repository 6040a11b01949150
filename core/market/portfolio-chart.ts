/**
 * /chart portfolio [7d|30d|90d]: the caller's portfolio value over time, from the daily snapshots
 * the scheduler records (core/market/snapshots.ts) plus its value now as the last point, with the
 * start value, the value now and the change beside it. When the image cannot be drawn the numbers
 * still come, with the reason.
 */
import { z } from 'zod';
import { ACCESS, TRADING_DENIED_NOTE } from '../access';
import { args, optional } from '../args';
import { UserError } from '../errors';
import { formatMoney } from '../format';
import { reply, trendOf, type Field } from '../messages';
import { dec, formatPercent } from '../money';
import { ChartUnavailableError } from '../ports';
import { defineCommand } from '../registry';
import { priceFooter, requireAccount, timeFor, viewOf } from '../view';
import { lineChartSpec, type SeriesPoint } from './chart-spec';
import { daysBefore, portfolioValue } from './snapshots';

export const PORTFOLIO_RANGES = ['7d', '30d', '90d'] as const;
export type PortfolioRange = (typeof PORTFOLIO_RANGES)[number];
const DEFAULT_RANGE: PortfolioRange = '30d';
const RANGE_DAYS: Record<PortfolioRange, number> = { '7d': 7, '30d': 30, '90d': 90 };

const range = () => optional({
  ...args.choice(`range: 7d, 30d or 90d (${DEFAULT_RANGE} unless you say)`, PORTFOLIO_RANGES),
  schema: z.string().toLowerCase().pipe(z.enum(PORTFOLIO_RANGES, `The range is 7d, 30d or 90d (${DEFAULT_RANGE} unless you say): snapshots are daily.`)),
});

export const chartPortfolio = defineCommand({
  name: 'chart portfolio',
  summary: 'A chart of your portfolio\'s value over 7d, 30d or 90d, from daily snapshots',
  args: { range: range() },
  examples: ['/chart portfolio', '/chart portfolio 7d', '/chart portfolio 90d'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: TRADING_DENIED_NOTE,
  async run(ctx, { range = DEFAULT_RANGE }) {
    const account = requireAccount(ctx);
    const { store, prices, clock, charts } = ctx.services;
    const now = clock.now();
    const portfolio = await store.getPortfolio(account.username);
    if (!portfolio) throw new UserError('Your account has no portfolio. Ask an admin to look into it.');
    const snapshots = await store.listPortfolioSnapshots(account.username, daysBefore(now, RANGE_DAYS[range]));
    const live = portfolioValue(portfolio, prices).value;
    const points: SeriesPoint[] = [...snapshots.map((s) => ({ at: s.at, value: s.value })), { at: now, value: live.toFixed() }];
    const view = viewOf(ctx);
    if (points.length < 2) {
      return reply('info', {
        title: 'Your portfolio over time',
        fields: [{ label: 'Now', value: formatMoney(live, view) }],
        text: `There is no snapshot of your portfolio from the last ${RANGE_DAYS[range]} days yet: one is taken every day at 00:05 UTC, and the chart starts from the first.`,
      });
    }
    const first = points[0]!;
    const change = live.minus(first.value);
    const start = dec(first.value);
    const fields: Field[] = [
      { label: 'Start', value: `${formatMoney(start, view)} (${timeFor(ctx, first.at)})` },
      { label: 'Now', value: formatMoney(live, view) },
      { label: 'Change', value: `${formatMoney(change, view)}${start.isZero() ? '' : ` (${formatPercent(change.div(start).mul(100))})`}` },
    ];
    const title = `Portfolio of ${account.username}, ${RANGE_DAYS[range]} days`;
    const common = {
      title, fields, trend: trendOf(change),
      buttons: [{ label: 'Refresh', command: `/chart portfolio ${range}`, kind: 'refresh' as const }],
      footer: priceFooter(ctx) ?? `One point a day (00:05 UTC), and now (${timeFor(ctx, now)}).`,
    };
    if (!charts) return reply('warning', { ...common, text: 'Charts are not set up on this bot; the numbers:' });
    try {
      const { url } = await charts.render(lineChartSpec({ title, series: 'Portfolio value', points, range, view }));
      return reply('info', { ...common, imageUrl: url });
    } catch (error) {
      if (!(error instanceof ChartUnavailableError)) throw error;
      return reply('warning', { ...common, text: `Charts are unavailable right now (${error.message}); the numbers:` });
    }
  },
});
