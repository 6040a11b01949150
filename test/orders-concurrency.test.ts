/**
 * Orders under concurrency (issue 11), on both stores: two bot instances on one store (SQLite: two
 * connections to one file; DynamoDB Local: two clients on one set of tables).
 *
 * A gate (test/support/orders.ts) holds each racing store call back until its rivals have
 * arrived, so the race is run every time, not only when the scheduler happens to allow it:
 * - two engines matching the same tick fill each order once (one transaction, one message per
 *   destination, the order fired once), also with several users' orders crossing together;
 * - placing an order and a market trade racing for the same cash never both succeed;
 * - a fill racing a market trade always fills (from its own hold), and the trade gets only what
 *   is free.
 * After each race every account's book holds together (bookViolations: cash and holdings equal the
 * ledger, holds equal what the open orders hold, nothing negative).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CORE_CONFIG } from '../core/app';
import { AlertEngine, type TickReport } from '../core/alerts/engine';
import type { Store } from '../core/ports';
import { dec } from '../core/money';
import { deleteTables, ensureTables } from '../infra/dynamodb/admin';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { STORE_TABLES } from '../infra/dynamodb/tables';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { LOCAL_CLIENT_CONFIG } from './support/dynamodb-local';
import { makeTestBot, type TestBot } from './support/harness';
import { allTransactions, bookViolations, byFilledOrder, byUser, freeCashOf, Gate, gated, ordersOf, secondInstance } from './support/orders';

const START = DEFAULT_CORE_CONFIG.startBalance;
// Several orders fill at once here; the per-chat cap on pushed messages is not under test.
const CONFIG = { alertsPerMinute: 100 };

interface Instances {
  first: TestBot;
  second: ReturnType<typeof secondInstance>;
  /** An engine per instance, each with its index built. */
  engines: [AlertEngine, AlertEngine];
  close(): Promise<void>;
}

/** Opens two stores on one database, both behind `gate`. */
type OpenStores = () => Promise<{ stores: [Store, Store]; cleanup?: () => Promise<void> | void }>;

async function twoInstances(openStores: OpenStores, gate: Gate): Promise<Instances> {
  const { stores, cleanup } = await openStores();
  const first = await makeTestBot({ store: gated(stores[0], gate), config: CONFIG });
  const second = secondInstance(first, gated(stores[1], gate), CONFIG);
  first.feed.set('bitcoin', '50000').set('ethereum', '3000');
  const engines: [AlertEngine, AlertEngine] = [new AlertEngine(first.core.services), new AlertEngine(second.core.services)];
  return {
    first, second, engines,
    close: async () => {
      await stores[1].close();
      await first.close();
      await cleanup?.();
    },
  };
}

/** Places an order through `say` and returns its id. */
async function place(say: (user: string, text: string) => Promise<string>, user: string, text: string): Promise<string> {
  const reply = await say(user, text);
  const id = /Order ([0-9a-f]{8}) placed/.exec(reply)?.[1];
  if (!id) throw new Error(`${text} placed no order: ${reply}`);
  return id;
}

/** A new price tick: quotes received a little later. */
function prices(bot: TestBot, set: Record<string, string>): void {
  bot.clock.advance(30_000);
  for (const [coin, price] of Object.entries(set)) bot.feed.set(coin, price);
}

const total = (reports: TickReport[], key: keyof TickReport) => reports.reduce((sum, r) => sum + r[key], 0);

async function expectBooksHold(store: Store, users: string[]): Promise<void> {
  for (const user of users) expect(await bookViolations(store, user, START), user).toEqual([]);
}

