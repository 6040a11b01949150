/**
 * Alerts and broadcasts end to end through the core: the user sets them by command, prices move,
 * the engine claims what crossed (with its messages, in one step), and the outbox worker delivers.
 * What a user would notice: the right message, in the right chat, once; repeats that respect their
 * cool-down and re-arm margin; expiry; group broadcasts that pause; nothing lost in a crash.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCore, DEFAULT_CORE_CONFIG } from '../core/app';
import { AlertEngine } from '../core/alerts/engine';
import { renderPlainText } from '../core/messages';
import { OutboxWorker } from '../core/notifications/outbox-worker';
import { alertPipeline, twoInstancesMatchTheSameTicks } from './support/alerts';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { BcryptPasswords } from '../infra/support/system';
import { countingIds, makeTestBot, RecordingChats, silentLogger, type TestBot } from './support/harness';

/** What the chats received: to whom (identity key or chat address), as the terminal shows it. */
function sent(chats: RecordingChats): Array<{ to: string; text: string }> {
  return chats.received.map((r) => ({ to: r.to.replace(/^(user|chat):/, ''), text: renderPlainText(r.message) }));
}

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
  bot.feed.set('bitcoin', '50000').set('ethereum', '3000');
  await bot.signup('ann');
  await bot.signup('bob');
});
afterEach(() => bot.close());

/** Sets prices as a new tick (quotes received a little later). */
function tick(prices: Record<string, string>, advanceMs = 30_000): void {
  bot.clock.advance(advanceMs);
  for (const [coin, price] of Object.entries(prices)) bot.feed.set(coin, price);
}

describe('alert engine', () => {
  it('fires a crossed alert once, to its owner only, and leaves the others armed', async () => {
    await bot.say('ann', '/alert btc above 55000');
    await bot.say('ann', '/alert eth below 2500');
    await bot.say('bob', '/alert btc above 60000');
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect(await alerts.check()).toBe(0);

    tick({ bitcoin: '56000' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats)).toEqual([{ to: 'console:ann', text: expect.stringMatching(/BTC is above \$55,000\.00[\s\S]*Bitcoin is now \$56,000\.00/) }]);
    tick({ bitcoin: '57000' });
    expect(await alerts.check()).toBe(0);
    expect(sent(chats)).toHaveLength(1);
    expect(await bot.say('ann', '/alerts')).toMatch(/fired/i);

    tick({ ethereum: '2400' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats).at(-1)!.text).toMatch(/ETH is below \$2,500\.00/);
  });

  it('does not fire on a stale quote', async () => {
    await bot.say('ann', '/alert btc above 55000');
    bot.feed.set('bitcoin', '56000');
    bot.clock.advance(DEFAULT_CORE_CONFIG.maxQuoteAgeMs + 1);
    expect(await alertPipeline(bot.core.services, new RecordingChats()).check()).toBe(0);
  });

  it('picks up an alert set after the index was built, within one tick', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    await alerts.engine.start();
    await bot.say('ann', '/alert btc above 51000');
    tick({ bitcoin: '52000' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats).map((s) => s.to)).toEqual(['console:ann']);
  });

  it('does not fire an alert removed after the index was built', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect(await bot.say('ann', '/alert btc above 51000')).toMatch(/Alert (\w+) set/);
    const id = (await bot.store.listAlerts('ann'))[0]!.alertId;
    await alerts.engine.start();
    await bot.say('ann', `/alert remove ${id}`);
    tick({ bitcoin: '52000' });
    expect(await alerts.check()).toBe(0);
    expect(sent(chats)).toEqual([]);
  });

  it('fires a move alert when the price moves by the percentage within the window', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect(await bot.say('ann', '/alert btc move 5% 1h up')).toMatch(/set/);
    await alerts.check(); // 50,000 is the baseline
    tick({ bitcoin: '52000' }, 10 * 60_000);
    expect(await alerts.check()).toBe(0); // +4%
    tick({ bitcoin: '52600' }, 10 * 60_000);
    expect(await alerts.check()).toBe(1); // +5.2% in 20 minutes
    expect(sent(chats)[0]!.text).toMatch(/BTC is up 5\.20% in 1h/);
  });

  it('repeats after its cool-down, and only once the price has moved back past the margin', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect(await bot.say('ann', '/alert btc above 51000 repeat 30m')).toMatch(/set/);
    tick({ bitcoin: '51500' });
    expect(await alerts.check()).toBe(1);
    // Hovering at the line for an hour: the cool-down passes, but the price never moved back.
    for (let i = 0; i < 6; i++) {
      tick({ bitcoin: i % 2 ? '51010' : '50990' }, 10 * 60_000);
      expect(await alerts.check()).toBe(0);
    }
    tick({ bitcoin: '50700' }, 60_000); // 0.59% below: past the 0.5% margin, re-arms
    expect(await alerts.check()).toBe(0);
    tick({ bitcoin: '51200' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats)).toHaveLength(2);
  });

  it('lets an alert expire instead of firing after its time', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    expect(await bot.say('ann', '/alert btc above 51000 for 1h')).toMatch(/set/);
    tick({ bitcoin: '50500' }, 61 * 60_000);
    await alerts.check();
    tick({ bitcoin: '52000' });
    expect(await alerts.check()).toBe(0);
    expect(sent(chats)).toEqual([]);
    expect(await bot.say('ann', '/alerts')).toMatch(/expired/i);
  });

  it('sends fired alerts where the user chose: one chat, or nowhere but email', async () => {
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    await bot.send('ann', '/settings email on');
    await bot.send('ann', '/settings alerts off');
    await bot.say('ann', '/alert btc above 51000');
    tick({ bitcoin: '52000' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats)).toEqual([]);
    expect(bot.notifier.sent.map((m) => m.subject)).toEqual([expect.stringMatching(/BTC is above/)]);
  });
});

