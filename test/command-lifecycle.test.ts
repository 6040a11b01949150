/**
 * What a user is told about a command once it reaches the bot: a committed trade is reported as
 * done whatever happens to bookkeeping after it, and a command that changes something but arrives
 * long after it was sent (the bot was down, the platform kept the message) changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramBot } from '../adapters/telegram/bot';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';
import { startTelegramStandin } from './support/telegram-standin';

let bot: TestBot;
afterEach(() => bot.close());

describe('bookkeeping after a command', () => {
  let failActivity: boolean;
  beforeEach(async () => {
    failActivity = false;
    const store = SqliteStore.open({ file: ':memory:' });
    const recordActivity = store.recordActivity.bind(store);
    store.recordActivity = async (entry) => {
      if (failActivity) throw new Error('activity table unavailable');
      return recordActivity(entry);
    };
    bot = await makeTestBot({ store });
    await bot.signup('ann');
  });

  it('reports a committed trade as done when the activity write fails, and a retry does not trade twice', async () => {
    failActivity = true;
    const reply = await bot.say('ann', '/buy btc $100', { messageId: 'tg-1' });
    expect(reply).toMatch(/^Bought /);
    expect(reply).not.toMatch(/nothing was changed/);
    // The platform redelivers the same message: still one trade.
    expect(await bot.say('ann', '/buy btc $100', { messageId: 'tg-1' })).not.toMatch(/nothing was changed/);
    failActivity = false;
    expect((await bot.store.listTransactions('ann', { limit: 10 })).items).toHaveLength(1);
  });

  it('reports a refused command as refused, not as our failure, when the activity write fails', async () => {
    failActivity = true;
    expect(await bot.say('ann', '/buy btc $999999')).toMatch(/^Not enough cash/);
    expect(await bot.say('ann', '/role ann admin')).toMatch(/may not run \/role/);
  });
});

describe('commands that arrive late', () => {
  const MINUTE = 60_000;
  beforeEach(async () => {
    bot = await makeTestBot();
    await bot.signup('ann');
  });

  it('refuses a trade sent longer ago than the limit, saying when it was sent, and changes nothing', async () => {
    const sentAt = bot.clock.now() - 6 * MINUTE; // the harness clock reads 12:00 UTC
    expect(await bot.say('ann', '/buy btc $100', { sentAt })).toBe('You sent this at 2026-11-25 11:54 UTC, too long ago for me to act on it now: nothing was changed. Send it again if you still want it.');
    expect(await bot.say('ann', '/alert btc above 1', { sentAt })).toMatch(/too long ago/);
    expect((await bot.store.listTransactions('ann', { limit: 10 })).items).toHaveLength(0);
    expect(await bot.store.listAlerts('ann')).toHaveLength(0);
  });

  it('runs a trade sent within the limit, and answers a late question that changes nothing', async () => {
    expect(await bot.say('ann', '/buy btc $100', { sentAt: bot.clock.now() - 4 * MINUTE })).toMatch(/^Bought /);
    expect(await bot.say('ann', '/price btc', { sentAt: bot.clock.now() - 60 * MINUTE })).toMatch(/BTC Bitcoin/);
  });

  it('follows MAX_COMMAND_AGE_SECONDS', async () => {
    await bot.close();
    bot = await makeTestBot({ config: { maxCommandAgeMs: 30 * MINUTE } });
    await bot.signup('ann');
    expect(await bot.say('ann', '/buy btc $100', { sentAt: bot.clock.now() - 20 * MINUTE })).toMatch(/^Bought /);
  });

  it('refuses a Telegram message Telegram kept while the bot was down', async () => {
    const standin = await startTelegramStandin({ now: () => bot.clock.now() });
    const tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: bot.core, logger: silentLogger });
    try {
      await tg.start();
      const tom = standin.user(4001, 'Tom');
      await standin.send(tom, '/signup tom tom@example.com');
      await standin.waitFor(() => standin.botMessages(tom.id)[0]);
      await standin.send(tom, '/buy btc $100', { sentAt: bot.clock.now() - 10 * MINUTE });
      const reply = await standin.waitFor(() => standin.botMessages(tom.id)[1]);
      expect(reply.text).toContain('You sent this at 2026-11-25 11:50 UTC, too long ago');
      expect((await bot.store.listTransactions('tom', { limit: 10 })).items).toHaveLength(0);
    } finally {
      await tg.stop();
      await standin.close();
    }
  });
});
