/**
 * The daily digest: due at the user's local hour (across daylight-saving changes), queued once per
 * user and local date however often and on however many workers it runs, with exact figures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PriceAlert } from '../core/domain';
import { renderPlainText } from '../core/messages';
import { isDigestHour, localDateHour, runDigest } from '../core/notifications/digest';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;

beforeEach(async () => {
  bot = await makeTestBot();
  await bot.signup('ann');
});

afterEach(async () => {
  await bot.close();
});

const at = (iso: string) => Date.parse(iso);

async function digestsOf(username: string): Promise<string[]> {
  await bot.deliverOutbox();
  return bot.chats.received.filter((r) => r.to === `user:console:${username}`).map((r) => renderPlainText(r.message).replace(/ {2,}/g, ' '));
}

describe('when a digest is due', () => {
  it('comes at the user\'s local hour on both sides of a daylight-saving change (Europe/Athens, 08:00)', async () => {
    await bot.store.updateAccount('ann', { timezone: 'Europe/Athens', digestHour: 8 });
    // Summer time (UTC+3): 08:00 in Athens is 05:00 UTC.
    for (const [iso, expected] of [['2026-10-24T04:30:00Z', 0], ['2026-10-24T05:20:00Z', 1], ['2026-10-24T06:00:00Z', 0]] as const) {
      bot.clock.time = at(iso);
      expect(await runDigest(bot.core.services, bot.clock.now()), iso).toBe(expected);
    }
    // Summer time ends on 25 October 2026; now UTC+2: 08:00 is 06:00 UTC.
    for (const [iso, expected] of [['2026-10-26T05:00:00Z', 0], ['2026-10-26T06:00:00Z', 1]] as const) {
      bot.clock.time = at(iso);
      expect(await runDigest(bot.core.services, bot.clock.now()), iso).toBe(expected);
    }
    const digests = await digestsOf('ann');
    expect(digests.map((d) => d.split('\n')[0])).toEqual(['📊 Your daily digest, 2026-10-24', '📊 Your daily digest, 2026-10-26']);
  });

  it('is in UTC for a user who set no time zone, and never without /settings digest', async () => {
    await bot.signup('bob');
    await bot.store.updateAccount('ann', { digestHour: 12 });
    bot.clock.time = at('2026-11-25T12:10:00Z');
    expect(await runDigest(bot.core.services, bot.clock.now())).toBe(1);
    expect(await digestsOf('bob')).toEqual([]);
  });

  it('an hour skipped by a spring-forward change is served in the hour after', () => {
    // Europe/Athens skips 03:00-04:00 on 29 March 2026: 04:00 local is 01:00 UTC.
    expect(isDigestHour(at('2026-03-29T01:10:00Z'), 'Europe/Athens', 3)).toBe(true);
    expect(isDigestHour(at('2026-03-30T01:10:00Z'), 'Europe/Athens', 3)).toBe(false);
    expect(localDateHour(at('2026-03-30T01:10:00Z'), 'Europe/Athens')).toEqual({ date: '2026-03-30', hour: 4 });
    expect(localDateHour(at('2026-03-30T01:10:00Z'), 'Not/AZone')).toEqual({ date: '2026-03-30', hour: 1 });
  });

  it('is queued once per user and day, however often it runs and on however many workers', async () => {
    await bot.store.updateAccount('ann', { digestHour: 9 });
    bot.clock.time = at('2026-11-25T09:00:00Z');
    const counts = await Promise.all([runDigest(bot.core.services, bot.clock.now()), runDigest(bot.core.services, bot.clock.now())]);
    expect(counts.sort()).toEqual([0, 1]);
    bot.clock.advance(45 * 60_000);
    expect(await runDigest(bot.core.services, bot.clock.now())).toBe(0);
    expect(await digestsOf('ann')).toHaveLength(1);
    bot.clock.advance(24 * 3_600_000);
    expect(await runDigest(bot.core.services, bot.clock.now())).toBe(1);
  });

  it('reaches every account, over several pages', async () => {
    for (let i = 0; i < 105; i++) {
      await bot.store.createAccount(
        { username: `u${String(i).padStart(3, '0')}`, email: `u${i}@example.com`, role: 'user', createdAt: 0, currency: 'usd', emailNotifications: false, digestHour: 9 } as never,
        '100',
        { key: `console:u${i}`, platform: 'console', username: `u${String(i).padStart(3, '0')}`, linkedAt: 0 },
      );
    }
    bot.clock.time = at('2026-11-25T09:00:00Z');
    expect(await runDigest(bot.core.services, bot.clock.now())).toBe(105);
  });
});

describe('what it says', () => {
  it('portfolio value at current prices, the day\'s change from each coin\'s 24 h change, cash, and the alerts fired in the last 24 h', async () => {
    bot.feed.set('bitcoin', '50000');
    bot.feed.set('ethereum', '2000');
    await bot.say('ann', '/buy btc 0.02'); // $1,000
    await bot.say('ann', '/buy eth 0.5'); // $1,000
    await bot.store.updateAccount('ann', { digestHour: 12, emailNotifications: true });
    const alert = (alertId: string, coinId: string, targetPrice: string): PriceAlert => ({
      alertId, username: 'ann', coinId, condition: 'above', targetPrice, state: 'armed', createdAt: 0, fireCount: 0, version: 1, updatedAt: 0,
    });
    await bot.store.createAlert(alert('a1', 'bitcoin', '55000'), 20);
    await bot.store.createAlert(alert('a2', 'ethereum', '1000'), 20);
    bot.clock.time = at('2026-11-24T11:00:00Z'); // 25 h before the digest: not in it
    await bot.store.fireAlerts([{ username: 'ann', alertId: 'a2', version: 1, state: 'fired', at: bot.clock.now(), messages: [] }]);
    bot.clock.time = at('2026-11-25T08:00:00Z');
    await bot.store.fireAlerts([{ username: 'ann', alertId: 'a1', version: 1, state: 'fired', at: bot.clock.now(), messages: [] }]);

    // BTC up 20%: 0.02 × 60,000 = 1,200 now, change 1,200 × 20 / 120 = +200. ETH at 1,600, down
    // 20%: 0.5 × 1,600 = 800 now, change 800 × -20 / 80 = -200. Together: no change.
    bot.clock.time = at('2026-11-25T12:00:00Z');
    bot.feed.set('bitcoin', '60000', '20');
    bot.feed.set('ethereum', '1600', '-20');
    expect(await runDigest(bot.core.services, bot.clock.now())).toBe(2); // chat and email
    const [text] = await digestsOf('ann');
    expect(text).toContain('Portfolio value: $10,000.00');
    expect(text).toContain("Day's change: $0.00 (0.00%)");
    expect(text).toContain('Cash: $8,000.00');
    expect(text).toContain('Alerts fired (24 h): 1');
    expect(text).toContain('BTC above $55,000.00 2026-11-25 08:00 UTC');
    expect(text).not.toContain('ETH above');
    expect(bot.notifier.inbox('ann')).toEqual([{ subject: 'CryptoPulse daily digest, 2026-11-25', body: expect.stringMatching(/Portfolio value: +\$10,000\.00/) }]);

    // Another day: only BTC moved, up 25%.
    bot.clock.advance(24 * 3_600_000);
    bot.feed.set('bitcoin', '60000', '25');
    bot.feed.set('ethereum', '1600', null);
    await runDigest(bot.core.services, bot.clock.now());
    const latest = (await digestsOf('ann'))[1]!;
    // 1,200 × 25 / 125 = 240; before = 10,000 - 240 = 9,760; 240 / 9,760 = 2.459...%
    expect(latest).toContain("Day's change: +$240.00 (+2.46%)");
    expect(latest).toContain('Alerts fired (24 h): none');
  });

  it('shows money in the user\'s currency and times in their zone', async () => {
    await bot.store.updateAccount('ann', { digestHour: 14, timezone: 'Europe/Athens', currency: 'eur' });
    bot.clock.time = at('2026-11-25T12:00:00Z');
    await runDigest(bot.core.services, bot.clock.now());
    const [text] = await digestsOf('ann');
    expect(text).toMatch(/Portfolio value: €/);
    expect(text).toContain('2026-11-25 14:00 UTC+2');
  });
});
