/**
 * When no fresh price comes in for a coin, its alerts and orders pause and their owners are told
 * once (not once per tick, not once per instance, not again after a restart), and told once more
 * when prices return. What a user would notice: one notice each way, in the chat their alerts go
 * to, and nothing firing or filling on an old price meanwhile.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CORE_CONFIG } from '../core/app';
import { renderPlainText } from '../core/messages';
import { alertPipeline } from './support/alerts';
import { makeTestBot, RecordingChats, type TestBot } from './support/harness';
import { secondInstance } from './support/orders';

const MAX_AGE = DEFAULT_CORE_CONFIG.maxQuoteAgeMs;

/** What the chats received: to whom (identity key), as the terminal shows it. */
function sent(chats: RecordingChats): Array<{ to: string; text: string }> {
  return chats.received.map((r) => ({ to: r.to.replace(/^(user|chat):/, ''), text: renderPlainText(r.message) }));
}
const to = (chats: RecordingChats, user: string) => sent(chats).filter((s) => s.to === `console:${user}`).map((s) => s.text);

/** "2026-11-26 12:03 UTC", as the notice names the last fresh price. */
const utc = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
  bot.feed.set('bitcoin', '50000').set('ethereum', '3000');
  for (const user of ['ann', 'bob', 'cat', 'dan']) await bot.signup(user);
});
afterEach(() => bot.close());

/** A tick in which Ethereum is priced afresh and Bitcoin is not: its quote stays (or is put) old.
 *  The old Bitcoin quote is new to the engine and crosses every Bitcoin alert and order set
 *  below, so only the freshness check keeps them from firing. */
function ethOnlyTick(): void {
  bot.clock.advance(30_000);
  bot.feed.set('ethereum', '3000');
  bot.feed.quotes.set('bitcoin', { coinId: 'bitcoin', price: '30000', change24hPercent: null, receivedAt: bot.clock.now() - MAX_AGE - 1, simulated: false });
}

