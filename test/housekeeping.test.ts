/** Housekeeping: what the store no longer needs goes, what it still needs stays. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActivityEntry, OutboxMessage, PriceAlert } from '../core/domain';
import { runHousekeeping } from '../core/notifications/housekeeping';
import { makeTestBot, type TestBot } from './support/harness';

const DAY = 86_400_000;
let bot: TestBot;

beforeEach(async () => {
  bot = await makeTestBot({ config: { activityRetentionDays: 30 } });
  await bot.signup('ann');
});

afterEach(async () => {
  await bot.close();
});

describe('housekeeping', () => {
  it('prunes expired claims, old activity, settled outbox rows after 7 days and finished alerts after 30 days', async () => {
    const now = bot.clock.now();
    const old = now - 40 * DAY;

    // Once-only claims: one expired, one still running.
    await bot.store.claimOnce('digest:ann:old', now - 1);
    await bot.store.claimOnce('digest:ann:today', now + DAY);

    const activity = (at: number): ActivityEntry => ({ at, identityKey: 'console:ann', platform: 'console', username: 'ann', command: 'price', detail: '/price btc', outcome: 'ok' });
    await bot.store.recordActivity(activity(old));
    await bot.store.recordActivity(activity(now - DAY));

    const row = (id: string, dueAt: number): OutboxMessage => ({
      id, destination: 'user:console:ann', username: 'ann', kind: 'alert', message: { tone: 'info', text: id }, createdAt: dueAt, dueAt, attempts: 0, status: 'pending',
    });
    await bot.store.enqueueMessages([row('settled-old', now - 8 * DAY), row('settled-new', now - DAY), row('pending-old', now + 1)]);
    await bot.store.settleOutbox('settled-old', { status: 'delivered', at: now - 8 * DAY });
    await bot.store.settleOutbox('settled-new', { status: 'failed', at: now - DAY, error: 'unreachable: blocked' });
    // 'pending-old' was never delivered: it stays whatever its age.

    const alert = (alertId: string): PriceAlert => ({
      alertId, username: 'ann', coinId: 'bitcoin', condition: 'above', targetPrice: '1', state: 'armed', createdAt: old, fireCount: 0, version: 1, updatedAt: old,
    });
    await bot.store.createAlert(alert('fired-old'), 20);
    await bot.store.createAlert(alert('armed-old'), 20);
    await bot.store.fireAlerts([{ username: 'ann', alertId: 'fired-old', version: 1, state: 'fired', at: old, messages: [] }]);

    const report = await runHousekeeping(bot.core.services, now);

    expect(report.expired).toBeGreaterThanOrEqual(1);
    expect(await bot.store.claimOnce('digest:ann:old', now + DAY)).toBe(true); // free again
    expect(await bot.store.claimOnce('digest:ann:today', now + DAY)).toBe(false);

    expect(report.activity).toBe(1);
    expect((await bot.store.listActivity('ann', { limit: 10 })).items.map((a) => a.at)).not.toContain(old);

    expect(report.outbox).toBe(1);
    expect(await bot.store.getOutboxMessage('settled-old')).toBeNull();
    expect(await bot.store.getOutboxMessage('settled-new')).not.toBeNull();
    expect(await bot.store.getOutboxMessage('pending-old')).toMatchObject({ status: 'pending' });

    expect(report.alerts).toBe(1);
    expect(await bot.store.getAlert('ann', 'fired-old')).toBeNull();
    expect(await bot.store.getAlert('ann', 'armed-old')).not.toBeNull();
  });

  it('one failing step does not stop the others', async () => {
    const store = bot.core.services.store;
    const original = store.pruneActivity.bind(store);
    store.pruneActivity = async () => {
      throw new Error('disk I/O error');
    };
    try {
      const report = await runHousekeeping(bot.core.services, bot.clock.now());
      expect(report).toMatchObject({ activity: -1, outbox: 0, alerts: 0 });
    } finally {
      store.pruneActivity = original;
    }
  });
});
