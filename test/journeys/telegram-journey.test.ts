/** The shared user journey (journey.ts) on Telegram: the real telegraf adapter, long polling the
 *  loopback Bot API stand-in. */
import { createTelegramBot } from '../../adapters/telegram/bot';
import { makeTestBot, silentLogger } from '../support/harness';
import { startTelegramStandin, type StandinMessage, type StandinUser } from '../support/telegram-standin';
import { journeySuite, type JourneyDriver, type SeenMessage } from './journey';

const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };

type Reply = SeenMessage & { message: StandinMessage };

async function telegramDriver(): Promise<JourneyDriver<StandinUser, Reply>> {
  const core = await makeTestBot();
  const standin = await startTelegramStandin({ now: () => core.clock.now() });
  const adapter = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger: silentLogger, limits: UNLIMITED });
  await adapter.start();
  const lastUpdate = new Map<number, number>();
  let nextUserId = 7000;
  const seen = (message: StandinMessage): Reply => ({
    message, text: message.text ?? '', buttons: message.replyMarkup?.inline_keyboard.flat().map((b) => b.text) ?? [],
  });
  /** The next message the bot sends into the person's private chat. */
  const next = async (person: StandinUser, after: () => Promise<unknown>): Promise<Reply> => {
    const before = standin.botMessages(person.id).length;
    await after();
    return seen(await standin.waitFor(() => standin.botMessages(person.id)[before]));
  };
  return {
    core,
    adapter,
    person: (name) => standin.user(++nextUserId, name),
    run: (person, line) => next(person, async () => lastUpdate.set(person.id, (await standin.send(person, line)).updateId)),
    async press(person, reply, label) {
      const edits = reply.message.history.length;
      await standin.press(person, reply.message, label);
      return seen(await standin.waitFor(() => {
        const now = standin.message(person.id, reply.message.messageId)!;
        return now.history.length > edits && now;
      }));
    },
    async redeliverLast(person) {
      await standin.redeliver(lastUpdate.get(person.id)!);
    },
    nextPushed: async (person) => seen(await standin.waitFor(() => standin.botMessages(person.id).at(-1)?.text?.includes('alert') && standin.botMessages(person.id).at(-1))),
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
}

journeySuite('Telegram', telegramDriver);
