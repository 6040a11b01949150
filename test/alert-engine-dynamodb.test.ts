/**
 * Exactly once on the production store: two bot instances, each with its own DynamoDB client and
 * its own in-memory alert index, match the same ticks against one set of tables in DynamoDB Local.
 * Each alert is announced once; a repeating alert respects its cool-down; an alert one instance
 * sets is fired by the other within a tick (the change feed).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCore, DEFAULT_CORE_CONFIG } from '../core/app';
import { renderPlainText } from '../core/messages';
import { deleteTables, ensureTables } from '../infra/dynamodb/admin';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { STORE_TABLES } from '../infra/dynamodb/tables';
import { BcryptPasswords } from '../infra/support/system';
import { alertPipeline, twoInstancesMatchTheSameTicks } from './support/alerts';
import { LOCAL_CLIENT_CONFIG } from './support/dynamodb-local';
import { countingIds, makeTestBot, RecordingChats } from './support/harness';

const endpoint = inject('dynamodbEndpoint');
const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) await deleteTables(admin, prefix, STORE_TABLES);
});

/** What the chats received: to whom (identity key or chat address), as the terminal shows it. */
function sent(chats: RecordingChats): Array<{ to: string; text: string }> {
  return chats.received.map((r) => ({ to: r.to.replace(/^(user|chat):/, ''), text: renderPlainText(r.message) }));
}

async function twoInstances() {
  const prefix = `t-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  // TTL stays off: the tests' clock is not today's, and DynamoDB Local would sweep their records.
  await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
  const open = () => DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: prefix });
  // More alerts fire at once here than the per-chat cap lets through in a minute.
  const config = { ...DEFAULT_CORE_CONFIG, alertsPerMinute: 100 };
  const first = await makeTestBot({ store: open(), config });
  const secondStore = open();
  const second = createCore({
    store: secondStore, prices: first.feed, notifier: first.notifier, passwords: new BcryptPasswords(4),
    clock: first.clock, ids: countingIds('second'), logger: first.core.services.logger, config,
  });
  return { first, second, close: async () => { await secondStore.close(); await first.close(); } };
}

describe('alerts on DynamoDB with two instances', () => {
  it('announces each alert once when both instances match the same ticks', async () => {
    const { first, second, close } = await twoInstances();
    try {
      const { crossing, again } = await twoInstancesMatchTheSameTicks(first, second.services, 12);
      expect(crossing).toEqual({ fired: 13, messages: 13, distinct: 13 });
      // Within the repeating alert's cool-down nothing fires again, on either instance.
      expect(again).toEqual({ fired: 0, messages: 13 });
    } finally {
      await close();
    }
  });

  it('fires, on one instance, an alert set through the other after its index was built', async () => {
    const { first, second, close } = await twoInstances();
    try {
      first.feed.set('bitcoin', '50000');
      await first.signup('ann');
      const chats = new RecordingChats();
      const watcher = alertPipeline(second.services, chats);
      await watcher.engine.start();
      await first.say('ann', '/alert btc above 51000');
      first.clock.advance(30_000);
      first.feed.set('bitcoin', '52000');
      expect(await watcher.check()).toBe(1);
      expect(sent(chats).map((s) => s.to)).toEqual(['console:ann']);
    } finally {
      await close();
    }
  });
});
