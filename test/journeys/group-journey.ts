/**
 * The group journey, written once and run against every chat adapter through its platform's
 * stand-in: price broadcasts into a group (a Telegram supergroup, a Discord server's channel, a
 * Slack channel) managed by the group's own administrator as the platform names them, refused to
 * a plain member; posted once per crossing and cool-down, paused and resumed; given up, and never
 * tried again, once the bot is removed; and a user's own alert sent to the group they chose with
 * /settings alerts here, and told in their direct chat when that group removed the bot.
 *
 * Each platform's driver plays the people and reads what the platform's API received; the
 * prices and the clock are the test's (HandFeed, ManualClock), and one pipeline check is one
 * price tick matched and the outbox delivered, as src/jobs.ts runs them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertPipeline } from '../support/alerts';
import { broadcastOwner } from '../../core/domain';
import { deliverThroughAdapters } from '../../src/chat-delivery';
import { silentLogger } from '../support/harness';
import type { JourneyDriver, SeenMessage } from './journey';

/** Where a person runs a command: their direct chat with the bot, or a group. */
export type Where<Group> = 'dm' | Group;

export interface GroupJourneyDriver<Person = unknown, Group = unknown> extends JourneyDriver<Person, any> {
  /** A new group (or channel) the bot is in, with nobody in it yet. */
  group(name: string): Group;
  /** A person the platform names an administrator of the group (not a CryptoPulse account). */
  admin(group: Group, name: string): Person;
  /** A person in the group with no rights there. */
  member(group: Group, name: string): Person;
  /** The person runs the line in the group (or their direct chat); resolves with the answer. */
  runIn(person: Person, where: Where<Group>, line: string): Promise<SeenMessage>;
  /** The group's posting address in the store (`telegram:-100…`, `discord:<channel>`, …). */
  address(group: Group): string;
  /** Messages of the bot everyone in the group sees, oldest first. */
  posts(group: Group): SeenMessage[];
  /** Every attempt the platform's API saw to post into the group, accepted or refused. */
  postAttempts(group: Group): number;
  /** The bot's messages in the person's direct chat, oldest first. */
  dms(person: Person): SeenMessage[];
  /** The bot is removed from the group without hearing of it (the next post finds out). */
  removeBot(group: Group): void;
}

/** Bitcoin's reference price in the test core is $87,000. */
const COIN = 'bitcoin';

