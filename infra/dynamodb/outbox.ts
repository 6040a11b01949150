/**
 * The outbox and chat states on DynamoDB (tables `outbox` and `chats`; see README.md).
 *
 * A message is queued by a conditional Put (an id already queued is left alone), on its own or
 * inside the transaction that caused it (a firing, a trade). While pending it sits in
 * `queue-index` under `pending#n` by due time; leasing is a conditional UpdateItem per message
 * (pending, due, and not held by anyone), so of instances racing for one message exactly one gets
 * it. Settling moves it to `settled#n` by settle time (for pruneOutbox) and gives it a TTL.
 */
import type { ChatState, OutboxMessage } from '../../core/domain';
import type { OutboxSettlement } from '../../core/ports';
import { outboxItem, settledQueueKey, toChatState, toOutboxMessage, ttlSeconds, OUTBOX_RETENTION_S } from './items';
import { deleteFound, eachLimited, type StoreIo, type WriteAction } from './io';
import { OUTBOX_SHARDS, type TableNames } from './tables';

const ENQUEUE_CONCURRENCY = 25;

/** The Put that queues a message unless one with its id is queued already. */
export function putMessage(table: string, m: OutboxMessage): WriteAction {
  return { Put: { TableName: table, Item: outboxItem(m), ConditionExpression: 'attribute_not_exists(#id)', ExpressionAttributeNames: { '#id': 'id' } } };
}

