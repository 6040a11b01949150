/** The DynamoDB store's small pure parts: retry classification, backoff, cursors, per-key queue. */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { orderOwner, type OutboxMessage, type Portfolio, type PriceAlert, type Transaction } from '../core/domain';
import { eachLimited } from '../infra/dynamodb/io';
import {
  alertItem, changeTime, hashShard, outboxItem, portfolioItem, timeKey, toAlert, toOutboxMessage, toPortfolio, toTransaction, transactionFields, transactionItem,
} from '../infra/dynamodb/items';
import { KeyedQueue } from '../infra/dynamodb/keyed-queue';
import { decodeCursor, encodeCursor, nextCursor } from '../infra/dynamodb/paging';
import { cancellation, isTransient, retryTransient } from '../infra/dynamodb/retry';
import { backoffDelay } from '../infra/support/backoff';

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

const named = (name: string) => Object.assign(new Error(name), { name });

describe('retry', () => {
  it('retries conflicts and throttling, never a failed condition', () => {
    expect(isTransient(cancelled('None', 'TransactionConflict'))).toBe(true);
    expect(isTransient(cancelled('ThrottlingError', 'None'))).toBe(true);
    expect(isTransient(cancelled('ConditionalCheckFailed', 'TransactionConflict'))).toBe(false);
    expect(isTransient(cancelled('ValidationError'))).toBe(false);
    expect(isTransient(named('ProvisionedThroughputExceededException'))).toBe(true);
    expect(isTransient(named('TransactionConflictException'))).toBe(true);
    expect(isTransient(named('ValidationException'))).toBe(false);
    expect(isTransient('not even an error')).toBe(false);
  });

  it('reads the cancellation reasons in order', () => {
    expect(cancellation(cancelled('None', 'ConditionalCheckFailed'))?.codes).toEqual(['None', 'ConditionalCheckFailed']);
    expect(cancellation(named('ValidationException'))).toBeUndefined();
  });

  it('backs off with full jitter under a growing, capped ceiling', () => {
    for (let retry = 0; retry < 12; retry++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(retry, { baseMs: 10, maxMs: 500, jitter: 'full' });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(500, 10 * 2 ** retry));
      }
    }
  });

  it('gives up after the last attempt, and at once on a lasting error', async () => {
    let calls = 0;
    await expect(retryTransient(async () => { calls++; throw cancelled('TransactionConflict'); }, 3, { baseMs: 1, maxMs: 1, jitter: 'full' })).rejects.toThrow('cancelled');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryTransient(async () => { calls++; throw named('ValidationException'); }, 3)).rejects.toThrow();
    expect(calls).toBe(1);
    calls = 0;
    expect(await retryTransient(async () => (++calls < 3 ? Promise.reject(cancelled('TransactionConflict')) : 'ok'), 5, { baseMs: 1, maxMs: 1, jitter: 'full' })).toBe('ok');
  });
});