export function groupJourneySuite<P, G>(platform: string, makeDriver: () => Promise<GroupJourneyDriver<P, G>>): void {
  describe(`group broadcasts and alerts on ${platform}`, () => {
    let driver: GroupJourneyDriver<P, G>;
    let pipeline: ReturnType<typeof alertPipeline>;
    beforeEach(async () => {
      driver = await makeDriver();
      pipeline = alertPipeline(driver.core.core.services, deliverThroughAdapters([driver.adapter], silentLogger));
    });
    afterEach(() => driver.close());

    /** A new price a second later (a quote is matched once), then one tick: how many fired. */
    const tick = async (price: string, change24h = '-2.25') => {
      driver.core.clock.advance(1000);
      driver.core.feed.set(COIN, price, change24h);
      return pipeline.check();
    };
    /** The cool-down passes and the price falls back under the threshold: the rule re-arms. */
    const coolDown = async () => {
      driver.core.clock.advance(driver.core.core.services.config.broadcastCooldownMs);
      expect(await tick('89000')).toBe(0);
    };
    /** What one check posted into the group. */
    const postedBy = async (group: G, price: string) => {
      const before = driver.posts(group).length;
      const fired = await tick(price);
      return { fired, posted: driver.posts(group).slice(before) };
    };

    it("refuses a plain member; the group's administrator adds and lists a rule; a crossing posts once per cool-down; pause and resume", async () => {
      const group = driver.group('Traders');
      const ann = driver.member(group, 'ann');
      const refused = await driver.runIn(ann, group, '/broadcast add btc above 90000');
      expect(refused.text).toContain("Only this group's administrators, or CryptoPulse moderators and admins, manage its broadcasts.");
      expect(await driver.core.store.listAlerts(broadcastOwner(driver.address(group)))).toEqual([]);

      const gus = driver.admin(group, 'gus');
      const added = await driver.runIn(gus, group, '/broadcast add btc above 90000');
      expect(added.text).toMatch(/Broadcast (\w+) added: Bitcoin above \$90,000\.00, posted here at most once every 30m/);
      const ruleId = /Broadcast (\w+) added/.exec(added.text)![1]!;
      expect((await driver.core.store.listAlerts(broadcastOwner(driver.address(group)))).map((r) => r.alertId)).toEqual([ruleId]);
      const list = await driver.runIn(gus, group, '/broadcast list');
      expect(list.text).toContain('Broadcasts are on.');
      expect(list.text).toContain(ruleId);
      expect(list.text).toMatch(/above \$90,000\.00/);

      // Under the threshold: nothing.
      expect(await postedBy(group, '89500')).toEqual({ fired: 0, posted: [] });
      // It crosses: one message in the group, with the coin, the price and the day's change.
      const attempts = driver.postAttempts(group);
      const first = await postedBy(group, '91000');
      expect(first.fired).toBe(1);
      expect(first.posted).toHaveLength(1);
      expect(first.posted[0]!.text).toContain('BTC is above $90,000.00');
      expect(first.posted[0]!.text).toContain('Bitcoin is now $91,000.00');
      expect(first.posted[0]!.text).toContain('24 h change -2.25%');
      expect(driver.postAttempts(group)).toBe(attempts + 1);

      // Back under and over again within the cool-down: nothing more.
      driver.core.clock.advance(60_000);
      expect(await tick('89000')).toBe(0);
      expect(await postedBy(group, '91500')).toEqual({ fired: 0, posted: [] });

      // Paused: the rule re-armed after its cool-down, the price crosses, and the group hears nothing.
      await coolDown();
      expect((await driver.runIn(gus, group, '/broadcast pause')).text).toContain('Broadcasts in this chat are paused.');
      expect((await driver.runIn(gus, group, '/broadcast list')).text).toContain('Broadcasts are paused');
      expect(await postedBy(group, '92000')).toEqual({ fired: 0, posted: [] });

      // Resumed: the next price over the threshold is posted.
      expect((await driver.runIn(gus, group, '/broadcast resume')).text).toContain('Broadcasts in this chat are on.');
      const resumed = await postedBy(group, '92100');
      expect(resumed.fired).toBe(1);
      expect(resumed.posted.map((p) => p.text)).toEqual([expect.stringContaining('Bitcoin is now $92,100.00')]);
    });

    it('gives up on a group that removed the bot: marked unreachable, and never tried again', async () => {
      const group = driver.group('Leavers');
      const gus = driver.admin(group, 'gus');
      await driver.runIn(gus, group, '/broadcast add btc above 90000');
      expect((await postedBy(group, '91000')).posted).toHaveLength(1);
      await coolDown();

      driver.removeBot(group);
      const attempts = driver.postAttempts(group);
      expect(await postedBy(group, '92000')).toEqual({ fired: 1, posted: [] });
      expect(driver.postAttempts(group)).toBe(attempts + 1); // tried once, refused
      const state = (await driver.core.store.getChatStates([driver.address(group)])).get(driver.address(group));
      expect(state?.unreachableSince).toBe(driver.core.clock.now());
      expect(state?.unreachableReason).toBeTruthy();

      // Later crossings: not claimed, not queued, not tried.
      await coolDown();
      expect(await postedBy(group, '93000')).toEqual({ fired: 0, posted: [] });
      driver.core.clock.advance(driver.core.core.services.config.broadcastCooldownMs);
      expect(await tick('94000')).toBe(0);
      expect(driver.postAttempts(group)).toBe(attempts + 1);
    });

    it("sends a user's fired alert to the group they chose with /settings alerts here, not to their direct chat", async () => {
      const group = driver.group('Friends');
      const bea = driver.member(group, 'bea');
      await driver.runIn(bea, 'dm', '/signup bea bea@example.com');
      expect((await driver.runIn(bea, group, '/settings alerts here')).text).toContain('Fired alerts now go to this group (everyone here will see them), and to no other chat.');
      expect((await driver.runIn(bea, 'dm', '/alert btc above 90000')).text).toMatch(/Alert \w+ set: Bitcoin above \$90,000\.00\./);
      const dmsBefore = driver.dms(bea).length;

      const { fired, posted } = await postedBy(group, '91000');
      expect(fired).toBe(1);
      expect(posted).toHaveLength(1);
      expect(posted[0]!.text).toContain('BTC is above $90,000.00');
      expect(posted[0]!.text).toContain('Bitcoin is now $91,000.00');
      expect(driver.dms(bea)).toHaveLength(dmsBefore);
    });

    it('tells the user in their direct chat when the group they chose for alerts removed the bot', async () => {
      const group = driver.group('Quiet');
      const cyd = driver.member(group, 'cyd');
      await driver.runIn(cyd, 'dm', '/signup cyd cyd@example.com');
      await driver.runIn(cyd, group, '/settings alerts here');
      await driver.runIn(cyd, 'dm', '/alert btc above 90000');
      const dmsBefore = driver.dms(cyd).length;

      driver.removeBot(group);
      expect(await postedBy(group, '91000')).toEqual({ fired: 1, posted: [] });
      expect((await driver.core.store.getChatStates([driver.address(group)])).get(driver.address(group))?.unreachableSince).toBeDefined();
      // The notice was queued by that delivery; the worker's next run sends it.
      await pipeline.worker.runOnce();
      const told = driver.dms(cyd).slice(dmsBefore);
      expect(told).toHaveLength(1);
      expect(told[0]!.text).toMatch(/I could not post your alerts in the (Telegram|Discord|Slack) chat you chose with \/(pulse )?settings alerts here/);
      expect(told[0]!.text).not.toContain(driver.address(group)); // an internal address means nothing to the user
      expect(told[0]!.text).toMatch(/Choose where they go with \/(pulse )?settings alerts dm/); // Slack writes "/pulse settings"
    });
  });
}
