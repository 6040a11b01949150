/**
 * Migrating alerts saved by the release before issue 10 (infra/dynamodb/migrate-alerts.ts, run by
 * `npm run db:create`) against DynamoDB Local. Old-shape items are written exactly as that release
 * wrote them (its alertItem, and the counts it kept beside them); after the migration the current
 * store lists them, fires them, shows them in its change feed and keeps the owners' counts right.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { broadcastOwner, type Account, type PriceAlert } from '../core/domain';
import { deleteTables, ensureTables } from '../infra/dynamodb/admin';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { alertItem, type Item } from '../infra/dynamodb/items';
import { migrateAlerts, migrationUpdate } from '../infra/dynamodb/migrate-alerts';
import { STORE_TABLES, tableNames } from '../infra/dynamodb/tables';
import { LOCAL_CLIENT_CONFIG } from './support/dynamodb-local';

const endpoint = inject('dynamodbEndpoint');
const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint }), { marshallOptions: { removeUndefinedValues: true } });
const T = 1_700_000_000_000;

const opened: Array<{ prefix: string; store: DynamoDbStore }> = [];
afterAll(async () => {
  for (const { prefix, store } of opened) {
    await store.close();
    await deleteTables(admin, prefix, STORE_TABLES);
  }
  admin.destroy();
  doc.destroy();
});

/** Fresh tables (TTL off: the clock here is in 2023) and a store on them. */
async function fresh() {
  const prefix = `t-${randomUUID().slice(0, 8)}-`;
  await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
  const store = DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: prefix });
  opened.push({ prefix, store });
  return { prefix, store, tables: tableNames(prefix) };
}

function account(username: string): Account {
  return { username, email: `${username}@example.com`, passwordHash: null, role: 'user', createdAt: T, currency: 'usd', emailNotifications: false };
}

interface LegacyAlert {
  username: string;
  alertId: string;
  coinId: string;
  condition: 'above' | 'below';
  targetPrice: string;
  active: boolean;
  createdAt: number;
  firedAt?: number;
}

/** The previous release's alertItem, verbatim. */
function legacyItem(a: LegacyAlert): Item {
  const item: Item = {
    username: a.username, alertId: a.alertId, coinId: a.coinId, condition: a.condition, targetPrice: a.targetPrice,
    active: a.active, createdAt: a.createdAt, firedAt: a.firedAt,
  };
  if (a.active) Object.assign(item, { activeCoin: a.coinId, activeSince: a.createdAt });
  return item;
}

/**
 * Writes old-shape alerts and, as the previous release did in the same transaction, counts the
 * active ones on their owner's account item and in the stats counters.
 */
async function writeLegacy(tables: ReturnType<typeof tableNames>, alerts: LegacyAlert[]): Promise<void> {
  for (const a of alerts) {
    await doc.send(new PutCommand({ TableName: tables.priceAlerts, Item: legacyItem(a) }));
    if (!a.active) continue;
    await doc.send(new UpdateCommand({
      TableName: tables.users, Key: { username: a.username },
      UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'activeAlerts' }, ExpressionAttributeValues: { ':one': 1 },
    }));
    await doc.send(new UpdateCommand({
      TableName: tables.counters, Key: { shard: 'stats#00' },
      UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'activeAlerts' }, ExpressionAttributeValues: { ':one': 1 },
    }));
  }
}

async function rawAlert(tables: ReturnType<typeof tableNames>, username: string, alertId: string): Promise<Item | undefined> {
  return (await doc.send(new GetCommand({ TableName: tables.priceAlerts, Key: { username, alertId }, ConsistentRead: true }))).Item;
}

async function scanAll(table: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => `${a.username}/${a.alertId}`.localeCompare(`${b.username}/${b.alertId}`));
}

function newAlert(username: string, alertId: string, at: number): PriceAlert {
  return { alertId, username, coinId: 'bitcoin', condition: 'above', targetPrice: '90000', state: 'armed', createdAt: at, fireCount: 0, version: 1, updatedAt: at };
}