describe('cursors', () => {
  it('round-trips a key and checks its shape and pinned values', () => {
    const cursor = encodeCursor({ username: 'alice', sk: '0001700000000000#tx-1' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const shape = { username: 'string', sk: 'string' } as const;
    expect(decodeCursor(cursor, shape, { username: 'alice' })).toEqual({ username: 'alice', sk: '0001700000000000#tx-1' });
    expect(() => decodeCursor(cursor, shape, { username: 'bob' })).toThrow('Invalid page cursor');
    expect(() => decodeCursor(cursor, { username: 'string' })).toThrow('Invalid page cursor');
    expect(() => decodeCursor(encodeCursor({ username: 'alice', sk: 5 }), shape)).toThrow('Invalid page cursor');
    expect(() => decodeCursor('%%%', shape)).toThrow('Invalid page cursor');
    expect(() => decodeCursor(Buffer.from('[1,2]').toString('base64url'), shape)).toThrow('Invalid page cursor');
  });

  it('has a next cursor only when the extra item came back', () => {
    const items = [{ k: 'a' }, { k: 'b' }, { k: 'c' }];
    expect(nextCursor(items, 3, (i) => i)).toBeUndefined();
    expect(decodeCursor(nextCursor(items, 2, (i) => i)!, { k: 'string' })).toEqual({ k: 'b' });
  });
});

describe('keys', () => {
  it('orders time keys as numbers', () => {
    const keys = [5, 1_700_000_000_000, 999, 10_000_000_000_000].map(timeKey);
    expect([...keys].sort()).toEqual([5, 999, 1_700_000_000_000, 10_000_000_000_000].map(timeKey));
    expect(() => timeKey(-1)).toThrow();
    expect(() => timeKey(1.5)).toThrow();
  });

  it('spreads shards over every value', () => {
    const seen = new Set(Array.from({ length: 400 }, (_, i) => hashShard(`tx-${i}`, 4)));
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('KeyedQueue', () => {
  it('runs one task at a time per key, in order, and keys independently', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    };
    const failing = async () => {
      throw new Error('boom');
    };
    const results = await Promise.allSettled([
      queue.run('a', task('a1', 20)),
      queue.run('a', failing),
      queue.run('a', task('a2', 1)),
      queue.run('b', task('b1', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });
});

describe('alert and outbox items', () => {
  const T = 1_700_000_000_000;
  const move: PriceAlert = {
    alertId: 'm1', username: '#chat:telegram:-100/7', coinId: 'ethereum', condition: 'move', movePercent: '5.25', moveWindowMs: 3_600_000,
    moveDirection: 'down', repeatMs: 1_800_000, expiresAt: T + 7 * 86_400_000, state: 'cooling', createdAt: T, firedAt: T + 5, fireCount: 2, version: 4, updatedAt: T + 5,
  };

  it('round-trips every alert field, and nothing else', () => {
    expect(toAlert(alertItem(move))).toStrictEqual(move);
    const { movePercent: _p, moveWindowMs: _w, moveDirection: _d, repeatMs: _r, expiresAt: _e, firedAt: _f, ...plain } = move;
    const above: PriceAlert = { ...plain, condition: 'above', targetPrice: '100000.50', state: 'armed' };
    expect(toAlert(alertItem(above))).toStrictEqual(above);
  });

  it('keeps a live alert in the live index and a finished one in the done index by time, removed ones with a TTL', () => {
    expect(alertItem(move)).toMatchObject({ stateShard: expect.stringMatching(/^live#[0-3]$/), stateSk: `${move.username}#m1` });
    const fired = alertItem({ ...move, state: 'fired' });
    expect(fired).toMatchObject({ stateShard: expect.stringMatching(/^done#[0-3]$/), stateSk: `${timeKey(T + 5)}#${move.username}#m1` });
    expect(fired.ttl).toBeUndefined();
    expect(alertItem({ ...move, state: 'removed' }).ttl).toBeGreaterThan((T + 5) / 1000);
    // The change key orders by time and says when.
    const item = alertItem(move);
    expect(changeTime(item.changeSk as string)).toBe(T + 5);
    expect((alertItem({ ...move, updatedAt: T + 6 }).changeSk as string) > (item.changeSk as string)).toBe(true);
  });

  it('round-trips outbox messages exactly, queued by due time while pending and by settle time once settled', () => {
    const chat: OutboxMessage = {
      id: 'alert:m1:2:chat:telegram:-100/7', destination: 'chat:telegram:-100/7', kind: 'broadcast',
      message: { tone: 'info', title: 'ETH moved', text: 'down 5.25% in 1h' }, createdAt: T, dueAt: T + 10, attempts: 0, status: 'pending',
    };
    expect(toOutboxMessage(outboxItem(chat))).toStrictEqual(chat);
    expect(outboxItem(chat)).toMatchObject({ queue: expect.stringMatching(/^pending#/), queueAt: T + 10 });
    const email: OutboxMessage = {
      id: 'trade:tx1:email', destination: 'email:alice', username: 'alice', kind: 'trade', email: { subject: 'Bought', body: '0.1 BTC' },
      createdAt: T, dueAt: T, attempts: 3, status: 'failed', error: 'bounced', settledAt: T + 99,
    };
    expect(toOutboxMessage(outboxItem(email))).toStrictEqual(email);
    expect(outboxItem(email)).toMatchObject({ queue: expect.stringMatching(/^settled#/), queueAt: T + 99, ttl: expect.any(Number) });
  });
});

describe('order, portfolio and transaction items', () => {
  const T = 1_700_000_000_000;
  const order: PriceAlert = {
    alertId: 'o1', username: orderOwner('alice'), coinId: 'bitcoin', condition: 'below', targetPrice: '60000', expiresAt: T + 86_400_000,
    state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T,
    order: { side: 'buy', type: 'limit', amount: { kind: 'quantity', value: '0.1' }, reserved: '6006.00', platform: 'discord' },
  };

  it('round-trips an order’s terms as a map, keeping its optional fields only when set', () => {
    expect(toAlert(alertItem(order))).toStrictEqual(order);
    expect(alertItem(order).order).toStrictEqual(order.order); // a map of strings, not a JSON string
    const filled: PriceAlert = { ...order, state: 'fired', firedAt: T + 9, fireCount: 1, version: 2, updatedAt: T + 9, order: { ...order.order!, transactionId: 'tx-9' } };
    expect(toAlert(alertItem(filled))).toStrictEqual(filled);
    const cancelled: PriceAlert = { ...order, state: 'removed', version: 2, order: { ...order.order!, endReason: 'cancelled by you' } };
    expect(toAlert(alertItem(cancelled))).toStrictEqual(cancelled);
    // An alert has no terms, and none appear.
    const { order: _o, ...alert } = order;
    expect('order' in toAlert(alertItem({ ...alert, username: 'alice' }))).toBe(false);
  });

  it('keeps reservations on portfolios, and reads one written before orders existed as holding none', () => {
    const portfolio: Portfolio = {
      username: 'alice', cash: '900.10', reservedCash: '100.00', realizedPnl: '0', version: 3, createdAt: T, lastTradeAt: T + 1,
      holdings: { bitcoin: { coinId: 'bitcoin', quantity: '0.01', costBasis: '500', reserved: '0.004' }, ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '100' } },
    };
    expect(toPortfolio(portfolioItem(portfolio))).toStrictEqual(portfolio);
    // A plan that leaves reservedCash out holds nothing back.
    const { reservedCash: _r, ...plain } = portfolio;
    expect(portfolioItem(plain).reservedCash).toBe('0');
    // An item as the store wrote it before issue 11: no reservedCash, holdings without reserved.
    const old = { username: 'bob', cash: '10', realizedPnl: '0', version: 1, createdAt: T, lastTradeAt: T, holdings: { solana: { coinId: 'solana', quantity: '2', costBasis: '10' } } };
    expect(toPortfolio(old)).toStrictEqual({ ...old, reservedCash: '0' });
  });

  it('keeps a fill’s order id and market price in the ledger row and its idempotency copy, and none on a market trade', () => {
    const market: Transaction = {
      transactionId: 'tx-1', username: 'alice', type: 'sell', coinId: 'bitcoin', quantity: '0.004', price: '39980', amount: '159.92', fee: '0.16', timestamp: T, platform: 'slack',
    };
    const fill: Transaction = { ...market, transactionId: 'tx-2', orderId: 's1', marketPrice: '40000' };
    for (const t of [market, fill]) {
      expect(toTransaction(transactionItem(t))).toStrictEqual(t);
      expect(toTransaction(transactionFields(t))).toStrictEqual(t);
    }
    expect(transactionItem(market)).not.toHaveProperty('orderId');
    expect(transactionItem(market)).not.toHaveProperty('marketPrice');
  });
});

describe('eachLimited', () => {
  it('runs at most `limit` at once, runs every item even after a failure, then reports the first failure', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    const task = async (n: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      if (n === 3) throw new Error('three');
      done.push(n);
    };
    await expect(eachLimited(Array.from({ length: 20 }, (_, i) => i), 4, task)).rejects.toThrow('three');
    expect(peak).toBe(4);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((n) => n !== 3));
  });
});
