/**
 * Creating the tables, idempotently: used by `npm run db:create` and by the tests. Running it
 * again creates whatever is missing (tables, global indexes, deletion protection, point-in-time
 * recovery, TTL settings, the default coins) and leaves everything else alone, so it is safe on
 * every deploy. Creating needs permissions (CreateTable, UpdateTable, ...) the bot's runtime role
 * does not have. On AWS the stack (infra/deploy/template.ts) owns the tables, and its operator
 * policy lets db:create only describe them, seed the coins and migrate alerts.
 */
import {
  ContinuousBackupsUnavailableException,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  LimitExceededException,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateContinuousBackupsCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_COINS } from '../../core/coins';
import { backoffDelay } from '../support/backoff';
import { sleep } from './retry';
import { createTableInput, keyAttributes, TABLES, TRACKED_COINS_PARTITION, type TableDefinition, type TableKey, tableNames } from './tables';

export interface EnsureOptions {
  /** Which tables; all of them by default. */
  only?: readonly TableKey[];
  /** Progress lines for a human (db:create prints them). */
  log?: (line: string) => void;
  /** How often to poll a table or index that is still being created, in ms. */
  pollMs?: number;
  /**
   * Turn TTL on (the default). Tests with a fixed clock in the past leave it off: DynamoDB Local,
   * like AWS, would otherwise sweep their link codes, claims and activity away mid-test.
   */
  enableTtl?: boolean;
  /**
   * Create tables with deletion protection, and turn it on for existing ones (the default). Tests
   * that delete their tables afterwards leave it off; `deleteTables` refuses protected tables.
   */
  deletionProtection?: boolean;
  /**
   * Turn on point-in-time recovery (the default): 35 days of restorable history per table. An
   * endpoint without the backup API (DynamoDB Local) is skipped with a log line.
   */
  pointInTimeRecovery?: boolean;
}

/** Marks that the default coins were seeded once, so coins an admin removed stay removed. */
const SEED_MARKER = { scope: 'meta', coinId: 'default-coins-seeded' };

export async function ensureTables(client: DynamoDBClient, prefix: string, options: EnsureOptions = {}): Promise<void> {
  const names = tableNames(prefix);
  const keys = options.only ?? (Object.keys(TABLES) as TableKey[]);
  // DynamoDB allows only one table with secondary indexes in the CREATING state at a time: those
  // go one after another (each waits until ACTIVE); plain tables go in parallel.
  const indexed = (key: TableKey) => hasIndexes(TABLES[key]);
  await Promise.all(keys.filter((key) => !indexed(key)).map((key) => ensureTable(client, TABLES[key], names[key], options)));
  for (const key of keys.filter(indexed)) await ensureTable(client, TABLES[key], names[key], options);
  if (keys.includes('trackedCoins')) await seedDefaultCoins(client, names.trackedCoins, options.log);
}

function hasIndexes(def: TableDefinition): boolean {
  return Boolean(def.globalIndexes?.length || def.localIndexes?.length);
}

async function ensureTable(client: DynamoDBClient, def: TableDefinition, name: string, options: EnsureOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const protect = options.deletionProtection !== false;
  const found = await describe(client, name);
  if (!found) {
    try {
      await retryLimited(() => client.send(new CreateTableCommand({ ...createTableInput(def, name), DeletionProtectionEnabled: protect })));
      log(`created table ${name}${protect ? ' with deletion protection' : ''}`);
    } catch (error) {
      // Another db:create (or test) got there first: fine, it is the same definition.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  } else {
    checkKeys(def, name, found);
  }
  const table = await waitUntilActive(client, name, options.pollMs);

  // Global indexes added to the definitions after the table was made: DynamoDB builds one at a time.
  const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const wanted = createTableInput(def, name);
  for (const index of wanted.GlobalSecondaryIndexes ?? []) {
    if (existing.has(index.IndexName)) continue;
    const create = { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection };
    await retryLimited(() =>
      client.send(new UpdateTableCommand({ TableName: name, AttributeDefinitions: keyAttributes(def), GlobalSecondaryIndexUpdates: [{ Create: create }] })),
    );
    log(`creating index ${name}.${index.IndexName}`);
    await waitUntilActive(client, name, options.pollMs);
  }
  const missingLocal = (def.localIndexes ?? []).filter((i) => !(table.LocalSecondaryIndexes ?? []).some((l) => l.IndexName === i.name));
  if (missingLocal.length) {
    throw new Error(`Table ${name} lacks local index ${missingLocal.map((i) => i.name).join(', ')}, which DynamoDB can only add by re-creating the table.`);
  }

  // A table made before deletion protection was the default (or by hand) gets it now; never off.
  if (protect && table.DeletionProtectionEnabled !== true) {
    await retryLimited(() => client.send(new UpdateTableCommand({ TableName: name, DeletionProtectionEnabled: true })));
    log(`enabled deletion protection on ${name}`);
    await waitUntilActive(client, name, options.pollMs);
  }

  if (options.pointInTimeRecovery !== false) await ensurePointInTimeRecovery(client, name, log, options.pollMs);

  if (def.ttlAttribute && options.enableTtl !== false) {
    const ttl = (await client.send(new DescribeTimeToLiveCommand({ TableName: name }))).TimeToLiveDescription;
    const status = ttl?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }));
      log(`enabled TTL on ${name}.${def.ttlAttribute}`);
    } else if (ttl?.AttributeName !== def.ttlAttribute) {
      throw new Error(`Table ${name} has TTL on ${ttl?.AttributeName}, expected ${def.ttlAttribute}`);
    }
  }
}

