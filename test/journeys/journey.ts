/**
 * One user journey, written once and run against every chat adapter through its platform's
 * stand-in: signup, price, a buy that asks for confirmation and is confirmed, sell, portfolio, an
 * alert set and then fired into the user's chat, a staff command refused for a plain user, and a
 * redelivered event that trades once. Each platform supplies a driver that plays a person on that
 * platform; the assertions are about what the person reads.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertPipeline } from '../support/alerts';
import type { ChatAdapter } from '../../core/chat-adapter';
import { deliverThroughAdapters } from '../../src/chat-delivery';
import { silentLogger, type TestBot } from '../support/harness';

/** A message as the person sees it: its visible text and the labels of its buttons. */
export interface SeenMessage {
  text: string;
  buttons: string[];
}

export interface JourneyDriver<Person = unknown, Reply extends SeenMessage = SeenMessage> {
  /** The core the adapter runs on (hand-set prices, manual clock). */
  core: TestBot;
  adapter: ChatAdapter;
  /** A new person on this platform. */
  person(name: string): Person;
  /** The person runs a command written as a line ("/buy btc $5000"): platforms with typed
   *  options turn it into options, as the person's client would. Resolves with the reply. */
  run(person: Person, line: string): Promise<Reply>;
  /** The person presses a button under a reply; resolves with that message as it then reads. */
  press(person: Person, reply: Reply, label: string): Promise<SeenMessage>;
  /** The platform delivers the person's last command again (a retry after a lost confirmation). */
  redeliverLast(person: Person): Promise<void>;
  /** The next message pushed to the person outside a conversation (a fired alert). */
  nextPushed(person: Person): Promise<SeenMessage>;
  close(): Promise<void>;
}

export function journeySuite(platform: string, makeDriver: () => Promise<JourneyDriver<any, any>>): void {
  describe(`the user journey on ${platform}`, () => {
    let driver: JourneyDriver<any, any>;
    beforeEach(async () => {
      driver = await makeDriver();
    });
    afterEach(() => driver.close());

    const transactions = async (username: string) => (await driver.core.store.listTransactions(username, { limit: 100 })).items;

    it('signs up, checks a price, buys with confirmation, sells, and reads the portfolio', async () => {
      const ann = driver.person('ann');
      expect((await driver.run(ann, '/signup ann ann@example.com')).text).toContain('Welcome, ann!');
      expect((await driver.run(ann, '/price btc')).text).toMatch(/BTC Bitcoin\s*\|?\s*\$87,000\.00/);

      const prompt = await driver.run(ann, '/buy btc $5000');
      expect(prompt.text).toContain('Confirm: buy about $5,000.00 of BTC?');
      expect(prompt.buttons).toEqual(['Confirm', 'Cancel']);
      expect(await transactions('ann')).toHaveLength(0);
      const bought = await driver.press(ann, prompt, 'Confirm');
      expect(bought.text).toContain('Bought 0.05747126 BTC');
      expect(bought.buttons).toEqual([]);

      expect((await driver.run(ann, '/sell btc 0.01')).text).toContain('Sold 0.01 BTC');
      const portfolio = await driver.run(ann, '/portfolio');
      expect(portfolio.text).toMatch(/BTC[\s\S]*0\.04747126/);
      expect(portfolio.text).toContain('$5,870.00'); // cash: 10,000 - 5,000 + 870
      expect(await transactions('ann')).toHaveLength(2);
    });

    it('sets an alert and receives it in the user\'s own chat when it fires', async () => {
      const bea = driver.person('bea');
      await driver.run(bea, '/signup bea bea@example.com');
      expect((await driver.run(bea, '/alert btc above 90000')).text).toMatch(/Alert \w+ set: Bitcoin above \$90,000\.00\./);
      driver.core.feed.set('bitcoin', '91000');
      const engine = alertPipeline(driver.core.core.services, deliverThroughAdapters([driver.adapter], silentLogger));
      expect(await engine.check()).toBe(1);
      expect((await driver.nextPushed(bea)).text).toMatch(/BTC is above \$90,000\.00/);
    });

    it('refuses a staff command to a plain user', async () => {
      const cal = driver.person('cal');
      await driver.run(cal, '/signup cal cal@example.com');
      // Each platform writes the command its own way ("/pulse users" on Slack).
      expect((await driver.run(cal, '/users')).text).toMatch(/Your role \(user\) may not run \/(\w+ )?users\./);
    });

    it('trades once when the platform delivers the same command twice', async () => {
      const dan = driver.person('dan');
      await driver.run(dan, '/signup dan dan@example.com');
      expect((await driver.run(dan, '/buy eth 0.1')).text).toContain('Bought 0.1 ETH');
      await driver.redeliverLast(dan);
      await driver.run(dan, '/portfolio'); // answered after the redelivery was handled
      expect(await transactions('dan')).toHaveLength(1);
    });
  });
}