describe('price outage notices', () => {
  it('tells each owner once across ticks, instances and a restart; nothing fires or fills; prices return: live again, once', async () => {
    const lastFresh = bot.clock.now();
    await bot.say('ann', '/alert btc above 55000');
    await bot.say('ann', '/alert btc below 40000');
    expect(await bot.say('ann', '/buy btc 0.01 at 45000')).toMatch(/Order [0-9a-f]{8} placed/);
    expect(await bot.say('bob', '/buy btc 0.01 at 45000')).toMatch(/Order [0-9a-f]{8} placed/);
    await bot.send('cat', '/settings alerts off');
    await bot.say('cat', '/alert btc above 55000');
    await bot.say('dan', '/alert eth above 5000'); // Ethereum stays fresh: dan hears nothing

    const chats = new RecordingChats();
    const second = secondInstance(bot, bot.store);
    const instances = [alertPipeline(bot.core.services, chats), alertPipeline(second.core.services, chats)];
    const checkAll = async () => (await Promise.all(instances.map((i) => i.check()))).reduce((a, b) => a + b, 0);

    let fired = 0;
    for (let i = 0; i < 10; i++) {
      ethOnlyTick();
      fired += await checkAll();
    }
    // A restart during the outage: a new engine, past its start-up grace, tells nobody again.
    const restarted = alertPipeline(bot.core.services, chats);
    for (let i = 0; i < 4; i++) {
      ethOnlyTick();
      fired += await restarted.check();
    }

    expect(fired).toBe(0);
    expect(to(chats, 'ann')).toEqual([
      `⏸ Bitcoin (BTC): paused, no fresh price\n\nNo fresh price for Bitcoin (BTC) since ${utc(lastFresh)}: your 2 alerts and 1 order on it are paused, so nothing fires or fills on an old price. They resume by themselves when prices return.`,
    ]);
    expect(to(chats, 'bob')).toEqual([expect.stringContaining('your 1 order on it is paused, so nothing fires or fills on an old price. It resumes by itself')]);
    expect(sent(chats).map((s) => s.to).sort()).toEqual(['console:ann', 'console:bob']); // cat: alerts off; dan: fresh coin
    expect(await bot.say('ann', '/alerts')).not.toMatch(/fired/i);
    expect((await bot.store.listTransactions('ann', { limit: 10 })).items).toEqual([]);
    expect((await bot.store.listTransactions('bob', { limit: 10 })).items).toEqual([]);

    // Prices return, crossing the "above 55000" alerts of ann and cat.
    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '56000');
    fired = await checkAll();
    fired += await restarted.check();
    for (let i = 0; i < 3; i++) {
      bot.clock.advance(30_000);
      bot.feed.set('bitcoin', '56000').set('ethereum', '3000');
      fired += await checkAll();
    }
    expect(fired).toBe(2);
    const live = /Fresh prices for Bitcoin \(BTC\) are coming in again: your alerts and orders on it are live again/;
    expect(to(chats, 'ann').slice(1)).toEqual(expect.arrayContaining([expect.stringMatching(live), expect.stringMatching(/BTC is above \$55,000\.00/)]));
    expect(to(chats, 'ann')).toHaveLength(3);
    expect(to(chats, 'bob').slice(1)).toEqual([expect.stringMatching(live)]);
    expect(to(chats, 'cat')).toEqual([]);
    expect(to(chats, 'dan')).toEqual([]);
  });

  it('waits out the start-up grace, names a coin never priced, and says nothing for a coin nobody watches', async () => {
    await bot.say('ann', '/alert btc above 55000');
    await bot.say('bob', '/alert eth above 5000');
    bot.feed.quotes.delete('ethereum'); // never priced since start; tether has no quote and no alerts
    bot.clock.advance(10 * 60_000); // a slow first poll: Bitcoin's quote is old when the engine starts
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect((await alerts.engine.tick()).pausedCoins).toBe(0);
    bot.clock.advance(MAX_AGE);
    expect((await alerts.engine.tick()).pausedCoins).toBe(0);
    await alerts.worker.runOnce();
    expect(sent(chats)).toEqual([]);

    bot.clock.advance(1);
    expect((await alerts.engine.tick()).pausedCoins).toBe(2);
    await alerts.worker.runOnce();
    expect(to(chats, 'ann')).toEqual([expect.stringContaining('No fresh price for Bitcoin (BTC) since')]);
    expect(to(chats, 'bob')).toEqual([expect.stringContaining('No fresh price for Ethereum (ETH) yet: your 1 alert on it is paused')]);
    expect(sent(chats)).toHaveLength(2);
  });

  it('tells an owner again in a later outage, after the first one ended', async () => {
    await bot.say('ann', '/alert btc above 55000');
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    const outage = async () => {
      for (let i = 0; i < 4; i++) {
        ethOnlyTick();
        await alerts.check();
      }
      bot.clock.advance(30_000);
      bot.feed.set('bitcoin', '50000');
      await alerts.check();
    };
    await outage();
    await outage();
    expect(to(chats, 'ann').map((t) => t.split('\n')[0])).toEqual([
      '⏸ Bitcoin (BTC): paused, no fresh price', '▶️ Bitcoin (BTC): live again', '⏸ Bitcoin (BTC): paused, no fresh price', '▶️ Bitcoin (BTC): live again',
    ]);
  });
  it('an order whose time runs out during the outage ends when prices return, and does not fill on them', async () => {
    expect(await bot.say('ann', '/buy btc 0.1 at 45000 for 1h')).toMatch(/Order [0-9a-f]{8} placed/);
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    for (let i = 0; i < 130; i++) {
      ethOnlyTick(); // an hour and five minutes without a fresh Bitcoin price
      await alerts.check();
    }
    expect((await bot.store.getPortfolio('ann'))!.reservedCash).toBe('4500');
    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '44000'); // reaches the limit, but the order's hour is over
    const report = await alerts.engine.tick();
    await alerts.worker.runOnce();
    expect(report).toMatchObject({ ordersFilled: 0, ordersEnded: 1, pausedCoins: 0 });
    expect((await bot.store.listTransactions('ann', { limit: 10 })).items).toEqual([]);
    // Told it ended, and why; not that it is live again, as nothing is left on the coin.
    expect(to(chats, 'ann')).toEqual([expect.stringMatching(/^⏸ Bitcoin \(BTC\): paused, no fresh price/), expect.stringMatching(/^Order [0-9a-f]{8} ended[\s\S]*its time ran out/)]);
  });
  it('a store error while queuing the notice: the next tick tells the owner, still once', async () => {
    await bot.say('ann', '/alert btc above 55000');
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    ethOnlyTick();
    await alerts.check();
    ethOnlyTick();
    ethOnlyTick();
    ethOnlyTick(); // past the start-up grace (maxQuoteAgeMs from the first tick)
    vi.spyOn(bot.store, 'enqueueMessages').mockRejectedValueOnce(new Error('store unreachable'));
    expect((await alerts.engine.tick()).pausedCoins).toBe(1); // the tick itself goes on
    await alerts.worker.runOnce();
    expect(sent(chats)).toEqual([]);
    for (let i = 0; i < 3; i++) {
      ethOnlyTick();
      await alerts.check();
    }
    expect(to(chats, 'ann')).toEqual([expect.stringMatching(/^⏸ Bitcoin \(BTC\): paused/)]);
  });
});
