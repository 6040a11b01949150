/**
 * The outbox worker on the real SQLite store: delivery, retries with backoff, giving up with a
 * reason, unreachable chats, the per-minute cap's summary, leases of a worker that died, email
 * through the notifier, and trade confirmations queued with the trade.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../core/domain';
import { reply, type RichMessage } from '../core/messages';
import { OutboxWorker } from '../core/notifications/outbox-worker';
import type { ChatDelivery, Delivery } from '../core/ports';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;

afterEach(async () => {
  await bot.close();
});

const alertText = (title: string): RichMessage => reply('warning', { title: `🔔 ${title}`, text: `Your alert fired: ${title}.` });

let sequence = 0;
/** Queues a message due now (or as given). */
async function queue(partial: Partial<OutboxMessage> & { destination: string }): Promise<OutboxMessage> {
  const now = bot.clock.now();
  const message: OutboxMessage = {
    id: `test:${++sequence}`,
    kind: 'alert',
    username: 'ann',
    message: alertText(`BTC is above $${sequence}00,000.00`),
    createdAt: now,
    dueAt: now,
    attempts: 0,
    status: 'pending',
    ...partial,
  };
  await bot.store.enqueueMessages([message]);
  return message;
}

async function status(id: string) {
  const m = await bot.store.getOutboxMessage(id);
  return { status: m?.status, error: m?.error, attempts: m?.attempts };
}

async function linkTelegram(username: string, userId = '42'): Promise<string> {
  const key = `telegram:${userId}`;
  await bot.store.linkIdentity({ key, platform: 'telegram', username, linkedAt: bot.clock.now() });
  return key;
}

describe('delivery, retries and giving up', () => {
  beforeEach(async () => {
    bot = await makeTestBot({ outbox: { maxAttempts: 3, backoffMs: 5_000 } });
    await bot.signup('ann');
  });

  it('delivers a due message to the user\'s chat and records it delivered; a later one waits for its time', async () => {
    const now = await queue({ destination: 'user:console:ann' });
    const later = await queue({ destination: 'user:console:ann', dueAt: bot.clock.now() + 60_000 });

    expect(await bot.outbox.runOnce()).toEqual({ delivered: 1, retried: 0, failed: 0, summarised: 0 });
    expect(bot.chats.texts('user:console:ann')).toEqual([expect.stringContaining('BTC is above $100,000.00')]);
    expect(await status(now.id)).toMatchObject({ status: 'delivered' });
    expect(await status(later.id)).toMatchObject({ status: 'pending' });

    bot.clock.advance(60_000);
    await bot.outbox.runOnce();
    expect(bot.chats.texts('user:console:ann')).toHaveLength(2);
  });

  it('retries a failed delivery after 5 s, then 10 s, and gives up after the last attempt with the reason', async () => {
    const m = await queue({ destination: 'user:console:ann' });
    const tooMany: Delivery = { status: 'failed', reason: 'Too Many Requests: retry after 30' };
    bot.chats.script('user:console:ann', tooMany, tooMany, tooMany);

    expect(await bot.outbox.runOnce()).toMatchObject({ retried: 1 });
    bot.clock.advance(4_999);
    await bot.outbox.runOnce();
    expect(bot.chats.attempts).toHaveLength(1); // not due yet
    bot.clock.advance(1);
    expect(await bot.outbox.runOnce()).toMatchObject({ retried: 1 });
    expect(bot.chats.attempts).toHaveLength(2);
    bot.clock.advance(9_999);
    await bot.outbox.runOnce();
    expect(bot.chats.attempts).toHaveLength(2); // the wait doubled
    bot.clock.advance(1);
    expect(await bot.outbox.runOnce()).toMatchObject({ failed: 1 });

    expect(await status(m.id)).toEqual({ status: 'failed', error: 'gave up after 3 attempts: Too Many Requests: retry after 30', attempts: 2 });
    bot.clock.advance(3_600_000);
    await bot.outbox.runOnce();
    expect(bot.chats.attempts).toHaveLength(3);
    expect(bot.chats.received).toEqual([]);
  });

  it('a message that fails once and then goes through is delivered once', async () => {
    const m = await queue({ destination: 'user:console:ann' });
    bot.chats.script('user:console:ann', { status: 'failed', reason: 'HTTP 502' });
    await bot.outbox.runOnce();
    bot.clock.advance(5_000);
    expect(await bot.outbox.runOnce()).toMatchObject({ delivered: 1 });
    expect(bot.chats.received).toHaveLength(1);
    expect(await status(m.id)).toMatchObject({ status: 'delivered' });
  });

  it('one destination failing does not hold up another, and rows of one destination keep their order', async () => {
    await linkTelegram('ann');
    bot.chats.script('user:telegram:42', { status: 'failed', reason: 'HTTP 500' });
    await queue({ destination: 'user:telegram:42' });
    const titles = [];
    for (let i = 0; i < 5; i++) titles.push((await queue({ destination: 'user:console:ann', dueAt: bot.clock.now() + i })).message!.title);
    bot.clock.advance(10);
    expect(await bot.outbox.runOnce()).toMatchObject({ delivered: 5, retried: 1 });
    expect(bot.chats.received.filter((r) => r.to === 'user:console:ann').map((r) => r.message.title)).toEqual(titles);
  });
});

