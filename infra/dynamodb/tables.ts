/**
 * The DynamoDB tables: the one source of truth for their names, keys, indexes and TTL attributes.
 * The store, `npm run db:create`, the generated deployment template (infra/deploy/template.ts:
 * its tables and IAM policies) and the tests read these definitions; see README.md next to this
 * file for the access patterns behind each one.
 *
 * db:create makes every table on-demand (PAY_PER_REQUEST): the bot's load is spiky and small, and
 * on-demand needs no capacity planning. The stack can instead provision them within the free tier
 * (its TableCapacity parameter). Physical names are `${TABLE_PREFIX}${name}`.
 */
import type { AttributeDefinition, CreateTableCommandInput, KeySchemaElement } from '@aws-sdk/client-dynamodb';

type KeyType = 'S' | 'N';
interface Key {
  name: string;
  type: KeyType;
}

export interface IndexDefinition {
  name: string;
  partitionKey: Key;
  sortKey?: Key;
  /** KEYS_ONLY indexes are followed by a GetItem on the table (or only need the keys). */
  projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  /** Logical name, and the physical name after the prefix. */
  name: string;
  partitionKey: Key;
  sortKey?: Key;
  globalIndexes?: IndexDefinition[];
  /** Local indexes share the table's partition key and can only be created with the table. */
  localIndexes?: Omit<IndexDefinition, 'partitionKey'>[];
  /** Attribute holding the expiry in epoch seconds; DynamoDB deletes the item some time after. */
  ttlAttribute?: string;
}

/** Number of shards of the counters item and of the time-ordered feed indexes (see README). */
export const COUNTER_SHARDS = 32;
export const TRANSACTION_FEED_SHARDS = 4;
export const ACTIVITY_SHARDS = 4;
/** Shards of the alert change feed and of the live/finished alert index: readers query each. */
export const ALERT_SHARDS = 4;
/** Shards of the outbox queue index. */
export const OUTBOX_SHARDS = 4;

/** The constant partition value that puts every account into the username-ordered index. */
export const ACCOUNTS_PARTITION = 'accounts';
/** The partition of the tracked-coins table that holds the tracked list. */
export const TRACKED_COINS_PARTITION = 'tracked';

const S = (name: string): Key => ({ name, type: 'S' });
const N = (name: string): Key => ({ name, type: 'N' });