/**
 * Point-in-time recovery, if it is not on yet. DynamoDB Local has no backup API at all (it answers
 * UnknownOperationException, which AWS never does for these operations): skipped, with a log line.
 */
async function ensurePointInTimeRecovery(client: DynamoDBClient, name: string, log: (line: string) => void, pollMs = 2_000): Promise<void> {
  let status: string | undefined;
  try {
    const out = await client.send(new DescribeContinuousBackupsCommand({ TableName: name }));
    status = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus;
  } catch (error) {
    if (error instanceof Error && error.name === 'UnknownOperationException') {
      log(`point-in-time recovery on ${name}: not supported by this endpoint (DynamoDB Local?), skipped`);
      return;
    }
    throw error;
  }
  if (status === 'ENABLED' || status === 'ENABLING') return;
  // A table created a moment ago can answer ContinuousBackupsUnavailable for a while: retried.
  await retryLimited(
    () => client.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })),
    [ContinuousBackupsUnavailableException],
    pollMs,
  );
  log(`enabled point-in-time recovery on ${name}`);
}

/**
 * Too many table operations at once in the account (another deploy, say), or one of the other
 * transient errors in `also`: wait and retry.
 */
async function retryLimited<T>(
  operation: () => Promise<T>,
  also: readonly (abstract new (...args: never[]) => Error)[] = [],
  baseMs = 1_000,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await operation();
    } catch (error) {
      const passing = error instanceof LimitExceededException || also.some((type) => error instanceof type);
      if (!passing || retry >= 8) throw error;
      await sleep(backoffDelay(retry, { baseMs, maxMs: 20_000, jitter: 'full' }));
    }
  }
}

/** A table whose keys differ from the definition cannot be fixed in place: say so loudly. */
function checkKeys(def: TableDefinition, name: string, table: TableDescription): void {
  const expected = createTableInput(def, name).KeySchema!.map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  const actual = (table.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  if (expected !== actual) throw new Error(`Table ${name} exists with key (${actual}), expected (${expected})`);
}

async function describe(client: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** Polls until the table and all its global indexes are ACTIVE (immediate on DynamoDB Local). */
async function waitUntilActive(client: DynamoDBClient, name: string, pollMs = 2_000): Promise<TableDescription> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const table = await describe(client, name);
    const ready = table?.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (table && ready) return table;
    if (Date.now() > deadline) throw new Error(`Table ${name} is still not ACTIVE after 10 minutes`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function seedDefaultCoins(client: DynamoDBClient, table: string, log: (line: string) => void = () => {}): Promise<void> {
  const doc = DynamoDBDocumentClient.from(client);
  const putOnce = async (item: Record<string, unknown>): Promise<boolean> => {
    try {
      await doc.send(new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(#s)', ExpressionAttributeNames: { '#s': 'scope' } }));
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  };
  const seeded = await doc.send(new GetCommand({ TableName: table, Key: SEED_MARKER, ConsistentRead: true }));
  if (seeded.Item) return;
  // Coins first, marker last: a crash in between only means the next run seeds again.
  await Promise.all(
    DEFAULT_COINS.map(({ id, symbol, name }) => putOnce({ scope: TRACKED_COINS_PARTITION, coinId: id, symbol, name })),
  );
  if (await putOnce({ ...SEED_MARKER })) log(`seeded ${DEFAULT_COINS.length} default coins into ${table}`);
}

/**
 * Deletes the tables with this prefix (tests and local resets only; never called in production).
 * Tables with deletion protection (what db:create makes) are refused by DynamoDB: this fails.
 */
export async function deleteTables(client: DynamoDBClient, prefix: string, only?: readonly TableKey[]): Promise<void> {
  const names = tableNames(prefix);
  const keys = only ?? (Object.keys(TABLES) as TableKey[]);
  await Promise.all(
    keys.map(async (key) => {
      try {
        await client.send(new DeleteTableCommand({ TableName: names[key] }));
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
    }),
  );
}