const ALICE_ARMED: LegacyAlert = { username: 'alice', alertId: 'a1', coinId: 'bitcoin', condition: 'above', targetPrice: '50000.50', active: true, createdAt: T };
const ALICE_FIRED: LegacyAlert = { username: 'alice', alertId: 'a2', coinId: 'bitcoin', condition: 'below', targetPrice: '40000', active: false, createdAt: T + 1, firedAt: T + 100 };
const BOB_ARMED: LegacyAlert = { username: 'bob', alertId: 'b1', coinId: 'ethereum', condition: 'above', targetPrice: '3000', active: true, createdAt: T + 2 };

describe('migrating alerts saved by the previous release', () => {
  it('makes them visible again: listed as armed or fired, among the live alerts, and in the change feed', async () => {
    const { store, tables, prefix } = await fresh();
    for (const user of ['alice', 'bob']) await store.createAccount(account(user), '100');
    await writeLegacy(tables, [ALICE_ARMED, ALICE_FIRED, BOB_ARMED]);
    // What the issue is about: before the migration the current queries do not see them.
    expect((await store.listLiveAlerts({ limit: 10 })).items).toEqual([]);

    const lines: string[] = [];
    expect(await migrateAlerts(admin, prefix, { log: (line) => lines.push(line) })).toEqual({ found: 3, migrated: 3, skipped: 0 });
    expect(lines).toEqual([`migrated 3 alert(s) in ${tables.priceAlerts} to the current shape`]);

    expect(await store.listAlerts('alice')).toEqual([
      { alertId: 'a1', username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '50000.50', state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T },
      {
        alertId: 'a2', username: 'alice', coinId: 'bitcoin', condition: 'below', targetPrice: '40000', state: 'fired', createdAt: T + 1, firedAt: T + 100,
        fireCount: 1, version: 1, updatedAt: T + 100,
      },
    ]);
    const live = (await store.listLiveAlerts({ limit: 10 })).items;
    expect(live.map((a) => `${a.username}/${a.alertId}/${a.state}`).sort()).toEqual(['alice/a1/armed', 'bob/b1/armed']);

    const changes = await store.listAlertChanges(await store.alertChangeCursor());
    expect(changes.alerts.map((a) => `${a.username}/${a.alertId}/${a.state}@${a.updatedAt}`).sort()).toEqual([
      `alice/a1/armed@${T}`, `alice/a2/fired@${T + 100}`, `bob/b1/armed@${T + 2}`,
    ]);

    // Exactly the item the current store would have written, with the retired index keys gone.
    for (const legacy of [ALICE_ARMED, ALICE_FIRED, BOB_ARMED]) {
      const migrated = (await store.getAlert(legacy.username, legacy.alertId))!;
      expect(await rawAlert(tables, legacy.username, legacy.alertId)).toEqual(alertItem(migrated));
    }
  });

  it('leaves the counts right: a migrated armed alert fires once and frees its place under the limit', async () => {
    const { store, tables, prefix } = await fresh();
    await store.createAccount(account('alice'), '100');
    const second: LegacyAlert = { ...ALICE_ARMED, alertId: 'a3', targetPrice: '60000', createdAt: T + 3 };
    await writeLegacy(tables, [ALICE_ARMED, ALICE_FIRED, second]);
    await migrateAlerts(admin, prefix);

    // Two live alerts, as the previous release counted them: a limit of 3 leaves room for one more.
    expect((await store.stats()).activeAlerts).toBe(2);
    expect(await store.createAlert(newAlert('alice', 'n1', T + 1_000), 3)).toBe('created');
    expect(await store.createAlert(newAlert('alice', 'n2', T + 1_001), 3)).toBe('limit');

    const cursor = await store.alertChangeCursor();
    const firing = { username: 'alice', alertId: 'a1', version: 1, state: 'fired' as const, at: T + 5_000, messages: [] };
    expect([...(await store.fireAlerts([firing]))]).toEqual(['a1']);
    // Claimed once: the same firing again finds it at version 2 and no longer live.
    expect([...(await store.fireAlerts([firing]))]).toEqual([]);

    expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'fired', fireCount: 1, version: 2, firedAt: T + 5_000, updatedAt: T + 5_000 });
    const changed = (await store.listAlertChanges(cursor)).alerts.filter((a) => a.alertId === 'a1');
    expect(changed.map((a) => `${a.state}/v${a.version}`)).toEqual(['fired/v2']);
    expect((await store.listLiveAlerts({ limit: 10 })).items.map((a) => a.alertId).sort()).toEqual(['a3', 'n1']);

    // Its place under the limit is free again, and the stats moved with it.
    expect((await store.stats()).activeAlerts).toBe(2);
    expect(await store.createAlert(newAlert('alice', 'n2', T + 6_000), 3)).toBe('created');
    expect((await rawAlert(tables, 'alice', 'a1'))?.activeCoin).toBeUndefined();
  });

  it('changes nothing when run again, and leaves new-release items and chat counts alone', async () => {
    const { store, tables, prefix } = await fresh();
    await store.createAccount(account('alice'), '100');
    // Written by the current release: a user's alert and a group's broadcast rule (with its `#live` count).
    await store.createAlert(newAlert('alice', 'current', T + 10), 5);
    await store.createAlert({ ...newAlert(broadcastOwner('telegram:-100'), 'rule', T + 11) }, 5);
    await writeLegacy(tables, [ALICE_ARMED, ALICE_FIRED]);

    expect(await migrateAlerts(admin, prefix)).toEqual({ found: 2, migrated: 2, skipped: 0 });
    const after = await scanAll(tables.priceAlerts);
    const lines: string[] = [];
    expect(await migrateAlerts(admin, prefix, { log: (line) => lines.push(line) })).toEqual({ found: 0, migrated: 0, skipped: 0 });
    expect(lines).toEqual([`alerts in ${tables.priceAlerts} are all in the current shape`]);
    expect(await scanAll(tables.priceAlerts)).toEqual(after);
    expect(after.find((i) => i.alertId === '#live')).toMatchObject({ username: broadcastOwner('telegram:-100'), activeAlerts: 1 });
    expect(after.find((i) => i.alertId === 'current')).toEqual(alertItem(newAlert('alice', 'current', T + 10)));
  });

  it('finishes what an interrupted run left, page by page', async () => {
    const { store, tables, prefix } = await fresh();
    await store.createAccount(account('alice'), '100');
    const legacy = Array.from({ length: 7 }, (_, i): LegacyAlert => ({ ...ALICE_ARMED, alertId: `x${i}`, createdAt: T + i }));
    await writeLegacy(tables, legacy);
    // An earlier run got through two of them before it stopped.
    for (const old of legacy.slice(0, 2)) await doc.send(new UpdateCommand(migrationUpdate(tables.priceAlerts, legacyItem(old))));

    expect(await migrateAlerts(admin, prefix, { pageSize: 2 })).toEqual({ found: 5, migrated: 5, skipped: 0 });
    const listed = await store.listAlerts('alice');
    expect(listed.map((a) => `${a.alertId}/${a.state}/v${a.version}`)).toEqual(legacy.map((a) => `${a.alertId}/armed/v1`));
    expect((await store.listLiveAlerts({ limit: 10 })).items).toHaveLength(7);
  });

  it('never overwrites an alert written meanwhile by the new release, nor revives one deleted meanwhile', async () => {
    const { tables } = await fresh();
    await writeLegacy(tables, [ALICE_ARMED, ALICE_FIRED]);
    // The scan read both in the old shape; then, before the updates: a1 was rewritten by the new
    // release (fired, version 2), and a2 was deleted by the old one.
    const read = [legacyItem(ALICE_ARMED), legacyItem(ALICE_FIRED)];
    const newer: PriceAlert = { ...newAlert('alice', 'a1', T), targetPrice: '50000.50', state: 'fired', firedAt: T + 7_000, fireCount: 1, version: 2, updatedAt: T + 7_000 };
    await doc.send(new PutCommand({ TableName: tables.priceAlerts, Item: alertItem(newer) }));
    await doc.send(new DeleteCommand({ TableName: tables.priceAlerts, Key: { username: 'alice', alertId: 'a2' } }));

    for (const old of read) {
      await expect(doc.send(new UpdateCommand(migrationUpdate(tables.priceAlerts, old)))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    }
    expect(await rawAlert(tables, 'alice', 'a1')).toEqual(alertItem(newer));
    expect(await rawAlert(tables, 'alice', 'a2')).toBeUndefined();
  });
});
