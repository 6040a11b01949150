/** The shared user journey (journey.ts) and group journey (group-journey.ts) on Telegram: the real
 *  telegraf adapter, long polling the loopback Bot API stand-in. Groups are supergroups whose
 *  administrators getChatMember names; Telegram's own forum topics and channels follow. */
import { describe, expect, it } from 'vitest';
import { createTelegramBot } from '../../adapters/telegram/bot';
import { broadcastOwner } from '../../core/domain';
import { deliverThroughAdapters } from '../../src/chat-delivery';
import { alertPipeline } from '../support/alerts';
import { makeTestBot, silentLogger } from '../support/harness';
import { startTelegramStandin, type StandinChat, type StandinMessage, type StandinUser, type TelegramStandin } from '../support/telegram-standin';
import { groupJourneySuite, type GroupJourneyDriver } from './group-journey';
import { journeySuite, type SeenMessage } from './journey';

const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };

type Reply = SeenMessage & { message: StandinMessage };

type TelegramDriver = GroupJourneyDriver<StandinUser, StandinChat> & { standin: TelegramStandin };

async function telegramDriver(): Promise<TelegramDriver> {
  const core = await makeTestBot();
  const standin = await startTelegramStandin({ now: () => core.clock.now() });
  const adapter = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger: silentLogger, limits: UNLIMITED });
  await adapter.start();
  const lastUpdate = new Map<number, number>();
  let nextUserId = 7000;
  let nextGroupId = -1001000000100;
  const seen = (message: StandinMessage): Reply => ({
    message, text: message.text ?? '', buttons: message.replyMarkup?.inline_keyboard.flat().map((b) => b.text) ?? [],
  });
  /** The bot's next message in a chat (the person's private chat by default) after `after`. */
  const next = async (chatId: number, after: () => Promise<unknown>): Promise<Reply> => {
    const before = standin.botMessages(chatId).length;
    await after();
    return seen(await standin.waitFor(() => standin.botMessages(chatId)[before]));
  };
  const person = (name: string) => standin.user(++nextUserId, name);
  const driver: TelegramDriver = {
    core,
    adapter,
    standin,
    person,
    run: (who, line) => next(who.id, async () => lastUpdate.set(who.id, (await standin.send(who, line)).updateId)),
    async press(who, reply, label) {
      const edits = reply.message.history.length;
      await standin.press(who, reply.message, label);
      return seen(await standin.waitFor(() => {
        const now = standin.message(who.id, reply.message.messageId)!;
        return now.history.length > edits && now;
      }));
    },
    async redeliverLast(who) {
      await standin.redeliver(lastUpdate.get(who.id)!);
    },
    nextPushed: async (who, containing = 'alert') => seen(await standin.waitFor(() => standin.botMessages(who.id).at(-1)?.text?.includes(containing) && standin.botMessages(who.id).at(-1))),

    group: (name) => standin.group({ id: nextGroupId--, title: name }),
    admin(group, name) {
      const who = person(name);
      group.admins.add(who.id); // getChatMember answers "administrator"
      return who;
    },
    member: (_group, name) => person(name),
    runIn: (who, where, line) => where === 'dm' ? driver.run(who, line) : next(where.id, () => standin.send(who, line, { chatId: where.id })),
    address: (group) => `telegram:${group.id}`,
    posts: (group) => standin.botMessages(group.id).map(seen),
    postAttempts: (group) => standin.calls.filter((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === group.id).length,
    dms: (who) => standin.botMessages(who.id).map(seen),
    removeBot(group) {
      standin.chat(group.id).kicked = true; // Telegram answers 403 "bot was kicked from the supergroup chat"
    },
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
  return driver;
}

journeySuite('Telegram', telegramDriver);
groupJourneySuite('Telegram', telegramDriver);

describe('Telegram broadcasts into forum topics and channels', () => {
  const withDriver = (test: (driver: TelegramDriver, check: () => Promise<number>) => Promise<void>) => async () => {
    const driver = await telegramDriver();
    try {
      const pipeline = alertPipeline(driver.core.core.services, deliverThroughAdapters([driver.adapter], silentLogger));
      await test(driver, () => pipeline.check());
    } finally {
      await driver.close();
    }
  };
  const cross = (driver: TelegramDriver, price: string) => {
    driver.core.clock.advance(1000);
    driver.core.feed.set('bitcoin', price, '3.1');
  };

  it('a rule added in a forum topic posts into that topic (message_thread_id), not the general topic', withDriver(async (driver, check) => {
    const { standin } = driver;
    const forum = standin.group({ id: -1001000000900, title: 'Desk', forum: true });
    const gus = driver.admin(forum, 'gus');
    await standin.send(gus, '/broadcast add btc above 90000', { chatId: forum.id, threadId: 7 });
    const added = await standin.waitFor(() => standin.botMessages(forum.id)[0]);
    expect(added).toMatchObject({ threadId: 7, text: expect.stringMatching(/Broadcast \w+ added: Bitcoin above \$90,000\.00/) });
    expect(await driver.core.store.listAlerts(broadcastOwner('telegram:-1001000000900/7'))).toHaveLength(1);

    cross(driver, '91000');
    expect(await check()).toBe(1);
    const posted = standin.botMessages(forum.id).slice(1);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ threadId: 7, text: expect.stringContaining('Bitcoin is now $91,000.00') });
    expect(posted[0]!.text).toContain('24 h change +3.10%');
    expect(standin.calls.filter((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === forum.id).at(-1)!.params.message_thread_id).toBe(7);
  }));

  it('a channel adds a rule by a channel post, and the crossing is posted in the channel', withDriver(async (driver, check) => {
    const { standin } = driver;
    const news = standin.channel({ id: -1001000000950, title: 'BTC News' });
    await standin.post(news.id, '/broadcast add btc above 90000');
    const added = await standin.waitFor(() => standin.botMessages(news.id)[0]);
    expect(added.text).toMatch(/Broadcast \w+ added: Bitcoin above \$90,000\.00/);
    await standin.post(news.id, '/broadcast list');
    expect((await standin.waitFor(() => standin.botMessages(news.id)[1])).text).toMatch(/bitcoin\s+above \$90,000\.00/);

    cross(driver, '90500');
    expect(await check()).toBe(1);
    const posted = standin.botMessages(news.id).slice(2);
    expect(posted.map((m) => m.text)).toEqual([expect.stringContaining('Bitcoin is now $90,500.00')]);
    expect(posted[0]!.text).toContain('BTC is above $90,000.00');
  }));
});
