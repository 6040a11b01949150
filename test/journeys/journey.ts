/**
 * One user journey, written once and run against every chat adapter through its platform's
 * stand-in: signup, price, a buy that asks for confirmation and is confirmed, sell, portfolio, an
 * alert set and then fired into the user's chat, limit orders placed (one confirmed), listed,
 * cancelled from a button and filled on a price tick with the fill pushed into the user's chat, a
 * staff command refused for a plain user, and a redelivered event that trades once. Each platform
 * supplies a driver that plays a person on that platform; the assertions are about what the
 * person reads.
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
  /** The next message pushed to the person outside a conversation (a fired alert, a filled
   *  order) whose text contains `containing` (default 'alert'). */
  nextPushed(person: Person, containing?: string): Promise<SeenMessage>;
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

    it('places limit orders (a large one confirmed), cancels one from /orders, and is told when the other fills', async () => {
      const eve = driver.person('eve');
      await driver.run(eve, '/signup eve eve@example.com');
      expect((await driver.run(eve, '/settings email on')).text).toContain('eve@example.com'); // fills are emailed too
      const portfolio = async () => (await driver.core.store.getPortfolio('eve'))!;
      const orderId = (reply: SeenMessage) => /Order ([0-9a-f]{8}) placed/.exec(reply.text)?.[1];

      // 0.1 BTC at 80,000 holds $8,000: past confirmTradesAbove, so it asks first and holds nothing yet.
      const prompt = await driver.run(eve, '/buy btc 0.1 at 80000');
      expect(prompt.text).toContain('Confirm: place an order to buy 0.1 BTC at $80,000.00 or lower?');
      expect(prompt.buttons).toEqual(['Confirm', 'Cancel']);
      expect((await portfolio()).reservedCash ?? '0').toBe('0');
      const placed = await driver.press(eve, prompt, 'Confirm');
      const large = orderId(placed)!;
      expect(large).toMatch(/^[0-9a-f]{8}$/);
      expect(placed.text).toContain('$8,000.00'); // what it holds back
      expect(placed.buttons).toEqual(['Cancel order', 'Orders']);

      // $500 is under the confirmation limit: placed at once.
      const second = await driver.run(eve, '/buy btc $500 at 85000');
      const small = orderId(second)!;
      expect(small).toMatch(/^[0-9a-f]{8}$/);
      expect(small).not.toBe(large);
      expect((await portfolio()).reservedCash).toBe('8500');

      const list = await driver.run(eve, '/orders');
      expect(list.text).toContain('Your open orders (2)');
      expect(list.text).toContain(large);
      expect(list.text).toContain(small);
      expect([...list.buttons].sort()).toEqual([`Cancel ${large}`, `Cancel ${small}`, 'Refresh'].sort());

      const cancelled = await driver.press(eve, list, `Cancel ${large}`);
      expect(cancelled.text).toContain(`Order ${large} cancelled`);
      expect(cancelled.text).toContain('$8,000.00 is free again');
      expect((await portfolio()).reservedCash).toBe('500'); // only the small order's hold is left
      expect((await portfolio()).cash).toBe('10000');

      // The price falls through both limits: only the order still open fills, at the market price
      // (below its limit), and its owner is told in their chat and by email.
      driver.core.clock.advance(60_000);
      driver.core.feed.set('bitcoin', '79000');
      const pipeline = alertPipeline(driver.core.core.services, deliverThroughAdapters([driver.adapter], silentLogger));
      const report = await pipeline.engine.tick();
      expect(report).toMatchObject({ ordersFilled: 1, ordersEnded: 0 });
      await pipeline.worker.runOnce();
      const fill = await driver.nextPushed(eve, 'filled');
      expect(fill.text).toContain(`Order ${small} filled: bought 0.00632911 BTC`);
      expect(fill.text).toMatch(/Price\W+\$79,000\.00/);
      expect(fill.text).toMatch(/Market price\W+\$79,000\.00/);
      expect(driver.core.notifier.inbox('eve').map((m) => m.subject)).toEqual([`CryptoPulse: order ${small} filled, bought 0.00632911 BTC`]);

      const after = await portfolio();
      expect(after.reservedCash ?? '0').toBe('0');
      expect(after.holdings.bitcoin?.quantity).toBe('0.00632911');
      const [trade, ...others] = await transactions('eve');
      expect(others).toHaveLength(0); // the cancelled order never traded
      expect(trade).toMatchObject({ orderId: small, marketPrice: '79000', price: '79000' });
      const history = await driver.run(eve, '/history');
      expect(history.text).toContain(small);
      expect(history.text).not.toContain(large);
      expect((await driver.run(eve, '/orders')).text).toContain('You have no open orders.');
      // The fill reads with one success mark, not the platform's and the title's both ("✅ ✅ Order …
      // filled" on Telegram): core/orders/views.ts fillMessage puts its own ✅ in a 'success' title.
      expect(fill.text.match(/✅/gu)?.length ?? 0).toBeLessThanOrEqual(1);
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
