/**
 * Daily portfolio snapshots, /chart portfolio and /leaderboard, through the dispatcher with a
 * hand-set clock and prices, and a chart renderer that records what it was asked to draw.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatMemberRecorder } from '../core/market/chat-members';
import { rankStandings } from '../core/market/leaderboard';
import { recordDailySnapshots, recordSnapshots } from '../core/market/snapshots';
import { renderPlainText } from '../core/messages';
import { dec } from '../core/money';
import { ChartUnavailableError, type ChartRenderer, type ChartSpec } from '../core/ports';
import { makeTestBot, type TestBot } from './support/harness';

const DAY = 24 * 60 * 60 * 1000;
/** 00:05 UTC on 20 Nov 2026: when the scheduler records the day's snapshot. */
const START = Date.UTC(2026, 10, 20, 0, 5);

class RecordingCharts implements ChartRenderer {
  readonly specs: ChartSpec[] = [];
  down = false;
  async render(spec: ChartSpec): Promise<{ url: string }> {
    if (this.down) throw new ChartUnavailableError('QuickChart did not answer');
    this.specs.push(spec);
    return { url: `https://charts.test/${this.specs.length}.png` };
  }
}

let bot: TestBot;
let charts: RecordingCharts;
beforeEach(async () => {
  charts = new RecordingCharts();
  bot = await makeTestBot({ services: { charts } });
  bot.clock.time = START;
  bot.feed.set('bitcoin', '50000');
  bot.feed.set('ethereum', '2000');
});
afterEach(() => bot.close());

/** Runs a command in a group of the console platform: `group` names which one. */
async function inGroup(user: string, group: string, text: string): Promise<string> {
  const { message } = await bot.core.dispatcher.dispatch({
    identity: { platform: 'console', userId: user }, chat: { type: 'group', id: `console:${group}` }, text, messageId: `${group}-${user}-${text}-${bot.clock.now()}`,
  });
  return renderPlainText(message);
}

const values = async (user: string) => (await bot.store.listPortfolioSnapshots(user, '2000-01-01')).map((s) => [s.day, s.value]);

describe('daily snapshots', () => {
  it('records each user\'s cash plus holdings at the day\'s prices, exactly, one per UTC day', async () => {
    await bot.signup('ann');
    await bot.signup('bob');
    await bot.staff('sam', 'admin');
    await bot.say('ann', '/buy btc $1000'); // 0.02 BTC, 9000 cash
    await bot.say('bob', '/buy eth 1.5'); // 1.5 ETH, 7000 cash

    expect(await recordSnapshots(bot.core.services, bot.clock.now())).toBe(2);
    bot.clock.advance(DAY);
    bot.feed.set('bitcoin', '50123.45');
    bot.feed.set('ethereum', '1999.99');
    await recordSnapshots(bot.core.services, bot.clock.now());

    expect(await values('ann')).toEqual([['2026-11-20', '10000'], ['2026-11-21', '10002.469']]);
    expect(await values('bob')).toEqual([['2026-11-20', '10000'], ['2026-11-21', '9999.985']]);
    // Staff do not trade: nothing to chart or rank.
    expect(await values('sam')).toEqual([]);
  });

  it('replaces the day\'s snapshot when run again that day; the daily job records a day once', async () => {
    await bot.signup('ann');
    await bot.say('ann', '/buy btc $1000');
    await recordSnapshots(bot.core.services, bot.clock.now());
    bot.clock.advance(3 * 60 * 60 * 1000);
    bot.feed.set('bitcoin', '60000');
    await recordSnapshots(bot.core.services, bot.clock.now());
    expect(await values('ann')).toEqual([['2026-11-20', '10200']]);

    bot.feed.set('bitcoin', '70000');
    expect(await recordDailySnapshots(bot.core.services, bot.clock.now())).toBe(1);
    expect(await recordDailySnapshots(bot.core.services, bot.clock.now())).toBe(0);
    expect(await values('ann')).toEqual([['2026-11-20', '10400']]);
  });

  it('values a coin without any price at what was paid for it', async () => {
    await bot.signup('ann');
    await bot.say('ann', '/buy sol $500');
    const feed = bot.feed as unknown as { quotes: Map<string, unknown> };
    feed.quotes.delete('solana');
    await recordSnapshots(bot.core.services, bot.clock.now());
    expect(await values('ann')).toEqual([['2026-11-20', '10000']]);
  });
});