export const TABLES = {
  /** Seed: Users, PK username, GSI on email. */
  users: {
    name: 'users',
    partitionKey: S('username'),
    globalIndexes: [
      // The seed's email index. Lookups through it are verified against the item (see the store).
      { name: 'email-index', partitionKey: S('emailNorm'), projection: 'KEYS_ONLY' },
      // Staff page through accounts in username order: one constant partition (`listPk`), sorted.
      { name: 'username-index', partitionKey: S('listPk'), sortKey: S('username'), projection: 'ALL' },
    ],
  },
  /** One item per lower-cased email: makes emails unique, which a GSI cannot. */
  userEmails: {
    name: 'user-emails',
    partitionKey: S('email'),
  },
  /** Seed: Portfolios, PK username. */
  portfolios: {
    name: 'portfolios',
    partitionKey: S('username'),
  },
  /** Seed: Transactions, PK username, SK `<timestamp, 16 digits>#<transaction id>`. */
  transactions: {
    name: 'transactions',
    partitionKey: S('username'),
    sortKey: S('sk'),
    globalIndexes: [
      // Every account's trades, newest first, for staff: hash-sharded so that no single index
      // partition takes every trade's write; readers merge the shards.
      { name: 'feed-index', partitionKey: S('feedShard'), sortKey: S('feedSk'), projection: 'ALL' },
    ],
  },
  /** Seed: PriceAlerts, PK username (or `#chat:<address>` for a group's broadcast rules), SK
   *  alert_id. Chats' live-rule counts sit in the same partition under `#live` (see alerts.ts). */
  priceAlerts: {
    name: 'price-alerts',
    partitionKey: S('username'),
    sortKey: S('alertId'),
    globalIndexes: [
      // The change feed: every alert write moves the alert to `<updatedAt>#<owner>#<alertId>`
      // in its hash shard, so "what changed since t" is one range query per shard.
      { name: 'change-index', partitionKey: S('changeShard'), sortKey: S('changeSk'), projection: 'ALL' },
      // Live alerts (`live#n`, by owner and id) for building the matcher's index, and finished
      // ones (`done#n`, by time) for pruning: every alert is in exactly one of the two.
      { name: 'state-index', partitionKey: S('stateShard'), sortKey: S('stateSk'), projection: 'ALL' },
    ],
    // Removed alerts expire after a while, as a backstop to pruneAlerts.
    ttlAttribute: 'ttl',
  },
  /** Chat identities (`telegram:42`) linked to accounts. */
  identities: {
    name: 'identities',
    partitionKey: S('key'),
    globalIndexes: [{ name: 'username-index', partitionKey: S('username'), sortKey: N('linkedAt'), projection: 'ALL' }],
  },
  /** One-time codes that link a chat identity to an account (stored as hashes). */
  linkCodes: {
    name: 'link-codes',
    partitionKey: S('codeHash'),
    ttlAttribute: 'ttl',
  },
  /** The coins the bot tracks: one partition, a handful of items. */
  trackedCoins: {
    name: 'tracked-coins',
    partitionKey: S('scope'),
    sortKey: S('coinId'),
  },
  /** The activity log: per user (or per unlinked identity), newest first; expires. */
  activity: {
    name: 'activity',
    partitionKey: S('owner'),
    sortKey: S('sk'),
    globalIndexes: [
      // Finds entries older than a cut-off for pruneActivity without a scan; sharded like the feed.
      { name: 'time-index', partitionKey: S('timeShard'), sortKey: N('at'), projection: 'KEYS_ONLY' },
    ],
    ttlAttribute: 'ttl',
  },
  /** Trade idempotency records (`trade#<username>#<key>`), once-only claims (`claim#<key>`),
   *  brute-force attempt counters (`attempts#<key>`) and what chat buttons do (`buttons#<id>`):
   *  small keyed records that expire; also the job leader's lease (`lease#<name>`) and the
   *  prices it publishes (`prices#latest`). */
  idempotency: {
    name: 'idempotency',
    partitionKey: S('id'),
    ttlAttribute: 'ttl',
  },
  /** Sharded counters for stats(): `stats#00` .. `stats#31`. */
  counters: {
    name: 'counters',
    partitionKey: S('shard'),
  },
  /** Every pushed message (alerts, broadcasts, trade emails), from queued to delivered or given
   *  up: `queue-index` holds pending ones by due time (`pending#n`) and settled ones by settle
   *  time (`settled#n`). Settled rows expire. */
  outbox: {
    name: 'outbox',
    partitionKey: S('id'),
    globalIndexes: [{ name: 'queue-index', partitionKey: S('queue'), sortKey: N('queueAt'), projection: 'ALL' }],
    ttlAttribute: 'ttl',
  },
  /** What the bot knows about a chat it pushes to (unreachable, broadcasts paused), by address. */
  chats: {
    name: 'chats',
    partitionKey: S('address'),
  },
  /** Each user's portfolio value per UTC day (/chart portfolio, /leaderboard): one partition per
   *  user, days sorted, so a range is one query. Snapshots expire a year after they were taken. */
  portfolioSnapshots: {
    name: 'portfolio-snapshots',
    partitionKey: S('username'),
    sortKey: S('day'),
    ttlAttribute: 'ttl',
  },
  /** Linked users seen in a group (the leaderboard's members): one partition per chat address. */
  chatMembers: {
    name: 'chat-members',
    partitionKey: S('chat'),
    sortKey: S('username'),
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;
export type TableNames = Record<TableKey, string>;

/**
 * The tables the Store implementation reads and writes: every table. A table is defined here only
 * together with the code that uses it, so `db:create` never makes (and the runtime role of the
 * stack built by infra/deploy/template.ts never grants) a table nothing reads.
 */
export const STORE_TABLES: readonly TableKey[] = Object.keys(TABLES) as TableKey[];

export function tableNames(prefix: string): TableNames {
  return Object.fromEntries(Object.entries(TABLES).map(([key, def]) => [key, `${prefix}${def.name}`])) as TableNames;
}

function keySchema(partitionKey: Key, sortKey?: Key): KeySchemaElement[] {
  const schema: KeySchemaElement[] = [{ AttributeName: partitionKey.name, KeyType: 'HASH' }];
  if (sortKey) schema.push({ AttributeName: sortKey.name, KeyType: 'RANGE' });
  return schema;
}

/** Every attribute used in a key of the table or one of its indexes, once. */
export function keyAttributes(def: TableDefinition): AttributeDefinition[] {
  const keys: Key[] = [def.partitionKey];
  if (def.sortKey) keys.push(def.sortKey);
  for (const index of def.globalIndexes ?? []) keys.push(index.partitionKey, ...(index.sortKey ? [index.sortKey] : []));
  for (const index of def.localIndexes ?? []) if (index.sortKey) keys.push(index.sortKey);
  const seen = new Map<string, KeyType>();
  for (const key of keys) {
    const known = seen.get(key.name);
    if (known && known !== key.type) throw new Error(`${def.name}.${key.name} is used as both ${known} and ${key.type}`);
    seen.set(key.name, key.type);
  }
  return [...seen].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

export function createTableInput(def: TableDefinition, physicalName: string): CreateTableCommandInput {
  const input: CreateTableCommandInput = {
    TableName: physicalName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyAttributes(def),
    KeySchema: keySchema(def.partitionKey, def.sortKey),
  };
  if (def.globalIndexes?.length) {
    input.GlobalSecondaryIndexes = def.globalIndexes.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index.partitionKey, index.sortKey),
      Projection: { ProjectionType: index.projection },
    }));
  }
  if (def.localIndexes?.length) {
    input.LocalSecondaryIndexes = def.localIndexes.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(def.partitionKey, index.sortKey),
      Projection: { ProjectionType: index.projection },
    }));
  }
  return input;
}
