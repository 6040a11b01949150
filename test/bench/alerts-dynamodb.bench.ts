/**
 * Alerts at scale on the production store, against DynamoDB Local (started and stopped here):
 * 100,000 armed alerts over 250 coins. What an instance reads per tick is the point: with the
 * index in memory and the change feed, a tick in which nothing changed reads nothing but the
 * change query, however many alerts exist. Figures:
 *   - alerts.dynamodb.build_ms            building the index at start (every live alert, paged);
 *   - alerts.dynamodb.idle_read_units     read units of a tick with new prices and nothing changed
 *                                         or crossed (DynamoDB Local reports consumed capacity);
 *   - alerts.dynamodb.idle_requests       requests that tick sent;
 *   - alerts.dynamodb.fire_tick_ms        a tick in which 0.1% (100) fire: claims and messages;
 *   - alerts.dynamodb.fire_requests       requests that tick sent (claims are one transaction each).
 * An emulator on this machine: the figures compare designs and runs, not what AWS would do.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { AlertEngine } from '../../core/alerts/engine';
import type { PriceAlert } from '../../core/domain';
import { dec } from '../../core/money';
import { ensureTables } from '../../infra/dynamodb/admin';
import { createClients } from '../../infra/dynamodb/client';
import { DynamoDbStore } from '../../infra/dynamodb/dynamodb-store';
import { alertItem } from '../../infra/dynamodb/items';
import { STORE_TABLES, tableNames } from '../../infra/dynamodb/tables';
import { LOCAL_CLIENT_CONFIG, startDynamoDbLocal } from '../support/dynamodb-local';
import { makeTestBot } from '../support/harness';
import { basePrice, coinId, seedCoinsAndUsers } from './alert-seed';

const COINS = 250;
const USERS = 1_000;
/** Per coin, above and below each: 100,000 in all. */
const PER_SIDE = 200;
/** Crossed per coin by the firing tick: 250 x 0.4 = 100 = 0.1%, so every 5th coin gets 2. */
const round2 = (n: number) => Math.round(n * 100) / 100;

export async function alertsDynamodb(): Promise<Record<string, number>> {
  const local = await startDynamoDbLocal();
  const prefix = 'bench-alerts-';
  try {
    const connection = { ...LOCAL_CLIENT_CONFIG, endpoint: local.endpoint };
    await ensureTables(new DynamoDBClient(connection), prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
    const clients = createClients(connection);
    const usage = meter(clients.doc);
    const store = new DynamoDbStore(clients, prefix);
    const bot = await makeTestBot({ store });
    await seed(bot, clients.doc, prefix);
    for (let c = 0; c < COINS; c++) bot.feed.set(coinId(c), String(basePrice(c)));

    const engine = new AlertEngine(bot.core.services);
    let t0 = performance.now();
    await engine.start();
    const buildMs = performance.now() - t0;
    await engine.tick();

    // New prices, nothing crossed, nothing changed in the store.
    bot.clock.advance(30_000);
    for (let c = 0; c < COINS; c++) bot.feed.set(coinId(c), dec(basePrice(c)).plus('0.001').toFixed());
    usage.reset();
    const idle = await engine.tick();
    if (idle.fired) throw new Error('the idle tick fired');
    const idleUsage = { ...usage.totals };

    // 0.1% cross: every 5th coin moves past its 2 lowest above-thresholds.
    bot.clock.advance(30_000);
    for (let c = 0; c < COINS; c++) bot.feed.set(coinId(c), dec(basePrice(c)).plus(c % 5 === 0 ? '0.025' : '0.002').toFixed());
    usage.reset();
    t0 = performance.now();
    const firing = await engine.tick();
    const fireMs = performance.now() - t0;
    if (firing.fired !== 100) throw new Error(`fired ${firing.fired}, expected 100`);

    await store.close();
    return {
      'alerts.dynamodb.armed': COINS * PER_SIDE * 2,
      'alerts.dynamodb.build_ms': Math.round(buildMs),
      'alerts.dynamodb.idle_read_units': round2(idleUsage.read),
      'alerts.dynamodb.idle_requests': idleUsage.requests,
      'alerts.dynamodb.fire_tick_ms': round2(fireMs),
      'alerts.dynamodb.fire_requests': usage.totals.requests,
    };
  } finally {
    await local.stop();
  }
}

/** Counts requests and the capacity DynamoDB says each consumed (asked for on every request). */
function meter(client: ReturnType<typeof createClients>['doc']) {
  const totals = { requests: 0, read: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const result = await next(args);
      totals.requests++;
      const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      for (const c of (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{ CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }>) {
        // Reads report their units; writes (transactions) are counted as requests only.
        if (!c.WriteCapacityUnits) totals.read += c.ReadCapacityUnits ?? c.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'benchCapacityMeter' },
  );
  return { totals, reset: () => Object.assign(totals, { requests: 0, read: 0 }) };
}

async function seed(bot: Awaited<ReturnType<typeof makeTestBot>>, doc: ReturnType<typeof createClients>['doc'], prefix: string): Promise<void> {
  await seedCoinsAndUsers(bot, COINS, USERS);
  // Written straight into the table (the per-owner live counts are not the subject here).
  const table = tableNames(prefix).priceAlerts;
  const now = bot.clock.now();
  const items: Record<string, unknown>[] = [];
  let n = 0;
  for (let c = 0; c < COINS; c++) {
    for (let i = 0; i < PER_SIDE; i++) {
      for (const side of ['above', 'below'] as const) {
        n++;
        const step = dec(i + 1).mul('0.01');
        const target = side === 'above' ? dec(basePrice(c)).plus(step) : dec(basePrice(c)).minus(step);
        const alert: PriceAlert = {
          alertId: `a${n.toString(16).padStart(11, '0')}`, username: `u${n % USERS}`, coinId: coinId(c), condition: side,
          targetPrice: target.toFixed(), state: 'armed', createdAt: now, fireCount: 0, version: 1,
          // Set over the last day, as alerts are: few of them near the newest change.
          updatedAt: now - 86_400_000 + n * 500,
        };
        items.push(alertItem(alert));
      }
    }
  }
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < items.length) {
      const batch = items.slice(next, next + 25);
      next += 25;
      let pending: Record<string, unknown[]> | undefined = { [table]: batch.map((Item) => ({ PutRequest: { Item } })) };
      while (pending && Object.keys(pending).length) {
        const result = await doc.send(new BatchWriteCommand({ RequestItems: pending as never }));
        pending = result.UnprocessedItems as Record<string, unknown[]> | undefined;
      }
    }
  }));
}
