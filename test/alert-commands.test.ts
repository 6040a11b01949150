/** /alert (thresholds and moves, repeat, expiry), /alerts and /alert remove, as a user sees them. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeAlert } from '../core/alerts/describe';
import type { PriceAlert } from '../core/domain';
import { moneyView } from '../core/format';
import { Dec, decimalPlaces } from '../core/money';
import { makeTestBot, type TestBot } from './support/harness';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot({ config: { maxAlertsPerUser: 5 } });
  await bot.signup('ann');
});
afterEach(() => bot.close());

/** ann's alerts as stored, oldest first. */
const stored = () => bot.store.listAlerts('ann');
const only = async (): Promise<PriceAlert> => {
  const list = await stored();
  expect(list).toHaveLength(1);
  return list[0]!;
};

describe('/alert above and below', () => {
  it('creates an armed one-shot alert with its bookkeeping, as before', async () => {
    expect(await bot.say('ann', '/alert btc above 100000')).toMatch(/^Alert ([0-9a-f]{12}) set: Bitcoin above \$100,000\.00\.$/);
    const alert = await only();
    expect(alert).toMatchObject({
      username: 'ann', coinId: 'bitcoin', condition: 'above', targetPrice: '100000', state: 'armed', version: 1, fireCount: 0,
      createdAt: bot.clock.now(), updatedAt: bot.clock.now(),
    });
    expect(alert.alertId).toMatch(/^[0-9a-f]{12}$/);
    expect(alert.repeatMs).toBeUndefined();
    expect(alert.expiresAt).toBeUndefined();
  });

  it("converts a price in the user's currency to the base currency, rounded to 12 decimals", async () => {
    await bot.say('ann', '/settings currency eur');
    expect(await bot.say('ann', '/alert btc above 100000')).toMatch(/set: Bitcoin above €100,000\.00\./);
    const { targetPrice } = await only();
    expect(targetPrice).toBe(new Dec(100000).div(bot.feed.rates.eur!).toDecimalPlaces(12).toFixed());
    expect(decimalPlaces(targetPrice!)).toBeLessThanOrEqual(12);
  });

  it('repeats and expires when asked, in either order', async () => {
    expect(await bot.say('ann', '/alert eth below 2500 repeat 1h for 7d')).toMatch(/set: Ethereum below \$2,500\.00, repeats, at most every 1h, until 2026-12-02 12:00 UTC\./);
    expect(await bot.say('ann', '/alert eth below 2400 for 12h repeat 30m')).toMatch(/below \$2,400\.00, repeats, at most every 30m, until 2026-11-26 00:00 UTC\./);
    const [first, second] = await stored();
    expect(first).toMatchObject({ repeatMs: HOUR, expiresAt: bot.clock.now() + 7 * DAY });
    expect(second).toMatchObject({ repeatMs: 30 * MINUTE, expiresAt: bot.clock.now() + 12 * HOUR });
  });

  it('still refuses a threshold the price has already passed', async () => {
    expect(await bot.say('ann', '/alert btc above 80000')).toMatch(/Bitcoin is already at or above that \(now \$87,000\.00\): pick a price it has not reached/);
    expect(await bot.say('ann', '/alert btc below 90000 repeat 1h')).toMatch(/already at or below that/);
    expect(await stored()).toEqual([]);
  });
});

describe('/alert move', () => {
  it('watches a percent move over a window, either way unless up or down is said', async () => {
    expect(await bot.say('ann', '/alert btc move 5% 1h')).toMatch(/^Alert \w{12} set: Bitcoin a 5% move either way within 1h\.$/);
    expect(await bot.say('ann', '/alert sol move 2.5 30m down repeat 12h for 30d')).toMatch(/Solana a 2\.5% fall within 30m, repeats, at most every 12h, until 2026-12-25 12:00 UTC\./);
    expect(await bot.say('ann', '/alert eth move 10% 1d UP')).toMatch(/Ethereum a 10% rise within 1d\./);
    const [btc, sol, eth] = await stored();
    expect(btc).toMatchObject({ condition: 'move', movePercent: '5', moveWindowMs: HOUR, moveDirection: 'either', state: 'armed', version: 1, fireCount: 0 });
    expect(btc!.targetPrice).toBeUndefined();
    expect(sol).toMatchObject({ movePercent: '2.5', moveWindowMs: 30 * MINUTE, moveDirection: 'down', repeatMs: 12 * HOUR, expiresAt: bot.clock.now() + 30 * DAY });
    expect(eth).toMatchObject({ moveDirection: 'up', moveWindowMs: DAY });
  });

  it('takes its options as one Discord option', async () => {
    const { message } = await bot.core.dispatcher.dispatch({
      identity: { platform: 'console', userId: 'ann' }, chat: { type: 'private', id: 'console:ann' }, messageId: 'interaction-1',
      command: { name: 'alert set', args: { coin: 'bitcoin', condition: 'move', value: '5%', options: '1h up repeat 30m for 7d' } },
    });
    expect(message.text).toMatch(/Bitcoin a 5% rise within 1h, repeats, at most every 30m, until 2026-12-02 12:00 UTC\./);
    expect(await only()).toMatchObject({ moveDirection: 'up', moveWindowMs: HOUR, repeatMs: 30 * MINUTE, expiresAt: bot.clock.now() + 7 * DAY });
  });
});