const byDue = (a: OutboxMessage, b: OutboxMessage) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class DynamoOutbox {
  constructor(
    private readonly io: StoreIo,
    private readonly t: TableNames,
  ) {}

  async enqueueMessages(messages: OutboxMessage[]): Promise<void> {
    // Conditional Puts, not a batch: BatchWriteItem cannot leave an existing message alone.
    await eachLimited(messages, ENQUEUE_CONCURRENCY, async (m) => {
      const { Put } = putMessage(this.t.outbox, m) as Required<Pick<WriteAction, 'Put'>>;
      await this.io.put(Put);
    });
  }

  /**
   * The oldest due, unheld candidates of every shard (the index is eventually consistent, so it
   * only proposes), then one conditional lease per candidate on the table itself: only those
   * that really were pending, due and free come back.
   */
  async leaseOutbox(now: number, limit: number, leaseMs: number): Promise<OutboxMessage[]> {
    if (limit <= 0) return [];
    // Up to limit + 1 a shard (queryPage pages past what the filter drops); the oldest `limit` overall are candidates.
    const shards = await Promise.all(
      Array.from({ length: OUTBOX_SHARDS }, (_, n) =>
        this.io.queryPage(
          {
            TableName: this.t.outbox,
            IndexName: 'queue-index',
            KeyConditionExpression: '#q = :q AND #at <= :now',
            FilterExpression: 'attribute_not_exists(#lease) OR #lease <= :now',
            ExpressionAttributeNames: { '#q': 'queue', '#at': 'queueAt', '#lease': 'leaseUntil' },
            ExpressionAttributeValues: { ':q': `pending#${n}`, ':now': now },
          },
          limit,
        ),
      ),
    );
    const candidates = shards.flat().map(toOutboxMessage).sort(byDue).slice(0, limit);
    const leased: OutboxMessage[] = [];
    await eachLimited(candidates, ENQUEUE_CONCURRENCY, async (m) => {
      const item = await this.io.update({
        TableName: this.t.outbox,
        Key: { id: m.id },
        UpdateExpression: 'SET #lease = :until',
        ConditionExpression: '#status = :pending AND #due <= :now AND (attribute_not_exists(#lease) OR #lease <= :now)',
        ExpressionAttributeNames: { '#lease': 'leaseUntil', '#status': 'status', '#due': 'dueAt' },
        ExpressionAttributeValues: { ':until': now + leaseMs, ':pending': 'pending', ':now': now },
        ReturnValues: 'ALL_NEW',
      });
      if (item) leased.push(toOutboxMessage(item));
    });
    return leased.sort(byDue);
  }

  /** Only a pending message settles: settling an unknown or already settled one changes nothing. */
  async settleOutbox(id: string, outcome: OutboxSettlement): Promise<void> {
    const names: Record<string, string> = { '#status': 'status', '#lease': 'leaseUntil', '#at': 'queueAt' };
    const values: Record<string, unknown> = { ':pending': 'pending' };
    const set: string[] = [];
    const field = (name: string, value: unknown) => {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      set.push(`#${name} = :${name}`);
    };
    if (outcome.status === 'retry') {
      // A failed attempt: counted (a delivered message keeps its count of failures, as in SQLite).
      names['#n'] = 'attempts';
      values[':one'] = 1;
      set.push('#n = #n + :one');
      field('dueAt', outcome.dueAt);
      field('error', outcome.error);
      set.push('#at = :dueAt');
    } else {
      field('status', outcome.status);
      field('settledAt', outcome.at);
      field('ttl', ttlSeconds(outcome.at) + OUTBOX_RETENTION_S);
      if (outcome.status === 'failed') field('error', outcome.error);
      // Out of the pending queue (so never leased again), into the settled one for pruning.
      names['#q'] = 'queue';
      values[':settled'] = settledQueueKey(id);
      set.push('#q = :settled', '#at = :settledAt');
    }
    await this.io.update({
      TableName: this.t.outbox,
      Key: { id },
      UpdateExpression: `SET ${set.join(', ')} REMOVE #lease`,
      ConditionExpression: '#status = :pending',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async getOutboxMessage(id: string): Promise<OutboxMessage | null> {
    const item = await this.io.get(this.t.outbox, { id });
    return item ? toOutboxMessage(item) : null;
  }

  /** Settled messages by settle time, from the `settled#n` shards (TTL also takes them later). */
  async pruneOutbox(before: number): Promise<number> {
    return deleteFound(
      this.io,
      this.t.outbox,
      OUTBOX_SHARDS,
      (n) => ({
        TableName: this.t.outbox,
        IndexName: 'queue-index',
        KeyConditionExpression: '#q = :q AND #at < :before',
        ExpressionAttributeNames: { '#q': 'queue', '#at': 'queueAt', '#id': 'id' },
        ExpressionAttributeValues: { ':q': `settled#${n}`, ':before': before },
        ProjectionExpression: '#id',
      }),
      (i) => ({ id: i.id }),
    );
  }

  // ---- chat states ------------------------------------------------------------------------------

  async getChatStates(addresses: string[]): Promise<Map<string, ChatState>> {
    const unique = [...new Set(addresses)];
    const items = unique.length ? await this.io.batchGet(this.t.chats, unique.map((address) => ({ address }))) : [];
    return new Map(items.map((i) => [i.address as string, toChatState(i)]));
  }

  /** The chat's state; and, when the address is a linked identity's key, the identity too. */
  async markUnreachable(address: string, reason: string, at: number): Promise<void> {
    await Promise.all([
      this.io.update({
        TableName: this.t.chats,
        Key: { address },
        UpdateExpression: 'SET #since = :at, #reason = :reason',
        ExpressionAttributeNames: { '#since': 'unreachableSince', '#reason': 'unreachableReason' },
        ExpressionAttributeValues: { ':at': at, ':reason': reason },
      }),
      // Conditional: an address that is no identity key must not create an identity item.
      this.io.update({
        TableName: this.t.identities,
        Key: { key: address },
        UpdateExpression: 'SET #since = :at',
        ConditionExpression: 'attribute_exists(#k)',
        ExpressionAttributeNames: { '#since': 'unreachableSince', '#k': 'key' },
        ExpressionAttributeValues: { ':at': at },
      }),
    ]);
  }

  async clearUnreachable(address: string): Promise<void> {
    await Promise.all([
      this.changeChat(address, 'REMOVE #since, #reason', { '#since': 'unreachableSince', '#reason': 'unreachableReason' }),
      this.io.update({
        TableName: this.t.identities,
        Key: { key: address },
        UpdateExpression: 'REMOVE #since',
        ConditionExpression: 'attribute_exists(#k)',
        ExpressionAttributeNames: { '#since': 'unreachableSince', '#k': 'key' },
      }),
    ]);
  }

  async setBroadcastsPaused(chatAddress: string, paused: boolean): Promise<void> {
    if (paused) {
      await this.io.update({
        TableName: this.t.chats,
        Key: { address: chatAddress },
        UpdateExpression: 'SET #p = :true',
        ExpressionAttributeNames: { '#p': 'broadcastsPaused' },
        ExpressionAttributeValues: { ':true': true },
      });
    } else {
      await this.changeChat(chatAddress, 'REMOVE #p', { '#p': 'broadcastsPaused' });
    }
  }

  /** Clears fields of an existing chat item, and deletes the item once nothing is left to know. */
  private async changeChat(address: string, update: string, names: Record<string, string>): Promise<void> {
    const after = await this.io.update({
      TableName: this.t.chats,
      Key: { address },
      UpdateExpression: update,
      ConditionExpression: 'attribute_exists(#a)',
      ExpressionAttributeNames: { ...names, '#a': 'address' },
      ReturnValues: 'ALL_NEW',
    });
    if (after && Object.keys(after).length === 1) {
      await this.io.delete({
        TableName: this.t.chats,
        Key: { address },
        ConditionExpression: 'attribute_not_exists(#since) AND attribute_not_exists(#p)',
        ExpressionAttributeNames: { '#since': 'unreachableSince', '#p': 'broadcastsPaused' },
      });
    }
  }
}
