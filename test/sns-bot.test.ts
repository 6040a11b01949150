/**
 * The whole bot with the SNS notifier: /settings email and trades, through the outbox worker, the
 * real @aws-sdk/client-sns and the loopback SNS stand-in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCore, DEFAULT_CORE_CONFIG } from '../core/app';
import { DEFAULT_COINS } from '../core/coins';
import { renderPlainText } from '../core/messages';
import { OutboxWorker } from '../core/notifications/outbox-worker';
import { createSnsClient, createSnsNotifier, type SnsNotifier } from '../infra/email/sns-notifier';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { BcryptPasswords } from '../infra/support/system';
import { countingIds, HandFeed, ManualClock, RecordingChats, silentLogger } from './support/harness';
import { startSnsStandin, type SnsStandin } from './support/sns-standin';

let sns: SnsStandin;
let notifier: SnsNotifier;
let store: SqliteStore;
let say: (user: string, text: string) => Promise<string>;
let clock: ManualClock;
/** Runs the outbox worker once, as the scheduler does every few seconds. */
let deliver: () => ReturnType<OutboxWorker['runOnce']>;

beforeEach(async () => {
  sns = await startSnsStandin();
  notifier = createSnsNotifier({
    region: 'us-east-1',
    topicPrefix: 'cryptopulse-user-',
    logger: silentLogger,
    client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } }),
    sleep: async () => {},
  });
  clock = new ManualClock();
  const feed = new HandFeed(clock);
  for (const coin of DEFAULT_COINS) feed.set(coin.id, coin.referencePriceUsd);
  store = SqliteStore.open({ file: ':memory:' });
  const core = createCore({
    store, prices: feed, notifier, passwords: new BcryptPasswords(4), clock, ids: countingIds(), logger: silentLogger, config: DEFAULT_CORE_CONFIG,
  });
  const outbox = new OutboxWorker(core.services, new RecordingChats(), { backoffMs: 5_000 });
  deliver = () => outbox.runOnce();
  let sequence = 0;
  say = async (user, text) => renderPlainText((await core.dispatcher.dispatch({
    identity: { platform: 'console', userId: user },
    chat: { type: 'private', id: `console:${user}` },
    text,
    messageId: `m${++sequence}`,
  })).message);
});

afterEach(async () => {
  await notifier.stop();
  await sns.close();
  await store.close();
});

describe('email through SNS, end to end', () => {
  it('trade confirmations reach the trader\'s confirmed address and nobody else', async () => {
    await say('ann', '/signup ann ann@example.com');
    await say('bob', '/signup bob bob@example.com');
    expect(await say('ann', '/settings email on')).toMatch(/AWS \(Amazon SNS\) first sends a confirmation email/);
    expect(await say('bob', '/settings email bob@work.example')).toMatch(/AWS \(Amazon SNS\) first sends a confirmation email/);
    sns.confirm('ann@example.com');
    sns.confirm('bob@work.example');

    await say('ann', '/buy btc $100');
    await say('bob', '/buy eth $50');
    expect(sns.deliveries).toEqual([]); // queued with the trade, sent by the outbox worker
    expect(await deliver()).toMatchObject({ delivered: 2 });

    expect(sns.inbox('ann@example.com').map((d) => d.subject)).toEqual([expect.stringMatching(/^CryptoPulse: bought .* BTC$/)]);
    expect(sns.inbox('ann@example.com')[0]!.message).toMatch(/paper trading/);
    expect(sns.inbox('bob@work.example').map((d) => d.subject)).toEqual([expect.stringMatching(/^CryptoPulse: bought .* ETH$/)]);
    expect(sns.deliveries).toHaveLength(2);

    expect(await say('ann', '/settings email off')).toMatch(/off/);
    await say('ann', '/buy btc $100');
    await deliver();
    expect(sns.inbox('ann@example.com')).toHaveLength(1);
    expect(sns.topics().map((t) => t.name)).toEqual(['cryptopulse-user-bob']);
  });

  it('a trade goes through while SNS is failing; its email is retried and arrives once SNS is back', async () => {
    await say('ann', '/signup ann ann@example.com');
    await say('ann', '/settings email on');
    sns.confirm('ann@example.com');
    sns.failNext('Publish', 'InternalError', 500, 2);
    expect(await say('ann', '/buy btc $100')).toMatch(/Bought/);
    expect((await store.getPortfolio('ann'))!.holdings.bitcoin).toBeDefined();

    expect(await deliver()).toMatchObject({ retried: 1 });
    clock.advance(5_000);
    expect(await deliver()).toMatchObject({ retried: 1 });
    expect(sns.deliveries).toEqual([]);
    clock.advance(10_000);
    expect(await deliver()).toMatchObject({ delivered: 1 });
    expect(sns.inbox('ann@example.com').map((d) => d.subject)).toEqual([expect.stringMatching(/^CryptoPulse: bought .* BTC$/)]);
    clock.advance(3_600_000);
    await deliver();
    expect(sns.deliveries).toHaveLength(1);
  });
});
