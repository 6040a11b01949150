/**
 * /leaderboard [7d|30d|all]: users ranked by portfolio return over a period, opt-in per user
 * (/settings leaderboard on). In a group: the group's members the bot has seen use it there
 * (core/market/chat-members.ts) who opted in, top ten. In a private chat: the caller's rank among
 * every opted-in user.
 *
 * A return compares the portfolio's value now (live quotes) with its value at the period's start:
 * the first daily snapshot on or after that day. An account younger than the period, or one with
 * no snapshot in it yet, compares with the start balance; so does "all". Every account ranked
 * costs a portfolio and a snapshot read: fine for the bot's scale, and only on demand.
 */
import { ACCESS } from '../access';
import { args, optional } from '../args';
import type { CommandContext } from '../context';
import type { Account } from '../domain';
import { reply, type RichMessage } from '../messages';
import { type Dec, dec, formatPercent } from '../money';
import { defineCommand } from '../registry';
import { daysBefore, portfolioValue } from './snapshots';

export const LEADERBOARD_PERIODS = ['7d', '30d', 'all'] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];
const PERIOD_DAYS: Record<Exclude<LeaderboardPeriod, 'all'>, number> = { '7d': 7, '30d': 30 };
const PERIOD_NAMES: Record<LeaderboardPeriod, string> = { '7d': 'last 7 days', '30d': 'last 30 days', all: 'since they started' };
const TOP = 10;
const PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;
const JOIN_HINT = '/settings leaderboard on';

export interface Standing {
  username: string;
  /** Return over the period, in percent. */
  returnPercent: Dec;
}

export interface Ranked extends Standing {
  /** 1 for the best; equal returns share a rank (1, 1, 3). */
  rank: number;
}

/** Best return first, equal returns by name; equal returns share the better rank. */
export function rankStandings(standings: Standing[]): Ranked[] {
  const sorted = [...standings].sort((a, b) => b.returnPercent.comparedTo(a.returnPercent) || a.username.localeCompare(b.username));
  return sorted.map((s, i) => {
    let first = i;
    while (first > 0 && sorted[first - 1]!.returnPercent.eq(s.returnPercent)) first--;
    return { ...s, rank: first + 1 };
  });
}

/** Only user accounts that opted in are ranked. */
const ranks = (account: Account | undefined): account is Account => account?.role === 'user' && account.leaderboard === true;

/** The account's return over the period, or null when it has no portfolio. */
export async function returnOf(ctx: CommandContext, account: Account, period: LeaderboardPeriod, now: number): Promise<Standing | null> {
  const { store, prices, config } = ctx.services;
  const portfolio = await store.getPortfolio(account.username);
  if (!portfolio) return null;
  let base = dec(config.startBalance);
  if (period !== 'all' && account.createdAt <= now - PERIOD_DAYS[period] * DAY_MS) {
    const [first] = await store.listPortfolioSnapshots(account.username, daysBefore(now, PERIOD_DAYS[period]));
    if (first) base = dec(first.value);
  }
  const value = portfolioValue(portfolio, prices).value;
  return { username: account.username, returnPercent: base.isZero() ? dec(0) : value.minus(base).div(base).mul(100) };
}

async function standingsOf(ctx: CommandContext, accounts: Account[], period: LeaderboardPeriod, now: number): Promise<Standing[]> {
  const standings = await Promise.all(accounts.map((a) => returnOf(ctx, a, period, now)));
  return standings.filter((s): s is Standing => s !== null);
}

export const leaderboard = defineCommand({
  name: 'leaderboard',
  aliases: ['top'],
  summary: 'Portfolio returns ranked: this group\'s members, or your rank among everyone (opt in with /settings leaderboard on)',
  args: { period: optional(args.choice('period: 7d, 30d or all (7d unless you say)', LEADERBOARD_PERIODS)) },
  examples: ['/leaderboard', '/leaderboard 30d', '/leaderboard all'],
  // Anyone in a group may look: only users who opted in are on it.
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx, { period = '7d' }) {
    return ctx.chat.type === 'group' ? groupBoard(ctx, period) : privateRank(ctx, period);
  },
});

