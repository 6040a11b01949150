/** Price alerts fire once, to the right user, in their chats and by email; never twice. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramBot } from '../adapters/telegram/bot';
import { AlertEngine } from '../core/alert-engine';
import { createCore, DEFAULT_CORE_CONFIG } from '../core/app';
import type { LinkedIdentity } from '../core/domain';
import { renderPlainText, type RichMessage } from '../core/messages';
import type { ChatDelivery } from '../core/ports';
import { BcryptPasswords } from '../infra/support/system';
import { deliverThroughAdapters } from '../src/chat-delivery';
import { countingIds, makeTestBot, silentLogger, type TestBot } from './support/harness';
import { startTelegramStandin } from './support/telegram-standin';

function recordingDelivery(): ChatDelivery & { sent: Array<{ to: string; text: string }> } {
  const sent: Array<{ to: string; text: string }> = [];
  return { sent, async deliver(identity: LinkedIdentity, message: RichMessage) {
    sent.push({ to: identity.key, text: renderPlainText(message) });
    return true;
  } };
}

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
  bot.feed.set('bitcoin', '50000').set('ethereum', '3000');
  await bot.signup('ann');
  await bot.signup('bob');
});
afterEach(() => bot.close());

describe('alert engine', () => {
  it('fires a crossed alert once, to its owner only, and leaves the others', async () => {
    await bot.say('ann', '/alert btc above 55000');
    await bot.say('ann', '/alert eth below 2500');
    await bot.say('bob', '/alert btc above 60000');
    const chats = recordingDelivery();
    const engine = new AlertEngine(bot.core.services, chats);
    expect(await engine.check()).toBe(0);

    bot.feed.set('bitcoin', '56000');
    expect(await engine.check()).toBe(1);
    expect(chats.sent).toEqual([{ to: 'console:ann', text: expect.stringMatching(/BTC is above \$55,000\.00[\s\S]*Bitcoin is now \$56,000\.00/) }]);
    expect(await engine.check()).toBe(0);
    expect((await bot.send('ann', '/alerts')).table!.rows.map((r) => r[1])).toEqual(['ethereum']);

    bot.feed.set('ethereum', '2400');
    expect(await engine.check()).toBe(1);
    expect(chats.sent.at(-1)!.text).toMatch(/ETH is below \$2,500\.00/);
  });

  it('does not fire on a stale quote', async () => {
    await bot.say('ann', '/alert btc above 55000');
    bot.feed.set('bitcoin', '56000');
    bot.clock.advance(DEFAULT_CORE_CONFIG.maxQuoteAgeMs + 1);
    expect(await new AlertEngine(bot.core.services, recordingDelivery()).check()).toBe(0);
  });

  it('fires each alert exactly once when two bot instances check the same store at once', async () => {
    for (let i = 0; i < 10; i++) await bot.say(i % 2 ? 'ann' : 'bob', `/alert btc above ${51000 + i}`);
    const second = createCore({
      store: bot.store, prices: bot.feed, notifier: bot.notifier, passwords: new BcryptPasswords(4), clock: bot.clock,
      ids: countingIds('second'), logger: silentLogger, config: DEFAULT_CORE_CONFIG,
    });
    const [a, b] = [recordingDelivery(), recordingDelivery()];
    bot.feed.set('bitcoin', '70000');
    const fired = await Promise.all([new AlertEngine(bot.core.services, a).check(), new AlertEngine(second.services, b).check()]);
    expect(fired[0] + fired[1]).toBe(10);
    expect(a.sent.length + b.sent.length).toBe(10);
  });

  it('emails the alert when the user has email on', async () => {
    await bot.say('ann', '/settings email on');
    await bot.say('ann', '/alert btc above 55000');
    bot.feed.set('bitcoin', '56000');
    await new AlertEngine(bot.core.services, recordingDelivery()).check();
    expect(bot.notifier.sent).toEqual([{ username: 'ann', subject: 'CryptoPulse alert: BTC is above $55,000.00', body: expect.stringContaining('$56,000.00') }]);
  });

  it('reaches the user in their Telegram private chat', async () => {
    const standin = await startTelegramStandin({ now: () => bot.clock.now() });
    const tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: bot.core, logger: silentLogger });
    try {
      await tg.start();
      const tom = standin.user(3001, 'Tom');
      await standin.send(tom, '/signup tom tom@example.com');
      await standin.waitFor(() => standin.botMessages(tom.id)[0]);
      await standin.send(tom, '/alert btc above 55000');
      await standin.waitFor(() => standin.botMessages(tom.id)[1]);
      bot.feed.set('bitcoin', '56000');
      const engine = new AlertEngine(bot.core.services, deliverThroughAdapters([tg], silentLogger));
      expect(await engine.check()).toBe(1);
      const pushed = await standin.waitFor(() => standin.botMessages(tom.id)[2]);
      expect(pushed.text).toMatch(/BTC is above \$55,000\.00/);
    } finally {
      await tg.stop();
      await standin.close();
    }
  });
});