describe('/chart portfolio', () => {
  beforeEach(async () => {
    await bot.signup('ann');
    await bot.say('ann', '/buy btc $1000');
    await bot.say('ann', '/settings currency eur');
  });

  async function threeDays() {
    for (const price of ['50000', '55000', '45000']) {
      bot.feed.set('bitcoin', price);
      await recordSnapshots(bot.core.services, bot.clock.now());
      bot.clock.advance(DAY);
    }
    bot.clock.advance(-DAY + 12 * 60 * 60 * 1000); // 12:05 on the third day
    bot.feed.set('bitcoin', '60000');
  }

  it('draws one point per day and now, in the user\'s currency, with the change', async () => {
    await threeDays();
    const text = await bot.say('ann', '/chart portfolio 7d');
    expect(charts.specs).toHaveLength(1);
    const spec = charts.specs[0]!;
    // 10000, 10100, 9900 USD by day, 10200 now; at 0.86 EUR per USD.
    expect(spec.series).toEqual([{ label: 'Portfolio value', values: [8600, 8686, 8514, 8772] }]);
    expect(spec.labels).toEqual(['20 Nov', '21 Nov', '22 Nov', '22 Nov']);
    expect(spec.yLabel).toBe('EUR');
    expect(text).toMatch(/Start:\s*€8,600\.00/);
    expect(text).toMatch(/Now:\s*€8,772\.00/);
    expect(text).toMatch(/Change:\s*€172\.00 \(\+2\.00%\)/);
    expect(text).toContain('https://charts.test/1.png');
  });

  it('keeps to the range: 7d leaves out older days', async () => {
    await threeDays();
    bot.clock.advance(6 * DAY);
    bot.feed.set('bitcoin', '60000');
    await bot.say('ann', '/chart portfolio 7d');
    expect(charts.specs[0]!.series[0]!.values).toEqual([8686, 8514, 8772]);
    expect(await bot.say('ann', '/chart portfolio 30d')).toContain('€8,600.00');
    bot.clock.advance(3 * DAY);
    bot.feed.set('bitcoin', '60000');
    expect(await bot.say('ann', '/chart portfolio 7d')).toMatch(/no snapshot of your portfolio from the last 7 days yet/);
  });

  it('says when the first snapshot comes while there is none', async () => {
    const text = await bot.say('ann', '/chart portfolio');
    expect(text).toMatch(/no snapshot of your portfolio from the last 30 days yet: one is taken every day at 00:05 UTC/);
    expect(text).toMatch(/Now:\s*€8,600\.00/);
    expect(charts.specs).toEqual([]);
  });

  it('gives the numbers when the chart service is down', async () => {
    await threeDays();
    charts.down = true;
    const text = await bot.say('ann', '/chart portfolio 30d');
    expect(text).toMatch(/Charts are unavailable right now \(QuickChart did not answer\); the numbers:/);
    expect(text).toMatch(/Now:\s*€8,772\.00/);
  });

  it('refuses other ranges and staff', async () => {
    expect(await bot.say('ann', '/chart portfolio 1y')).toMatch(/The range is 7d, 30d or 90d/);
    await bot.staff('sam', 'analyst');
    expect(await bot.say('sam', '/chart portfolio')).toMatch(/Only user accounts trade/);
  });
});

