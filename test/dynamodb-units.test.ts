/** The DynamoDB store's small pure parts: retry classification, backoff, cursors, per-key queue. */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { hashShard, timeKey } from '../infra/dynamodb/items';
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