async function groupBoard(ctx: CommandContext, period: LeaderboardPeriod): Promise<RichMessage> {
  const { store, clock } = ctx.services;
  const now = clock.now();
  const members = await store.listChatMembers(ctx.chat.id);
  const accounts = [...(await store.getAccounts(members)).values()].filter((a) => a.role === 'user');
  const opted = accounts.filter(ranks);
  const notOpted = accounts.length - opted.length;
  const hint = notOpted ? `${notOpted} member${notOpted === 1 ? '' : 's'} seen here ${notOpted === 1 ? 'has' : 'have'} not opted in: ${JOIN_HINT} joins.` : '';
  const title = `🏆 Leaderboard, ${PERIOD_NAMES[period]}`;
  const ranked = rankStandings(await standingsOf(ctx, opted, period, now));
  if (!ranked.length) {
    return reply('info', { title, text: `Nobody here is on the leaderboard yet. Members join with ${JOIN_HINT}, then use me in this group.${notOpted ? ` ${hint}` : ''}` });
  }
  const mine = ctx.account && ranked.find((r) => r.username === ctx.account!.username);
  const outside = mine && mine.rank > TOP && !ranked.slice(0, TOP).includes(mine) ? `You are #${mine.rank} (${formatPercent(mine.returnPercent)}).` : '';
  return reply('info', {
    title,
    table: { columns: ['#', 'Name', 'Return'], rows: ranked.slice(0, TOP).map((r) => [String(r.rank), r.username, formatPercent(r.returnPercent)]), align: ['right', 'left', 'right'] },
    footer: [outside, hint, 'Returns compare the portfolio now with its value at the period\'s start (or the start balance).'].filter(Boolean).join(' '),
  });
}

async function privateRank(ctx: CommandContext, period: LeaderboardPeriod): Promise<RichMessage> {
  const { account } = ctx;
  const { store, clock } = ctx.services;
  const now = clock.now();
  const opted: Account[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listAccounts({ limit: PAGE, cursor });
    opted.push(...page.items.filter(ranks));
    cursor = page.next;
  } while (cursor);
  const title = `🏆 Your rank, ${PERIOD_NAMES[period]}`;
  const count = `${opted.length} user${opted.length === 1 ? ' is' : 's are'} on the leaderboard.`;
  // A guest may look (in a group they see the board); here there is nothing of theirs to rank.
  if (!account) return reply('info', { title, text: `${count} /signup <username> <email> to trade and join them.` });
  if (account.role !== 'user') return reply('info', { title, text: `Staff accounts are not ranked. ${count}` });
  const standings = await standingsOf(ctx, opted, period, now);
  if (account.leaderboard === true) {
    const ranked = rankStandings(standings);
    const mine = ranked.find((r) => r.username === account.username);
    if (!mine) return reply('info', { title, text: 'You are opted in, but have no portfolio to rank.' });
    return reply('info', {
      title,
      fields: [
        { label: 'Rank', value: `#${mine.rank} of ${ranked.length}` },
        { label: 'Return', value: formatPercent(mine.returnPercent) },
        { label: 'Opted in', value: 'yes (/settings leaderboard off leaves)' },
      ],
    });
  }
  // Not on it: where they would be, so that joining is an informed choice.
  const own = await returnOf(ctx, account, period, now);
  const would = own ? rankStandings([...standings, own]).find((r) => r.username === account.username) : undefined;
  return reply('info', {
    title,
    fields: [
      { label: 'Opted in', value: `no (${JOIN_HINT} joins)` },
      { label: 'Ranked users', value: String(standings.length) },
      ...(would ? [{ label: 'Your return', value: `${formatPercent(would.returnPercent)}: you would be #${would.rank} of ${standings.length + 1}` }] : []),
    ],
  });
}
