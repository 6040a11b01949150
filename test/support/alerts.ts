/** One bot instance's push pipeline, as src/jobs.ts runs it: the alert engine matches a tick of
 *  prices and claims what crossed, then the outbox worker delivers the queued messages. */
import type { Services } from '../../core/context';
import { AlertEngine } from '../../core/alerts/engine';
import { OutboxWorker } from '../../core/notifications/outbox-worker';
import type { ChatDelivery } from '../../core/ports';
import { RecordingChats, type TestBot } from './harness';

export function alertPipeline(services: Services, chats: ChatDelivery) {
  const engine = new AlertEngine(services);
  const worker = new OutboxWorker(services, chats);
  return {
    engine,
    worker,
    /** A price tick, then delivery: how many alerts this instance fired. */
    async check(): Promise<number> {
      const report = await engine.tick();
      await worker.runOnce();
      return report.fired;
    },
  };
}

/**
 * Two bot instances on one store (`first`, and another core's services sharing its clock and
 * prices) match the same ticks: `oneShot` alerts and one repeating alert cross at once. Returns
 * what each tick fired in all and how many messages went out, for the caller to hold to "each
 * alert once": the crossing, then a dip and a second crossing inside the repeating alert's cool-down.
 */
export async function twoInstancesMatchTheSameTicks(first: TestBot, second: Services, oneShot: number) {
  first.feed.set('bitcoin', '50000');
  for (const user of ['ann', 'bob']) await first.signup(user);
  for (let i = 0; i < oneShot; i++) await first.say(i % 2 ? 'ann' : 'bob', `/alert btc above ${51000 + i * 10}`);
  await first.say('ann', '/alert btc above 50500 repeat 30m');
  const chats = new RecordingChats();
  const instances = [alertPipeline(first.core.services, chats), alertPipeline(second, chats)];
  const tick = async (price: string) => {
    first.clock.advance(60_000);
    first.feed.set('bitcoin', price);
    return (await Promise.all(instances.map((i) => i.check()))).reduce((x, y) => x + y);
  };
  const crossing = { fired: await tick('52000'), messages: chats.received.length, distinct: new Set(chats.received.map((r) => JSON.stringify(r.message))).size };
  await tick('50000');
  const again = { fired: await tick('52000'), messages: chats.received.length };
  return { crossing, again };
}
