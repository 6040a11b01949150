/**
 * The store's DynamoDB calls, as the alert, outbox and chat modules use them. Only
 * dynamodb-store.ts implements this and imports SDK commands: test/deploy-stack.test.ts reads the
 * IAM actions the runtime role needs from that one file's imports, so keeping every command
 * there keeps the role exact. The modules only build inputs (the `type` imports below).
 */
import type { QueryCommandInput, TransactWriteCommandInput, UpdateCommandInput, PutCommandInput, DeleteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Item } from './items';
import type { Cancellation } from './retry';

export type WriteAction = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface StoreIo {
  /** GetItem, strongly consistent. */
  get(table: string, key: Item): Promise<Item | undefined>;
  /** BatchGetItem of any number of keys (chunked, unprocessed keys retried), consistent. */
  batchGet(table: string, keys: Item[]): Promise<Item[]>;
  /** PutItem; false when its condition failed. */
  put(input: PutCommandInput): Promise<boolean>;
  /** UpdateItem; the item after the update (ALL_NEW), or null when its condition failed. */
  update(input: UpdateCommandInput): Promise<Item | null>;
  /** DeleteItem; false when its condition failed. */
  delete(input: DeleteCommandInput): Promise<boolean>;
  /** One page of a query. */
  query(input: QueryCommandInput): Promise<{ items: Item[]; last?: Record<string, unknown> }>;
  /** Every page. */
  queryAll(input: QueryCommandInput): Promise<Item[]>;
  /** Up to `limit + 1` items (the extra one says whether there is a next page). */
  queryPage(input: QueryCommandInput, limit: number): Promise<Item[]>;
  /** TransactWriteItems, conflicts and throttling retried; the cancellation when a condition failed. */
  transact(actions: WriteAction[]): Promise<Cancellation | undefined>;
  /** BatchWriteItem deletes, 25 at a time. */
  deleteBatch(table: string, keys: Item[]): Promise<void>;
  /** BatchWriteItem puts (unconditional, replacing), 25 at a time. */
  putBatch(table: string, items: Item[]): Promise<void>;
  /** ADDs to a stats counter shard (a random one, or `shard` to keep parallel writers apart). */
  count(deltas: Record<string, number>, shard?: number): WriteAction;
}

export const conditionFailed = (failed: Cancellation, index: number) => failed.codes[index] === 'ConditionalCheckFailed';

/**
 * Deletes, shard by shard in parallel, what `query(n)` finds (a range of a sharded index; keys
 * projected are enough) and returns how many: the prune of finished alerts and settled messages.
 */
export async function deleteFound(io: StoreIo, table: string, shards: number, query: (n: number) => QueryCommandInput, keyOf: (item: Item) => Item): Promise<number> {
  const perShard = await Promise.all(
    Array.from({ length: shards }, async (_, n) => {
      const items = await io.queryAll(query(n));
      await io.deleteBatch(table, items.map(keyOf));
      return items.length;
    }),
  );
  return perShard.reduce((a, b) => a + b, 0);
}

// One way of bounding parallel work, shared with the core.
export { eachLimited } from '../../core/each-limited';