describe('chats the bot can no longer reach', () => {
  beforeEach(async () => {
    bot = await makeTestBot();
    await bot.signup('ann');
  });

  it('a blocked chat is marked unreachable, its other messages are skipped, and the user is told once on their other chat', async () => {
    const telegram = await linkTelegram('ann');
    bot.chats.block(`user:${telegram}`);
    const first = await queue({ destination: `user:${telegram}` });
    const second = await queue({ destination: `user:${telegram}`, dueAt: bot.clock.now() + 1 });
    bot.clock.advance(1);

    await bot.deliverOutbox();
    expect(await status(first.id)).toMatchObject({ status: 'failed', error: 'unreachable: Forbidden: bot was blocked by the user' });
    expect(await status(second.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^unreachable/) });
    expect(bot.chats.attempts.filter((a) => a === `user:${telegram}`)).toHaveLength(1); // the second was not tried
    expect((await bot.store.findIdentity(telegram))!.unreachableSince).toBe(bot.clock.now());
    expect(bot.chats.texts('user:console:ann')).toEqual([
      expect.stringContaining('I could not reach you on Telegram: Forbidden: bot was blocked by the user. Alerts go to your other chats until you message me there again.'),
    ]);

    // Later messages there are skipped without trying, and the user is not told again.
    bot.clock.advance(60_000);
    const third = await queue({ destination: `user:${telegram}` });
    await bot.deliverOutbox();
    expect(await status(third.id)).toMatchObject({ status: 'failed' });
    expect(bot.chats.attempts.filter((a) => a === `user:${telegram}`)).toHaveLength(1);
    expect(bot.chats.texts('user:console:ann')).toHaveLength(1);
  });

  it('two workers that both find the chat blocked, at different times, tell the user once', async () => {
    const telegram = await linkTelegram('ann');
    bot.chats.block(`user:${telegram}`);
    await queue({ destination: `user:${telegram}` });
    await queue({ destination: `user:${telegram}` });
    // Worker B leases the first row and is still waiting on the platform when A runs.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const waiting = new Promise<void>((resolve) => (started = resolve));
    const slow: ChatDelivery = {
      deliver: async () => { started(); await gate; return { status: 'gone', reason: 'Forbidden: bot was blocked by the user' }; },
      deliverToChat: async () => ({ status: 'sent' }),
    };
    const b = new OutboxWorker(bot.core.services, slow, { batch: 1 }).runOnce();
    await waiting;
    bot.clock.advance(1_000);
    await new OutboxWorker(bot.core.services, bot.chats, { batch: 1 }).runOnce();
    release();
    await b;
    await bot.deliverOutbox();
    expect(bot.chats.texts('user:console:ann')).toEqual([expect.stringContaining('I could not reach you on Telegram')]);
  });

  it('with no other chat, the user is told by email when they have it on', async () => {
    await bot.store.createAccount(
      { username: 'bob', email: 'bob@example.com', role: 'user', createdAt: bot.clock.now(), currency: 'usd', emailNotifications: true } as never,
      '10000',
      { key: 'telegram:7', platform: 'telegram', username: 'bob', linkedAt: bot.clock.now() },
    );
    bot.chats.block('user:telegram:7', 'Forbidden: user is deactivated');
    await queue({ destination: 'user:telegram:7', username: 'bob' });
    await bot.deliverOutbox();
    expect(bot.notifier.inbox('bob')).toEqual([{ subject: 'CryptoPulse: a chat of yours cannot be reached', body: expect.stringContaining('I could not reach you on Telegram: Forbidden: user is deactivated.') }]);
    expect(bot.chats.received).toEqual([]);
  });

  it('a group that removed the bot is skipped afterwards; a paused group\'s broadcasts are settled as paused', async () => {
    bot.chats.block('chat:telegram:-100', 'Forbidden: bot was kicked from the supergroup chat');
    const kicked = await queue({ destination: 'chat:telegram:-100', kind: 'broadcast', username: undefined });
    await bot.deliverOutbox();
    expect(await status(kicked.id)).toMatchObject({ status: 'failed', error: 'unreachable: Forbidden: bot was kicked from the supergroup chat' });
    expect((await bot.store.getChatStates(['telegram:-100'])).get('telegram:-100')).toMatchObject({ unreachableReason: 'Forbidden: bot was kicked from the supergroup chat' });
    const after = await queue({ destination: 'chat:telegram:-100', kind: 'broadcast', username: undefined });
    await bot.deliverOutbox();
    expect(await status(after.id)).toMatchObject({ status: 'failed' });
    expect(bot.chats.attempts).toEqual(['chat:telegram:-100']);

    await bot.store.setBroadcastsPaused('telegram:-200', true);
    const paused = await queue({ destination: 'chat:telegram:-200', kind: 'broadcast', username: undefined });
    await bot.deliverOutbox();
    expect(await status(paused.id)).toMatchObject({ status: 'failed', error: 'paused' });
    expect(bot.chats.attempts).toEqual(['chat:telegram:-100']);
  });

  it('an unreachable chat the store already knows is not tried at all', async () => {
    const telegram = await linkTelegram('ann');
    await bot.store.markUnreachable(telegram, 'blocked', bot.clock.now() - 1000);
    const m = await queue({ destination: `user:${telegram}` });
    expect(await bot.outbox.runOnce()).toMatchObject({ failed: 1, delivered: 0 });
    expect(await status(m.id)).toMatchObject({ status: 'failed', error: 'unreachable: blocked' });
    expect(bot.chats.attempts).toEqual([]);
  });
});

