/** The scheduled jobs: prices then matching then delivery, in one job that never overlaps itself. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import cron from 'node-cron';
import { AlertEngine } from '../core/alerts/engine';
import type { LinkedIdentity } from '../core/domain';
import { renderPlainText } from '../core/messages';
import { OutboxWorker } from '../core/notifications/outbox-worker';
import type { ChatDelivery } from '../core/ports';
import { everySeconds, startJobs, type Jobs } from '../src/jobs';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';

let bot: TestBot;
let jobs: Jobs | undefined;
beforeEach(async () => {
  bot = await makeTestBot();
  bot.feed.set('bitcoin', '50000');
  await bot.signup('ann');
});
afterEach(async () => {
  await jobs?.stop();
  jobs = undefined;
  await bot.close();
});

function start(refresh: () => Promise<void>) {
  const sent: string[] = [];
  const chats: ChatDelivery = {
    deliver: async (identity: LinkedIdentity, message) => (sent.push(`${identity.key}: ${renderPlainText(message)}`), { status: 'sent' }),
    deliverToChat: async () => ({ status: 'failed', reason: 'no groups here' }),
  };
  const services = bot.core.services;
  // A poll every 5 minutes: the test runs the job by hand, the schedule never comes due.
  jobs = startJobs({
    services, feed: Object.assign(Object.create(bot.feed), { refresh }), alerts: new AlertEngine(services),
    outbox: new OutboxWorker(services, chats), logger: silentLogger, pricePollSeconds: 300,
  });
  return { jobs, sent };
}

describe('scheduled jobs', () => {
  it('fetches prices, matches alerts against them and delivers what fired, in one run', async () => {
    await bot.say('ann', '/alert btc above 51000');
    const { jobs, sent } = start(async () => {
      bot.clock.advance(30_000);
      bot.feed.set('bitcoin', '52000');
    });
    expect(await jobs.run('prices')).toBe(true);
    expect(sent).toEqual([expect.stringMatching(/^console:ann: .*BTC is above \$51,000\.00/s)]);
  });

  it('skips a run that comes due while the last one is still working', async () => {
    let release!: () => void;
    let polls = 0;
    const { jobs } = start(() => {
      polls++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const first = jobs.run('prices');
    expect(await jobs.run('prices')).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(polls).toBe(1);
  });

  it('keeps running after a failed run, and says why in the log', async () => {
    const errors = silentLogger.errors.length;
    let fail = true;
    const { jobs } = start(async () => {
      if (fail) throw new Error('upstream down');
    });
    expect(await jobs.run('prices')).toBe(true);
    expect(silentLogger.errors.slice(errors)).toEqual([expect.objectContaining({ job: 'prices' })]);
    fail = false;
    expect(await jobs.run('prices')).toBe(true);
  });

  it('a new job leader fetches prices at once and matches them against an index built for its term', async () => {
    await bot.say('ann', '/alert btc above 51000');
    const services = bot.core.services;
    const sent: string[] = [];
    const chats: ChatDelivery = {
      deliver: async (identity, message) => (sent.push(`${identity.key}: ${renderPlainText(message)}`), { status: 'sent' }),
      deliverToChat: async () => ({ status: 'failed', reason: 'no groups here' }),
    };
    let leading = false;
    const listeners: Array<(leading: boolean) => void> = [];
    const tell = (value: boolean) => ((leading = value), listeners.forEach((l) => l(value)));
    let built = 0;
    let polls = 0;
    jobs = startJobs({
      services, feed: Object.assign(Object.create(bot.feed), { refresh: async () => void polls++ }),
      alerts: () => (built++, new AlertEngine(services)), outbox: new OutboxWorker(services, chats),
      logger: silentLogger, pricePollSeconds: 300,
      leadership: { isLeader: () => leading, onChange: (listener) => void listeners.push(listener) },
    });
    // A follower holds no index and polls nothing.
    expect([built, polls]).toEqual([0, 0]);

    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '52000');
    tell(true);
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    expect(polls).toBe(1);
    expect(sent[0]).toMatch(/BTC is above \$51,000\.00/);

    // Leading again after a while as a follower: a fresh index, not the old term's.
    tell(false);
    tell(true);
    await vi.waitFor(() => expect(polls).toBe(2));
    expect(built).toBe(2);
    expect(sent).toHaveLength(1);
  });

  it('records today\'s portfolio snapshots after the first prices, once a day however often it runs', async () => {
    const first = start(async () => {}).jobs;
    expect(await first.run('prices')).toBe(true);
    await first.stop(); // waits for the snapshot run the first prices started
    jobs = undefined;
    const day = new Date(bot.clock.now()).toISOString().slice(0, 10);
    expect(await bot.store.listPortfolioSnapshots('ann', day)).toEqual([{ username: 'ann', day, value: '10000', at: bot.clock.now() }]);
    const again = start(async () => {});
    bot.feed.set('bitcoin', '60000');
    await bot.say('ann', '/buy btc $100');
    expect(await again.jobs.run('snapshots')).toBe(true);
    expect((await bot.store.listPortfolioSnapshots('ann', day)).map((s) => s.value)).toEqual(['10000']);
  });

  it('schedules polls on an even beat node-cron accepts', () => {
    for (const n of [5, 10, 15, 20, 30, 60, 120, 300, 600, 3600]) expect(cron.validate(everySeconds(n))).toBe(true);
    expect(everySeconds(30)).toBe('*/30 * * * * *');
    expect(everySeconds(300)).toBe('0 */5 * * * *');
  });
});