describe('/alert refusals, each with its own message', () => {
  const cases: Array<[string, RegExp]> = [
    // Percentages.
    ['/alert btc move abc 1h', /“abc” is not a percentage: use a number like 5% or 2\.5%/],
    ['/alert btc move 0% 1h', /The move must be more than 0%/],
    ['/alert btc move 1000.01% 1h', /at most 1000%/],
    ['/alert btc move 1.234% 1h', /too many decimals \(at most 2/],
    ['/alert btc above 5%', /above takes a price, not a percentage/],
    // Windows.
    ['/alert btc move 5%', /A move alert needs a window, the time the move happens in \(5m to 7d\): e\.g\. \/alert btc move 5% 1h/],
    ['/alert btc move 5% up', /A move alert needs a window/],
    ['/alert btc move 5% 1m', /The window 1m is too short: at least 5m/],
    ['/alert btc move 5% 8d', /The window 8d is too long: at most 7d/],
    ['/alert btc move 5% soon', /“soon” is not a duration: use minutes, hours or days, like 30m, 1h, 12h or 7d/],
    // Repeat and expiry.
    ['/alert btc above 100000 repeat 0m', /The repeat 0m is too short: at least 1m/],
    ['/alert btc above 100000 repeat 31d', /The repeat 31d is too long: at most 30d/],
    ['/alert btc above 100000 repeat', /Say how long after repeat: e\.g\. repeat 30m/],
    ['/alert btc above 100000 for 400d', /The expiry \(for\) 400d is too long: at most 365d/],
    ['/alert btc above 100000 for 30m', /The expiry \(for\) 30m is too short: at least 1h/],
    ['/alert btc above 100000 repeat 1h repeat 2h', /repeat is given twice/],
    // Words in the wrong place.
    ['/alert btc above 100000 up', /up and down are for move alerts/],
    ['/alert btc above 100000 1h', /“1h” is not expected here: only repeat <duration> and for <duration> may follow the price/],
    ['/alert btc move 5% 1h sideways', /“sideways” is not expected here/],
    // The condition, the coin and the price, as before.
    ['/alert btc around 100000', /Choose one of: above, below, move/],
    ['/alert dogecoinz above 1', /“dogecoinz” is not a tracked coin\. \/coins lists them/],
    ['/alert btc above lots', /“lots” is not a valid price/],
    ['/alert btc above', /Missing value: a price in your currency \(above, below\) or a percent like 5% \(move\)/],
  ];
  for (const [line, answer] of cases) {
    it(`${line}`, async () => {
      expect(await bot.say('ann', line)).toMatch(answer);
      expect(await stored()).toEqual([]);
    });
  }

  it('refuses an alert over the limit, counting only live ones', async () => {
    for (let i = 1; i <= 5; i++) expect(await bot.say('ann', `/alert btc above ${100000 + i}`)).toMatch(/^Alert \w+ set/);
    expect(await bot.say('ann', '/alert btc move 5% 1h')).toMatch(/You have 5 active alerts, the most allowed\. \/alerts lists them; \/alert remove <id> frees one\./);
    const [first] = await stored();
    expect(await bot.say('ann', `/alert remove ${first!.alertId}`)).toBe(`Alert ${first!.alertId} removed.`);
    expect(await bot.say('ann', '/alert btc move 5% 1h')).toMatch(/^Alert \w+ set/);
  });
});

describe('/alerts', () => {
  it('shows each alert that is not removed with its state in words, in the user\'s time zone', async () => {
    await bot.say('ann', '/settings timezone Europe/Athens');
    await bot.say('ann', '/alert btc above 100000');
    await bot.say('ann', '/alert eth below 2500 repeat 1h for 7d');
    await bot.say('ann', '/alert sol move 5% 1h down repeat 30m');
    await bot.say('ann', '/alert bnb above 900 for 1d');
    await bot.say('ann', '/alert btc above 200000');
    const [armed, cooling, coolingMove, expiring, removed] = await stored();

    // The eth alert fired 10 minutes ago and cools for an hour; the sol one fired 2 hours ago.
    const fire = (a: PriceAlert, at: number, state: 'fired' | 'cooling') =>
      bot.store.fireAlerts([{ username: 'ann', alertId: a.alertId, version: a.version, state, at, messages: [] }]);
    const now = bot.clock.now();
    expect((await fire(cooling!, now, 'cooling')).has(cooling!.alertId)).toBe(true);
    await fire(coolingMove!, now, 'cooling');
    bot.clock.advance(10 * MINUTE);
    await bot.store.deleteAlert('ann', removed!.alertId);

    const list = await bot.say('ann', '/alerts');
    expect(list).toMatch(/^Your alerts \(4 live, at most 5\)/);
    const row = (id: string) => list.split('\n').find((line) => line.startsWith(id))?.trimEnd() ?? '';
    expect(row(armed!.alertId)).toMatch(/bitcoin\s+above \$100,000\.00\s+once\s+no expiry\s+armed$/);
    expect(row(cooling!.alertId)).toMatch(/ethereum\s+below \$2,500\.00\s+repeats, at most every 1h\s+until 2026-12-02 14:00 UTC\+2\s+fired at 2026-11-25 14:00 UTC\+2, cooling until 2026-11-25 15:00 UTC\+2$/);
    expect(row(expiring!.alertId)).toMatch(/binancecoin\s+above \$900\.00\s+once\s+until 2026-11-26 14:00 UTC\+2\s+armed$/);
    expect(list).not.toContain(removed!.alertId);

    // Past its cool-down a repeating threshold waits for the price to come back; a fired
    // one-shot alert says when; an alert past its expiry says so.
    bot.clock.advance(DAY);
    await fire(await bot.store.getAlert('ann', armed!.alertId) as PriceAlert, bot.clock.now(), 'fired');
    const later = await bot.say('ann', '/alerts');
    const laterRow = (id: string) => later.split('\n').find((line) => line.startsWith(id))?.trimEnd() ?? '';
    expect(laterRow(cooling!.alertId)).toMatch(/fired, waiting for the price to move back$/);
    expect(laterRow(coolingMove!.alertId)).toMatch(/solana\s+a 5% fall within 1h\s+repeats, at most every 30m\s+no expiry\s+fired, re-arming with the next prices$/);
    expect(laterRow(armed!.alertId)).toMatch(/fired at 2026-11-26 14:10 UTC\+2$/);
    expect(laterRow(expiring!.alertId)).toMatch(/expired at 2026-11-26 14:00 UTC\+2$/);
    // Neither a fired one-shot alert nor one past its expiry counts as active.
    expect(later).toMatch(/^Your alerts \(2 live, at most 5\)/);
  });

  it('says how to set one when there are none', async () => {
    expect(await bot.say('ann', '/alerts')).toMatch(/Your alerts \(0 live, at most 5\)[\s\S]*\(nothing yet\)[\s\S]*Set one with \/alert btc above 100000\./);
  });
});

describe('describeAlert (what a fired alert\'s message quotes)', () => {
  it('reads the alert in the reader\'s currency and zone', () => {
    const base = { alertId: 'a1', username: 'ann', coinId: 'bitcoin', state: 'armed', createdAt: 0, updatedAt: 0, fireCount: 0, version: 1 } as const;
    const eurAthens = moneyView('eur', { rates: { eur: '0.5' }, simulated: false }, 'Europe/Athens');
    expect(describeAlert({ ...base, condition: 'above', targetPrice: '100' }, eurAthens)).toBe('above €50.00');
    expect(describeAlert({ ...base, condition: 'move', movePercent: '5', moveWindowMs: HOUR, moveDirection: 'either', repeatMs: 30 * MINUTE, expiresAt: Date.UTC(2026, 6, 1, 9) }, eurAthens))
      .toBe('a 5% move either way within 1h, repeats, at most every 30m, until 2026-07-01 12:00 UTC+3');
  });
});