describe('at most alertsPerMinute messages per destination and minute', () => {
  beforeEach(async () => {
    bot = await makeTestBot({ config: { alertsPerMinute: 3 } });
    await bot.signup('ann');
  });

  it('sends the first three, then sums the rest up in one message when the minute is over, even after a restart', async () => {
    const coins = ['BTC', 'ETH', 'SOL', 'DOGE', 'ADA', 'XRP', 'DOT'];
    for (const coin of coins) await queue({ destination: 'user:console:ann', message: alertText(`${coin} is above $1.00`) });

    expect(await bot.outbox.runOnce()).toEqual({ delivered: 3, retried: 4, failed: 0, summarised: 0 });
    expect(bot.chats.texts('user:console:ann')).toHaveLength(3);
    bot.clock.advance(59_999);
    await bot.outbox.runOnce();
    expect(bot.chats.texts('user:console:ann')).toHaveLength(3);

    // A new worker (a restart, or another instance): the deferral and the counter are in the store.
    bot.clock.advance(1);
    const restarted = new OutboxWorker(bot.core.services, bot.chats);
    expect(await restarted.runOnce()).toEqual({ delivered: 0, retried: 0, failed: 0, summarised: 4 });
    const texts = bot.chats.texts('user:console:ann');
    expect(texts).toHaveLength(4);
    expect(texts[3]).toMatch(/^🔔 4 more alerts fired\n\nDOGE is above \$1\.00\nADA is above \$1\.00\nXRP is above \$1\.00\nDOT is above \$1\.00/);
    expect(await restarted.runOnce()).toEqual({ delivered: 0, retried: 0, failed: 0, summarised: 0 });
  });

  it('the cap is per destination, and does not hold back trade emails, digests or notices', async () => {
    await linkTelegram('ann');
    for (let i = 0; i < 4; i++) await queue({ destination: 'user:console:ann' });
    for (let i = 0; i < 3; i++) await queue({ destination: 'user:telegram:42' });
    for (let i = 0; i < 2; i++) await queue({ destination: 'user:console:ann', kind: 'digest' });
    expect(await bot.outbox.runOnce()).toMatchObject({ delivered: 8, retried: 1 });
  });

  it('two workers share the count: together they send no more than the cap', async () => {
    for (let i = 0; i < 6; i++) await queue({ destination: 'user:console:ann' });
    const a = new OutboxWorker(bot.core.services, bot.chats, { batch: 3 });
    const b = new OutboxWorker(bot.core.services, bot.chats, { batch: 3 });
    await Promise.all([a.runOnce(), b.runOnce()]);
    expect(bot.chats.texts('user:console:ann')).toHaveLength(3);
  });
});

describe('leases', () => {
  it('a message leased by a worker that died is delivered by another after the lease, once', async () => {
    bot = await makeTestBot();
    await bot.signup('ann');
    const m = await queue({ destination: 'user:console:ann' });
    let called!: () => void;
    const reached = new Promise<void>((resolve) => (called = resolve));
    // The dying worker's platform call never returns (the process is gone).
    const hanging: ChatDelivery = {
      deliver: () => { called(); return new Promise(() => {}); },
      deliverToChat: () => new Promise(() => {}),
    };
    void new OutboxWorker(bot.core.services, hanging, { leaseMs: 30_000 }).runOnce();
    await reached;

    const survivor = new OutboxWorker(bot.core.services, bot.chats, { leaseMs: 30_000 });
    expect(await survivor.runOnce()).toMatchObject({ delivered: 0 });
    bot.clock.advance(29_999);
    expect(await survivor.runOnce()).toMatchObject({ delivered: 0 });
    bot.clock.advance(1);
    expect(await survivor.runOnce()).toMatchObject({ delivered: 1 });
    bot.clock.advance(60_000);
    await survivor.runOnce();
    expect(bot.chats.texts('user:console:ann')).toHaveLength(1);
    expect(await status(m.id)).toMatchObject({ status: 'delivered' });
  });
});