function scenarios(openStores: OpenStores) {
  it('two engines trying to fill the same order at the same moment fill it once', async () => {
    const gate = new Gate(byFilledOrder);
    const { first, engines, close } = await twoInstances(openStores, gate);
    try {
      await first.signup('ann');
      await first.say('ann', '/settings email on');
      const id = await place(first.say, 'ann', '/buy btc 0.1 at 45000');
      await Promise.all(engines.map((e) => e.start()));

      gate.expect(`fill:${id}`, 2);
      prices(first, { bitcoin: '44000' });
      const reports = await Promise.all(engines.map((e) => e.tick()));
      expect(gate.unmet).toEqual([]);
      // Both tried; one filled, the other found it filled.
      expect(reports.map((r) => r.ordersFilled).sort()).toEqual([0, 1]);
      expect(total(reports, 'lost')).toBe(1);

      const transactions = await allTransactions(first.store, 'ann');
      expect(transactions).toHaveLength(1);
      expect(transactions[0]).toMatchObject({ type: 'buy', coinId: 'bitcoin', quantity: '0.1', price: '44000', orderId: id });
      const [order] = await ordersOf(first.store, 'ann');
      expect(order).toMatchObject({ state: 'fired', fireCount: 1, order: { transactionId: transactions[0]!.transactionId } });
      const portfolio = (await first.store.getPortfolio('ann'))!;
      expect(portfolio.cash).toBe('5600');
      expect(dec(portfolio.reservedCash ?? '0').toFixed()).toBe('0');

      await first.deliverOutbox();
      expect(first.chats.texts('user:console:ann').filter((t) => t.includes(`Order ${id} filled`))).toHaveLength(1);
      expect(first.notifier.inbox('ann').filter((m) => m.subject.includes(`order ${id} filled`))).toHaveLength(1);

      // Lower still, on both: nothing fills again.
      prices(first, { bitcoin: '40000' });
      expect(total(await Promise.all(engines.map((e) => e.tick())), 'ordersFilled')).toBe(0);
      await first.deliverOutbox();
      expect(first.chats.texts('user:console:ann')).toHaveLength(1);
      expect(await allTransactions(first.store, 'ann')).toHaveLength(1);
      await expectBooksHold(first.store, ['ann']);
    } finally {
      await close();
    }
  });

  it("several users' orders crossing on one tick, matched by both engines at once, each fill once", async () => {
    const gate = new Gate(byFilledOrder);
    const { first, second, engines, close } = await twoInstances(openStores, gate);
    const users = ['ann', 'bob', 'carol'];
    try {
      const crossing: string[] = [];
      const waiting: string[] = [];
      for (const user of users) {
        await first.signup(user);
        // Orders go in through both instances: each engine learns of the other's by the feed.
        const say = user === 'bob' ? second.say : first.say;
        expect(await say(user, '/buy eth 1')).toContain('Bought 1 ETH');
        crossing.push(await place(say, user, '/buy btc 0.01 at 45000'));
        crossing.push(await place(say, user, '/sell eth 0.5 stop 2500'));
        crossing.push(await place(say, user, '/buy eth $500 at 2600'));
        waiting.push(await place(say, user, '/buy btc 0.01 at 40000'));
      }
      await Promise.all(engines.map((e) => e.start()));

      for (const id of crossing) gate.expect(`fill:${id}`, 2);
      prices(first, { bitcoin: '44000', ethereum: '2400' });
      const reports = await Promise.all(engines.map((e) => e.tick()));
      expect(gate.unmet).toEqual([]);
      expect(total(reports, 'ordersFilled')).toBe(crossing.length);
      expect(total(reports, 'lost')).toBe(crossing.length);

      await first.deliverOutbox();
      for (const user of users) {
        const orders = await ordersOf(first.store, user);
        expect(orders.filter((o) => o.state === 'fired')).toHaveLength(3);
        expect(orders.filter((o) => o.state === 'armed').map((o) => o.alertId)).toEqual([waiting[users.indexOf(user)]]);
        const fills = (await allTransactions(first.store, user)).filter((t) => t.orderId);
        expect(fills.map((t) => t.orderId).sort()).toEqual(orders.filter((o) => o.state === 'fired').map((o) => o.alertId).sort());
        expect((await first.store.getPortfolio(user))!.reservedCash).toBe('400'); // the 40,000 order's hold only
        const filled = first.chats.texts(`user:console:${user}`).filter((t) => /Order [0-9a-f]{8} filled/.test(t));
        expect(filled).toHaveLength(3);
        expect(new Set(filled).size).toBe(3);
      }
      await expectBooksHold(first.store, users);
    } finally {
      await close();
    }
  });

  it('an order and a market trade racing for the same cash never both succeed', async () => {
    const gate = new Gate(byUser);
    const { first, second, close } = await twoInstances(openStores, gate);
    const users = ['ann', 'bob'];
    try {
      for (const user of users) await first.signup(user);
      for (const user of users) gate.expect(user, 2);
      // $8,000 each, of $10,000: either alone fits, both do not. Ann's order goes in through the
      // first instance and her trade through the second; Bob's the other way round.
      const [annOrder, annTrade, bobOrder, bobTrade] = await Promise.all([
        first.say('ann', '/buy btc $8000 at 45000'),
        second.say('ann', '/buy btc $8000'),
        second.say('bob', '/buy btc $8000 at 45000'),
        first.say('bob', '/buy btc $8000'),
      ]);
      expect(gate.unmet).toEqual([]);
      for (const [user, order, trade] of [['ann', annOrder, annTrade], ['bob', bobOrder, bobTrade]] as const) {
        const placed = /Order [0-9a-f]{8} placed/.test(order);
        const bought = /Bought/.test(trade);
        expect(placed, `${user}: exactly one of "${order}" and "${trade}"`).not.toBe(bought);
        // The loser is told why.
        expect(placed ? trade : order).toMatch(/Not enough (free )?cash/);
        const portfolio = (await first.store.getPortfolio(user))!;
        expect(dec(portfolio.cash).gte(0)).toBe(true);
        expect((await freeCashOf(first.store, user)).gte(0)).toBe(true);
        if (placed) expect(portfolio).toMatchObject({ cash: '10000', reservedCash: '8000' });
        else expect(dec(portfolio.cash).toFixed()).toBe('2000');
        expect((await ordersOf(first.store, user)).filter((o) => o.state === 'armed')).toHaveLength(placed ? 1 : 0);
      }
      await expectBooksHold(first.store, users);
    } finally {
      await close();
    }
  });

  it('an order fill racing a market trade always fills, and the trade gets only free cash or coin', async () => {
    const gate = new Gate(byUser);
    const { first, second, engines, close } = await twoInstances(openStores, gate);
    const users = ['ann', 'bob', 'carol', 'dave'];
    try {
      for (const user of users) await first.signup(user);
      const ids: Record<string, string> = {};
      for (const user of ['ann', 'bob']) ids[user] = await place(first.say, user, '/buy btc $8000 at 45000'); // $2,000 stays free
      for (const user of ['carol', 'dave']) {
        await first.say(user, '/buy eth 1');
        ids[user] = await place(first.say, user, '/sell eth 0.6 stop 2500'); // 0.4 ETH stays free
      }
      await Promise.all(engines.map((e) => e.start()));

      // Per user: two engines trying the fill, and one market trade.
      for (const user of users) gate.expect(user, 3);
      prices(first, { bitcoin: '44000', ethereum: '2400' });
      const [reports, ann, bob, carol, dave] = await Promise.all([
        Promise.all(engines.map((e) => e.tick())),
        second.say('ann', '/buy eth $8000'), // more than is free: refused, whether the fill came first or not
        first.say('bob', '/buy eth $1500'), // within what is free
        second.say('carol', '/sell eth 0.6'),
        first.say('dave', '/sell eth 0.4'),
      ]);
      expect(gate.unmet).toEqual([]);
      expect(total(reports, 'ordersFilled')).toBe(4);
      expect(ann).toMatch(/Not enough cash: you have \$2,000\.\d\d free/);
      expect(bob).toContain('Bought');
      expect(carol).toMatch(/You hold only 0\.4 ETH free to sell/);
      expect(dave).toContain('Sold 0.4 ETH');

      for (const user of users) {
        const fills = (await allTransactions(first.store, user)).filter((t) => t.orderId);
        expect(fills.map((t) => t.orderId), user).toEqual([ids[user]]);
        const portfolio = (await first.store.getPortfolio(user))!;
        expect(dec(portfolio.reservedCash ?? '0').toFixed()).toBe('0');
        expect((await freeCashOf(first.store, user)).gte(0)).toBe(true);
      }
      expect((await first.store.getPortfolio('bob'))!.holdings.ethereum).toBeDefined();
      expect((await first.store.getPortfolio('carol'))!.holdings.ethereum).toMatchObject({ quantity: '0.4' });
      expect((await first.store.getPortfolio('dave'))!.holdings.ethereum).toBeUndefined();
      await expectBooksHold(first.store, users);
    } finally {
      await close();
    }
  });
}

describe('orders with two instances on one SQLite file', () => {
  scenarios(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-orders-'));
    const file = join(dir, 'shared.sqlite');
    return { stores: [SqliteStore.open({ file }), SqliteStore.open({ file })], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  });
});

describe('orders with two instances on DynamoDB', () => {
  const endpoint = inject('dynamodbEndpoint');
  const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteTables(admin, prefix, STORE_TABLES);
    admin.destroy();
  });
  scenarios(async () => {
    const prefix = `o-${randomUUID().slice(0, 8)}-`;
    prefixes.push(prefix);
    // TTL stays off: the tests' clock is not today's, and DynamoDB Local would sweep their records.
    await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
    const open = () => DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: prefix });
    return { stores: [open(), open()] };
  });
});
