/** One bot instance's push pipeline, as src/jobs.ts runs it: the alert engine matches a tick of
 *  prices and claims what crossed, then the outbox worker delivers the queued messages. */
import type { Services } from '../../core/context';
import { AlertEngine } from '../../core/alerts/engine';
import { OutboxWorker } from '../../core/notifications/outbox-worker';
import type { ChatDelivery } from '../../core/ports';

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