describe('several instances on one store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cp-alerts-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Two cores on two connections to one SQLite file, sharing the clock and prices. */
  async function twoInstances() {
    const file = join(dir, 'shared.sqlite');
    // More alerts fire at once here than the per-chat cap lets through in a minute.
    const config = { ...DEFAULT_CORE_CONFIG, alertsPerMinute: 100 };
    const first = await makeTestBot({ store: SqliteStore.open({ file }), config });
    const secondStore = SqliteStore.open({ file });
    const second = createCore({
      store: secondStore, prices: first.feed, notifier: first.notifier, passwords: new BcryptPasswords(4),
      clock: first.clock, ids: countingIds('second'), logger: silentLogger, config,
    });
    return { first, second, close: async () => { await secondStore.close(); await first.close(); } };
  }

  it('notifies each alert once when two instances match the same ticks', async () => {
    const { first, second, close } = await twoInstances();
    try {
      const { crossing, again } = await twoInstancesMatchTheSameTicks(first, second.services, 20);
      expect(crossing).toEqual({ fired: 21, messages: 21, distinct: 21 });
      // Within the repeating alert's cool-down nothing fires again, on either instance.
      expect(again).toEqual({ fired: 0, messages: 21 });
    } finally {
      await close();
    }
  });

  it('delivers a message claimed by an instance that died before sending it, once, after restart', async () => {
    const { first, second, close } = await twoInstances();
    try {
      first.feed.set('bitcoin', '50000');
      await first.signup('ann');
      await first.say('ann', '/alert btc above 51000');
      const engine = new AlertEngine(first.core.services);
      first.clock.advance(30_000);
      first.feed.set('bitcoin', '52000');
      // The claim and its message are written; the process dies before its worker delivers:
      // its worker had leased the message and never settled it.
      expect((await engine.tick()).fired).toBe(1);
      expect(await first.store.leaseOutbox(first.clock.now(), 10, 60_000)).toHaveLength(1);

      const chats = new RecordingChats();
      const survivor = new OutboxWorker(second.services, chats);
      await survivor.runOnce();
      expect(sent(chats)).toEqual([]); // still leased by the dead worker
      first.clock.advance(61_000);
      await survivor.runOnce();
      await survivor.runOnce();
      expect(sent(chats)).toEqual([{ to: 'console:ann', text: expect.stringMatching(/BTC is above/) }]);
    } finally {
      await close();
    }
  });
});

describe('group broadcasts', () => {
  const group = 'console:group';
  async function inGroup(user: string, text: string, chatAdmin = false, topic?: string): Promise<string> {
    const result = await bot.core.dispatcher.dispatch({
      identity: { platform: 'console', userId: user }, chat: { type: 'group', id: group, ...(topic ? { topic } : {}) }, text,
      messageId: `g${Math.random()}`, isChatAdmin: async () => chatAdmin,
    });
    return renderPlainText(result.message);
  }

  it('posts into the group on a crossing, with price and 24 h change, then cools down', async () => {
    expect(await inGroup('carol', '/broadcast add btc above 51000', true)).toMatch(/added|set/i);
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    tick({ bitcoin: '51500' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats)).toEqual([{ to: group, text: expect.stringMatching(/BTC is above \$51,000\.00[\s\S]*\$51,500\.00[\s\S]*24 h change \+1\.50%/) }]);
    // Back down and up again inside the cool-down: no second post.
    tick({ bitcoin: '50000' });
    await alerts.check();
    tick({ bitcoin: '51600' });
    expect(await alerts.check()).toBe(0);
    // After the cool-down and a move back, it posts again.
    tick({ bitcoin: '50000' }, DEFAULT_CORE_CONFIG.broadcastCooldownMs);
    await alerts.check();
    tick({ bitcoin: '51700' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats)).toHaveLength(2);
  });

  it('stays quiet while paused and after the bot was removed from the group', async () => {
    await inGroup('carol', '/broadcast add btc above 51000', true);
    await inGroup('carol', '/broadcast pause', true);
    const removed = new RecordingChats().block(`chat:${group}`, 'bot was kicked');
    const alerts = alertPipeline(bot.core.services, removed);
    tick({ bitcoin: '52000' });
    expect(await alerts.check()).toBe(0);

    await inGroup('carol', '/broadcast resume', true);
    tick({ bitcoin: '52100' });
    expect(await alerts.check()).toBe(1); // claimed, then the platform says the bot is gone
    expect(sent(removed)).toEqual([]);
    expect((await bot.store.getChatStates([group])).get(group)?.unreachableSince).toBeDefined();
    tick({ bitcoin: '50000' }, DEFAULT_CORE_CONFIG.broadcastCooldownMs);
    await alerts.check();
    tick({ bitcoin: '52200' });
    expect(await alerts.check()).toBe(0); // skipped: the group is marked unreachable
  });

  it("posts a topic's rule into its topic, and nowhere once the bot was removed from the group", async () => {
    await inGroup('carol', '/broadcast add btc above 51000', true, '7');
    const chats = new RecordingChats();
    const alerts = alertPipeline(bot.core.services, chats);
    tick({ bitcoin: '51500' });
    expect(await alerts.check()).toBe(1);
    expect(sent(chats).map((s) => s.to)).toEqual([`${group}/7`]);

    await bot.store.markUnreachable(group, 'bot was kicked', bot.clock.now());
    tick({ bitcoin: '50000' }, DEFAULT_CORE_CONFIG.broadcastCooldownMs);
    await alerts.check();
    tick({ bitcoin: '51600' });
    expect(await alerts.check()).toBe(0);
    expect(sent(chats)).toHaveLength(1);
  });
});