describe('email', () => {
  beforeEach(async () => {
    bot = await makeTestBot({ outbox: { backoffMs: 1_000 } });
    await bot.signup('ann');
  });

  it('goes through notifier.deliver; a failure is retried, and "skipped" (nobody to send to) is recorded, not retried', async () => {
    await bot.say('ann', '/settings email on');
    const mail = await queue({ destination: 'email:ann', kind: 'trade', message: undefined, email: { subject: 'CryptoPulse: bought 1 BTC', body: 'b' } });
    bot.notifier.nextResults.push({ status: 'failed', reason: 'Throttling (HTTP 400)' });
    expect(await bot.outbox.runOnce()).toMatchObject({ retried: 1 });
    expect(bot.notifier.sent).toEqual([]);
    bot.clock.advance(1_000);
    expect(await bot.outbox.runOnce()).toMatchObject({ delivered: 1 });
    expect(bot.notifier.inbox('ann')).toEqual([{ subject: 'CryptoPulse: bought 1 BTC', body: 'b' }]);
    expect(await status(mail.id)).toMatchObject({ status: 'delivered' });

    const off = await queue({ destination: 'email:ann', kind: 'trade', message: undefined, email: { subject: 's', body: 'b' } });
    bot.notifier.nextResults.push({ status: 'skipped', reason: 'email turned off' });
    expect(await bot.outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(await status(off.id)).toMatchObject({ status: 'failed', error: 'skipped: email turned off' });
  });

  it('a queued email is not sent once the user has turned email off', async () => {
    await bot.say('ann', '/settings email on');
    const mail = await queue({ destination: 'email:ann', kind: 'alert', message: undefined, email: { subject: 's', body: 'b' } });
    await bot.say('ann', '/settings email off');
    expect(await bot.outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(await status(mail.id)).toMatchObject({ status: 'failed', error: 'skipped: email is off' });
    expect(bot.notifier.sent).toEqual([]);
  });
});

describe('trade confirmations', () => {
  beforeEach(async () => {
    bot = await makeTestBot();
    await bot.signup('ann');
    await bot.say('ann', '/settings email on');
  });

  it('a trade queues its confirmation email with the trade; delivery sends it', async () => {
    expect(await bot.say('ann', '/buy btc $100')).toMatch(/Bought/);
    const [t] = (await bot.store.listTransactions('ann', { limit: 10 })).items;
    const queued = await bot.store.getOutboxMessage(`trade:${t!.transactionId}:email`);
    expect(queued).toMatchObject({ destination: 'email:ann', kind: 'trade', status: 'pending', email: { subject: expect.stringMatching(/^CryptoPulse: bought .* BTC$/) } });
    expect(bot.notifier.sent).toEqual([]); // nothing leaves during the command

    await bot.deliverOutbox();
    expect(bot.notifier.inbox('ann')).toEqual([{ subject: queued!.email!.subject, body: expect.stringMatching(/^buy .* BTC at .*\nCash balance: \$9,900\.00\nThis is paper trading with virtual money\.$/) }]);
  });

  it('a rejected trade queues nothing; the same chat message delivered twice queues one email', async () => {
    expect(await bot.say('ann', '/buy btc $1000000')).toMatch(/Not enough cash/);
    await bot.send('ann', '/buy eth $50', { messageId: 'same' });
    expect(await bot.say('ann', '/buy eth $50', { messageId: 'same' })).toMatch(/Already done/);
    await bot.deliverOutbox();
    expect(bot.notifier.inbox('ann').map((m) => m.subject)).toEqual([expect.stringMatching(/bought .* ETH/)]);
  });

  it('with email off, or email not configured, nothing is queued', async () => {
    await bot.say('ann', '/settings email off');
    await bot.say('ann', '/buy btc $100');
    bot.notifier.enabled = false;
    await bot.store.updateAccount('ann', { emailNotifications: true });
    await bot.say('ann', '/buy btc $100');
    const transactions = (await bot.store.listTransactions('ann', { limit: 10 })).items;
    expect(transactions).toHaveLength(2);
    for (const t of transactions) expect(await bot.store.getOutboxMessage(`trade:${t.transactionId}:email`)).toBeNull();
  });
});