describe('/leaderboard', () => {
  /** ann +10%, bob -5%, cat +20%, dan +10% over the week (from 10000 each at the week's start). */
  beforeEach(async () => {
    for (const user of ['ann', 'bob', 'cat', 'dan', 'eve']) {
      await bot.signup(user);
      await bot.say(user, '/buy btc $5000');
    }
    await recordSnapshots(bot.core.services, bot.clock.now());
    bot.clock.advance(7 * DAY);
    bot.feed.set('bitcoin', '60000'); // everyone +10%
    await bot.say('bob', '/sell btc all'); // bob keeps his +10% as cash from here on
  });

  it('ranks only the group\'s opted-in members, seen in that group', async () => {
    for (const user of ['ann', 'bob', 'cat', 'eve']) await bot.say(user, '/settings leaderboard on');
    for (const user of ['ann', 'bob', 'dan']) await inGroup(user, 'club', '/price btc');
    await inGroup('cat', 'other', '/price btc'); // another group
    const board = await inGroup('ann', 'club', '/leaderboard');
    expect(board).toContain('Leaderboard, last 7 days');
    expect(board).toMatch(/1\s+ann\s+\+10\.00%/);
    expect(board).toMatch(/1\s+bob\s+\+10\.00%/);
    expect(board).not.toMatch(/cat|eve/);
    expect(board).toMatch(/1 member seen here has not opted in: \/settings leaderboard on joins/);
  });

  it('ranks by return over the period, best first', async () => {
    for (const user of ['ann', 'bob', 'cat']) {
      await bot.say(user, '/settings leaderboard on');
      await inGroup(user, 'club', '/price btc');
    }
    bot.feed.set('bitcoin', '48000'); // ann and cat -2%; bob sold at 60000: +10%
    bot.feed.set('ethereum', '2000');
    expect(await bot.say('cat', '/buy eth $1000')).toMatch(/Bought 0\.5 ETH/);
    bot.feed.set('ethereum', '4000'); // cat's ETH doubled: +8%
    const rows = (await inGroup('ann', 'club', '/leaderboard 7d')).split('\n').filter((l) => /^\s*\d+\s/.test(l));
    expect(rows.map((r) => r.trim().split(/\s+/))).toEqual([['1', 'bob', '+10.00%'], ['2', 'cat', '+8.00%'], ['3', 'ann', '-2.00%']]);
  });

  it('compares with the start balance for "all" and for accounts younger than the period', async () => {
    await bot.say('ann', '/settings leaderboard on');
    await inGroup('ann', 'club', '/price btc');
    // Their only snapshot is a week old; with 30d the account is younger than the period.
    bot.feed.set('bitcoin', '70000');
    expect(await inGroup('ann', 'club', '/leaderboard 30d')).toMatch(/1\s+ann\s+\+20\.00%/);
    expect(await inGroup('ann', 'club', '/leaderboard all')).toMatch(/1\s+ann\s+\+20\.00%/);
    // 7d compares with the first snapshot in the week: at 70000 BTC (12000), so no change; a day
    // earlier the START one (10000) was still in the week.
    await recordSnapshots(bot.core.services, bot.clock.now() - 6 * DAY);
    expect(await inGroup('ann', 'club', '/leaderboard 7d')).toMatch(/1\s+ann\s+\+20\.00%/);
    bot.clock.advance(DAY);
    bot.feed.set('bitcoin', '70000');
    expect(await inGroup('ann', 'club', '/leaderboard 7d')).toMatch(/1\s+ann\s+0\.00%/);
    expect(await inGroup('ann', 'club', '/leaderboard 7d')).not.toContain('bob');
  });

  it('in private: the caller\'s rank among every opted-in user, and opting in and out', async () => {
    for (const user of ['bob', 'cat']) await bot.say(user, '/settings leaderboard on');
    bot.feed.set('bitcoin', '66000'); // ann, cat +16%; bob +10%
    const out = await bot.say('ann', '/leaderboard');
    expect(out).toMatch(/Opted in:\s*no \(\/settings leaderboard on joins\)/);
    expect(out).toMatch(/Ranked users:\s*2/);
    expect(out).toMatch(/Your return:\s*\+16\.00%: you would be #1 of 3/);

    expect(await bot.say('ann', '/settings leaderboard on')).toMatch(/You are on the leaderboards/);
    expect(await bot.say('ann', '/leaderboard')).toMatch(/Rank:\s*#1 of 3[\s\S]*Return:\s*\+16\.00%/);
    expect(await bot.say('bob', '/leaderboard')).toMatch(/Rank:\s*#3 of 3/);
    expect(await bot.say('ann', '/settings')).toMatch(/Leaderboards:\s*on/);
    expect(await bot.say('ann', '/settings leaderboard off')).toMatch(/off the leaderboards/);
    expect(await bot.say('bob', '/leaderboard')).toMatch(/Rank:\s*#2 of 2/);
    expect(await bot.say('ann', '/leaderboard 1y')).toMatch(/Choose one of: 7d, 30d, all/);
  });

  it('answers a command in a group even when its member cannot be recorded', async () => {
    const store = bot.store as { recordChatMember: (...a: unknown[]) => Promise<void> };
    const original = store.recordChatMember;
    store.recordChatMember = async () => {
      throw new Error('disk full');
    };
    try {
      expect(await inGroup('ann', 'club', '/price btc')).toMatch(/\$60,000/);
    } finally {
      store.recordChatMember = original;
    }
    expect(await bot.store.listChatMembers('console:club')).toEqual([]);
    await inGroup('ann', 'club', '/price btc');
    expect(await bot.store.listChatMembers('console:club')).toEqual(['ann']);
  });

  it('tells a group with nobody opted in how to join', async () => {
    await inGroup('ann', 'club', '/price btc');
    expect(await inGroup('ann', 'club', '/leaderboard')).toMatch(/Nobody here is on the leaderboard yet[\s\S]*1 member seen here has not opted in/);
  });
});

describe('rankStandings', () => {
  it('puts the best return first and lets equal returns share a rank', () => {
    const ranked = rankStandings([
      { username: 'dan', returnPercent: dec('-1') },
      { username: 'bob', returnPercent: dec('12.5') },
      { username: 'ann', returnPercent: dec('12.5') },
      { username: 'cat', returnPercent: dec('3') },
    ]);
    expect(ranked.map((r) => [r.rank, r.username])).toEqual([[1, 'ann'], [1, 'bob'], [3, 'cat'], [4, 'dan']]);
  });
});

describe('ChatMemberRecorder', () => {
  it('writes a chat and user again only after an hour, and forgets the least recent past its size', async () => {
    const writes: string[] = [];
    const store = { recordChatMember: async (chat: string, user: string, at: number) => void writes.push(`${chat} ${user} ${at}`) };
    const recorder = new ChatMemberRecorder({ store: store as never, logger: { info() {}, warn() {}, error() {} } }, 2);
    const HOUR = 60 * 60 * 1000;
    await recorder.seen('g1', 'ann', 0);
    await recorder.seen('g1', 'ann', HOUR - 1);
    await recorder.seen('g1', 'ann', HOUR);
    await recorder.seen('g2', 'ann', HOUR);
    await recorder.seen('g1', 'bob', HOUR); // evicts g1 ann, the least recently written
    await recorder.seen('g1', 'ann', HOUR + 1);
    expect(writes).toEqual(['g1 ann 0', `g1 ann ${HOUR}`, `g2 ann ${HOUR}`, `g1 bob ${HOUR}`, `g1 ann ${HOUR + 1}`]);
  });
});
