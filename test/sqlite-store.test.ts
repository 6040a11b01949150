import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { orderOwner, type Portfolio, type PriceAlert } from '../core/domain';
import { Dec, toStored } from '../core/money';
import type { PortfolioPlan, Store, TradePlan } from '../core/ports';
import { freeCash } from '../core/trading';
import { MIGRATIONS } from '../infra/sqlite/migrations';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { storeContract } from './store-contract';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T = 1_700_000_000_000;

/** Each database lives in its own temp folder (which also exercises creating the parent folder). */
function tempDbFile(): string {
  return join(tmpdir(), `cryptopulse-test-${randomUUID()}`, 'store.db');
}

function removeDb(file: string): void {
  rmSync(join(file, '..'), { recursive: true, force: true });
}

const files = new Map<Store, string>();

storeContract(
  'sqlite',
  async () => {
    const file = tempDbFile();
    const store = SqliteStore.open({ file });
    files.set(store, file);
    return store;
  },
  async (store) => {
    await store.close();
    const file = files.get(store);
    files.delete(store);
    if (file) removeDb(file);
  },
  // A second connection on the same file, as another process would open.
  async (store) => SqliteStore.open({ file: files.get(store)! }),
);

/** Buys 0.0001 BTC for a fixed `cost`, or rejects when the cash is short. */
function fixedBuy(id: string, cost: string) {
  return (current: Portfolio): TradePlan => {
    const cash = new Dec(current.cash);
    if (cash.lt(cost)) return { ok: false, reason: 'Not enough cash.' };
    const held = current.holdings.bitcoin;
    return {
      ok: true,
      portfolio: {
        ...current,
        cash: toStored(cash.minus(cost)),
        holdings: {
          bitcoin: {
            coinId: 'bitcoin',
            quantity: toStored(new Dec(held?.quantity ?? '0').plus('0.0001')),
            costBasis: toStored(new Dec(held?.costBasis ?? '0').plus(cost)),
          },
        },
        version: current.version + 1,
      },
      transaction: {
        transactionId: id,
        username: current.username,
        type: 'buy',
        coinId: 'bitcoin',
        quantity: '0.0001',
        price: toStored(new Dec(cost).times(10_000)),
        amount: cost,
        fee: '0',
        timestamp: T,
        platform: 'console',
      },
    };
  };
}

/** A buy order's record for alice, holding `reserved` of her cash (written by hand, not core/orders). */
function buyOrder(orderId: string, reserved: string): PriceAlert {
  return {
    alertId: orderId, username: orderOwner('alice'), coinId: 'bitcoin', condition: 'below', targetPrice: '50000',
    state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T,
    order: { side: 'buy', type: 'limit', amount: { kind: 'cash', value: reserved }, reserved, platform: 'console' },
  };
}

/** Holds `amount` of free cash back for an order. */
const reserve = (amount: string) => (current: Portfolio): PortfolioPlan =>
  freeCash(current).lt(amount)
    ? { ok: false, reason: 'Not enough free cash.' }
    : { ok: true, portfolio: { ...current, reservedCash: toStored(new Dec(current.reservedCash ?? '0').plus(amount)), version: current.version + 1 } };

/** Fills an order that held `cost`: spends exactly that on 0.0001 BTC. */
const fillOrder = (orderId: string, cost: string) => (current: Portfolio): PortfolioPlan => {
  const planned = fixedBuy(`fill-${orderId}`, cost)(current);
  if (!planned.ok) return planned;
  return {
    ...planned,
    portfolio: { ...planned.portfolio, reservedCash: toStored(new Dec(current.reservedCash ?? '0').minus(cost)) },
    transaction: { ...planned.transaction, orderId, marketPrice: '100500.25' },
  };
};

const account = (username: string) => ({
  username,
  email: `${username}@example.com`,
  passwordHash: null,
  role: 'user' as const,
  createdAt: T,
  currency: 'usd' as const,
  emailNotifications: false,
});

describe('SqliteStore on disk', () => {
  const opened: SqliteStore[] = [];
  const dbFiles: string[] = [];
  const open = (file: string) => {
    const store = SqliteStore.open({ file });
    opened.push(store);
    return store;
  };
  const newFile = () => {
    const file = tempDbFile();
    dbFiles.push(file);
    return file;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    for (const file of dbFiles.splice(0)) removeDb(file);
  });

  it('keeps its data across close and reopen', async () => {
    const file = newFile();
    const first = open(file);
    await first.createAccount(account('alice'), '1000.00', { key: 'telegram:1', platform: 'telegram', username: 'alice', linkedAt: T });
    const trade = await first.executeTrade('alice', 'k1', fixedBuy('tx-1', '12.34'));
    await first.addCoin({ id: 'pepe', symbol: 'pepe', name: 'Pepe' });
    await first.close();

    const second = open(file);
    expect(await second.getAccount('alice')).toEqual(account('alice'));
    expect((await second.findIdentity('telegram:1'))?.username).toBe('alice');
    expect(trade.status).toBe('done');
    if (trade.status === 'done') expect(await second.getPortfolio('alice')).toEqual(trade.portfolio);
    expect((await second.listTransactions('alice', { limit: 5 })).items).toHaveLength(1);
    expect((await second.listCoins()).map((c) => c.id)).toContain('pepe');
    expect((await second.stats()).buyVolume).toBe('12.34');
    // The idempotency record survived too.
    expect((await second.executeTrade('alice', 'k1', fixedBuy('tx-2', '1'))).status).toBe('duplicate');
  });

  it('applies migrations once, however often the file is opened', async () => {
    const file = newFile();
    await open(file).close();
    await open(file).close();
    const store = open(file);
    expect(await store.listCoins()).toHaveLength(20);

    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('upgrades an older file: each portfolio’s lastTradeAt comes from its latest trade', async () => {
    const file = newFile();
    mkdirSync(dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!.sql);
    MIGRATIONS[0]!.seed?.(old);
    old.pragma('user_version = 1');
    for (const name of ['alice', 'bob']) {
      old.prepare(`INSERT INTO accounts VALUES (?, ?, ?, NULL, 'user', ?, 'usd', 0)`).run(name, `${name}@example.com`, `${name}@example.com`, T);
      old.prepare(`INSERT INTO portfolios VALUES (?, '100', '{}', '0', 0, ?)`).run(name, T);
    }
    const trade = old.prepare(`INSERT INTO transactions (transaction_id, username, type, coin_id, quantity, price, amount, fee, timestamp, platform)
      VALUES (?, 'alice', 'buy', 'bitcoin', '0.0001', '30000', '3', '0', ?, 'console')`);
    trade.run('tx-1', T + 500);
    trade.run('tx-2', T + 200); // committed later, from a clock behind
    old.close();

    const store = open(file);
    expect((await store.getPortfolio('alice'))?.lastTradeAt).toBe(T + 500);
    expect((await store.getPortfolio('bob'))?.lastTradeAt).toBe(0);
    const next = await store.executeTrade('alice', 'k1', fixedBuy('tx-3', '3')); // its plan says T
    expect(next.status === 'done' && next.transaction.timestamp).toBe(T + 501);
  });

  it('upgrades a version-4 file: alerts keep their place, active ones armed and the rest fired once', async () => {
    const file = newFile();
    mkdirSync(dirname(file), { recursive: true });
    const old = new Database(file);
    for (const [i, migration] of MIGRATIONS.slice(0, 4).entries()) {
      old.exec(migration.sql);
      migration.seed?.(old);
      old.pragma(`user_version = ${i + 1}`);
    }
    old.prepare(`INSERT INTO accounts VALUES ('alice', 'alice@example.com', 'alice@example.com', NULL, 'user', ?, 'usd', 1)`).run(T);
    old.prepare(`INSERT INTO portfolios (username, cash, holdings, realized_pnl, version, created_at) VALUES ('alice', '100', '{}', '0', 0, ?)`).run(T);
    old.prepare(`INSERT INTO identities VALUES ('telegram:1', 'telegram', 'alice', ?)`).run(T);
    const insert = old.prepare(`INSERT INTO alerts VALUES (?, 'alice', ?, ?, ?, ?, ?, ?)`);
    insert.run('a-old-fired', 'bitcoin', 'above', '100000.50', 0, T + 1, T + 50);
    insert.run('a-armed', 'ethereum', 'below', '1999.99', 1, T + 2, null);
    insert.run('a-armed-2', 'bitcoin', 'below', '0.00000001', 1, T + 3, null);
    old.close();

    const store = open(file);
    expect(await store.getAccount('alice')).toStrictEqual({ ...account('alice'), emailNotifications: true });
    expect(await store.findIdentity('telegram:1')).toStrictEqual({ key: 'telegram:1', platform: 'telegram', username: 'alice', linkedAt: T });
    expect(await store.listAlerts('alice')).toStrictEqual([
      { alertId: 'a-old-fired', username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '100000.50', state: 'fired',
        createdAt: T + 1, firedAt: T + 50, fireCount: 1, version: 1, updatedAt: T + 50 },
      { alertId: 'a-armed', username: 'alice', coinId: 'ethereum', condition: 'below', targetPrice: '1999.99', state: 'armed',
        createdAt: T + 2, fireCount: 0, version: 1, updatedAt: T + 2 },
      { alertId: 'a-armed-2', username: 'alice', coinId: 'bitcoin', condition: 'below', targetPrice: '0.00000001', state: 'armed',
        createdAt: T + 3, fireCount: 0, version: 1, updatedAt: T + 3 },
    ]);
    expect((await store.stats()).activeAlerts).toBe(2);
    expect((await store.listLiveAlerts({ limit: 10 })).items.map((a) => a.alertId).sort()).toEqual(['a-armed', 'a-armed-2']);
    // The change feed starts after the copied rows, and the next change comes after them.
    const cursor = await store.alertChangeCursor();
    expect((await store.listAlertChanges('0')).alerts.map((a) => a.alertId)).toEqual(['a-old-fired', 'a-armed', 'a-armed-2']);
    expect(await store.fireAlerts([{ username: 'alice', alertId: 'a-armed', version: 1, state: 'fired', at: T + 60, messages: [] }])).toEqual(new Set(['a-armed']));
    expect((await store.listAlertChanges(cursor)).alerts.map((a) => [a.alertId, a.state])).toEqual([['a-armed', 'fired']]);
    // A group's broadcast rule needs no account (the old table had a foreign key on the owner).
    expect(await store.createAlert({ alertId: 'g1', username: '#chat:telegram:-100123', coinId: 'bitcoin', condition: 'above',
      targetPrice: '1', state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T }, 5)).toBe('created');
  });

  it('stamps a removal with its clock, so pruning keeps it until then', async () => {
    let now = T + 5_000;
    const store = SqliteStore.open({ file: ':memory:', now: () => now });
    opened.push(store);
    await store.createAlert({ alertId: 'a1', username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '1',
      state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T }, 5);
    now = T + 9_000;
    expect(await store.deleteAlert('alice', 'a1')).toBe(true);
    expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'removed', updatedAt: T + 9_000, version: 2 });
    expect(await store.pruneAlerts(T + 9_000)).toBe(0);
    expect(await store.pruneAlerts(T + 9_001)).toBe(1);
  });

  it('claims a batch of firings in one transaction: a write that fails undoes the whole batch', async () => {
    const store = open(':memory:');
    const base = { username: 'alice', coinId: 'bitcoin', condition: 'above' as const, targetPrice: '1', state: 'armed' as const,
      createdAt: T, fireCount: 0, version: 1, updatedAt: T };
    await store.createAlert({ ...base, alertId: 'a1' }, 5);
    await store.createAlert({ ...base, alertId: 'a2' }, 5);
    const message = (id: string, status: string) => ({ id, destination: 'user:telegram:1', username: 'alice', kind: 'alert' as const,
      message: { tone: 'info' as const, text: id }, createdAt: T, dueAt: T, attempts: 0, status: status as 'pending' });
    const cursor = await store.alertChangeCursor();
    await expect(store.fireAlerts([
      { username: 'alice', alertId: 'a1', version: 1, state: 'fired', at: T + 1, messages: [message('m1', 'pending')] },
      { username: 'alice', alertId: 'a2', version: 1, state: 'fired', at: T + 1, messages: [message('m2', 'not-a-status')] },
    ])).rejects.toThrow();
    expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'armed', version: 1 });
    expect(await store.getOutboxMessage('m1')).toBeNull();
    expect(await store.alertChangeCursor()).toBe(cursor);
  });

  it('prunes every expired link code, button, claim and attempt window, and frees an expired claim at once', async () => {
    const store = open(':memory:');
    await store.createAccount(account('alice'), '1');
    await store.saveLinkCode('c1', 'alice', T + 10);
    await store.saveButtons('b1', { buttons: [] }, T + 10);
    await store.claimOnce('k1', T + 10);
    await store.recordAttempt('r1', T, 10);
    expect(await store.claimOnce('k1', T + 1000)).toBe(false); // not yet swept
    expect(await store.pruneExpired(T + 10)).toBe(4);
    expect(await store.pruneExpired(T + 10)).toBe(0);
    expect(await store.claimOnce('k1', T + 1000)).toBe(true);
  });

  it('delivers a message leased by a process that died, after restart, once', async () => {
    const file = newFile();
    const first = open(file);
    await first.enqueueMessages([{ id: 'alert:a1:1:user:telegram:1', destination: 'user:telegram:1', username: 'alice', kind: 'alert',
      message: { tone: 'info', text: 'BTC is above $100,000.00' }, createdAt: T, dueAt: T, attempts: 0, status: 'pending' }]);
    expect(await first.leaseOutbox(T, 10, 30_000)).toHaveLength(1);
    await first.close(); // died before delivering

    const second = open(file);
    expect(await second.leaseOutbox(T + 1_000, 10, 30_000)).toEqual([]);
    const [again] = await second.leaseOutbox(T + 30_000, 10, 30_000);
    expect(again?.id).toBe('alert:a1:1:user:telegram:1');
    await second.settleOutbox(again!.id, { status: 'delivered', at: T + 30_001 });
    expect(await second.leaseOutbox(T + 1_000_000, 10, 30_000)).toEqual([]);
  });

  it('stores money as TEXT, never REAL', async () => {
    const file = newFile();
    const store = open(file);
    await store.createAccount(account('alice'), '1000.10');
    await store.executeTrade('alice', 'k1', fixedBuy('tx-1', '0.10'));
    const raw = new Database(file, { readonly: true });
    try {
      const types = raw
        .prepare(`SELECT typeof(p.cash) AS cash, typeof(p.realized_pnl) AS pnl, typeof(t.amount) AS amount,
          typeof(t.price) AS price, typeof(t.quantity) AS quantity, typeof(t.fee) AS fee
          FROM portfolios p JOIN transactions t USING (username)`)
        .get();
      expect(types).toEqual({ cash: 'text', pnl: 'text', amount: 'text', price: 'text', quantity: 'text', fee: 'text' });
    } finally {
      raw.close();
    }
  });

  it('works in memory', async () => {
    const store = open(':memory:');
    await store.createAccount(account('alice'), '10');
    expect((await store.executeTrade('alice', 'k1', fixedBuy('tx-1', '10'))).status).toBe('done');
    expect((await store.executeTrade('alice', 'k2', fixedBuy('tx-2', '10'))).status).toBe('rejected');
  });

  it('never overdraws when two instances in one process trade on the same account', async () => {
    const file = newFile();
    const a = open(file);
    const b = open(file);
    await a.createAccount(account('alice'), '100');
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).executeTrade('alice', `k${i}`, fixedBuy(`tx-${i}`, '3'))),
    );
    expect(outcomes.filter((o) => o.status === 'done')).toHaveLength(33);
    expect((await b.getPortfolio('alice'))?.cash).toBe('1');
  });

  it('never overdraws when two processes trade on the same account at once', async () => {
    const file = newFile();
    const setup = open(file);
    await setup.createAccount(account('alice'), '3000');
    await setup.close();

    // Each child opens its own SqliteStore on the file, waits for a common start time so their
    // trades overlap, then tries 1,000 buys of 3: together they can afford exactly 1,000.
    const script = `
      const { SqliteStore } = await import(process.env.STORE_URL);
      const { Dec, toStored } = await import(process.env.MONEY_URL);
      const store = SqliteStore.open({ file: process.env.DB_FILE });
      while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 5));
      let done = 0;
      for (let i = 0; i < 1000; i++) {
        const id = process.env.TAG + '-' + i;
        const outcome = await store.executeTrade('alice', id, (current) => {
          const cash = new Dec(current.cash);
          if (cash.lt(3)) return { ok: false, reason: 'Not enough cash.' };
          const held = current.holdings.bitcoin;
          return {
            ok: true,
            portfolio: { ...current, cash: toStored(cash.minus(3)), version: current.version + 1, holdings: {
              bitcoin: { coinId: 'bitcoin', quantity: toStored(new Dec(held?.quantity ?? 0).plus('0.0001')),
                costBasis: toStored(new Dec(held?.costBasis ?? 0).plus(3)) } } },
            transaction: { transactionId: id, username: 'alice', type: 'buy', coinId: 'bitcoin', quantity: '0.0001',
              price: '30000', amount: '3', fee: '0', timestamp: Date.now(), platform: 'console' },
          };
        });
        if (outcome.status === 'done') done++;
      }
      await store.close();
      console.log(JSON.stringify({ done }));
    `;
    const results = await twoProcesses<{ done: number }>(script, { MONEY_URL: pathToFileURL(join(ROOT, 'core/money.ts')).href, DB_FILE: file });
    const done = results.map((r) => r.done);

    const store = open(file);
    const portfolio = (await store.getPortfolio('alice'))!;
    expect(done[0]! + done[1]!).toBe(1000);
    expect(portfolio.cash).toBe('0');
    expect(portfolio.version).toBe(1000);
    expect(portfolio.holdings.bitcoin?.quantity).toBe('0.1');
    expect((await store.stats()).transactions).toBe(1000);
  }, 60_000);

  it('claims each alert and leases each message once when two processes fire and deliver at once', async () => {
    const file = newFile();
    const setup = open(file);
    const ids = Array.from({ length: 400 }, (_, i) => `a${i}`);
    for (const id of ids) {
      await setup.createAlert({ alertId: id, username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '1',
        state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T }, 1000);
    }
    await setup.close();

    // Each child claims every alert (in its own order, in batches of 25), then leases messages
    // seven at a time until none are left, and reports what it got.
    const script = `
      const { SqliteStore } = await import(process.env.STORE_URL);
      const store = SqliteStore.open({ file: process.env.DB_FILE });
      const ids = JSON.parse(process.env.IDS);
      if (process.env.TAG === 'p2') ids.reverse();
      while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 5));
      const claimed = [];
      for (let i = 0; i < ids.length; i += 25) {
        const firings = ids.slice(i, i + 25).map((id) => ({ username: 'alice', alertId: id, version: 1, state: 'fired', at: 1,
          messages: [{ id: 'alert:' + id + ':1', destination: 'user:telegram:1', username: 'alice', kind: 'alert',
            message: { tone: 'info', text: process.env.TAG }, createdAt: 1, dueAt: 1, attempts: 0, status: 'pending' }] }));
        claimed.push(...(await store.fireAlerts(firings)));
      }
      const leased = [];
      for (;;) {
        const got = await store.leaseOutbox(10, 7, 60000);
        if (!got.length) break;
        leased.push(...got.map((m) => m.id));
      }
      await store.close();
      console.log(JSON.stringify({ claimed, leased }));
    `;
    const [p1, p2] = await twoProcesses<{ claimed: string[]; leased: string[] }>(script, { DB_FILE: file, IDS: JSON.stringify(ids) });

    const claimed = [...p1!.claimed, ...p2!.claimed];
    expect(claimed.length).toBe(ids.length);
    expect(new Set(claimed)).toEqual(new Set(ids));
    const leased = [...p1!.leased, ...p2!.leased];
    expect(leased.length).toBe(ids.length);
    expect(new Set(leased)).toEqual(new Set(ids.map((id) => `alert:${id}:1`)));

    const store = open(file);
    for (const id of ids.filter((_, i) => i % 37 === 0)) {
      expect((await store.getOutboxMessage(`alert:${id}:1`))?.message?.text).toBe(p1!.claimed.includes(id) ? 'p1' : 'p2');
      expect(await store.getAlert('alice', id)).toMatchObject({ state: 'fired', fireCount: 1, version: 2 });
    }
  }, 60_000);

  it('upgrades a version-5 file: nothing is held for orders, and old trades and alerts read back as they were', async () => {
    const file = newFile();
    mkdirSync(dirname(file), { recursive: true });
    const old = new Database(file);
    for (const [i, migration] of MIGRATIONS.slice(0, 5).entries()) {
      old.exec(migration.sql);
      migration.seed?.(old);
      old.pragma(`user_version = ${i + 1}`);
    }
    old.prepare(`INSERT INTO accounts (username, email, email_norm, role, created_at, currency, email_notifications)
      VALUES ('alice', 'alice@example.com', 'alice@example.com', 'user', ?, 'usd', 0)`).run(T);
    old.prepare(`INSERT INTO portfolios (username, cash, holdings, realized_pnl, version, created_at, last_trade_at)
      VALUES ('alice', '97', '{"bitcoin":{"coinId":"bitcoin","quantity":"0.0001","costBasis":"3"}}', '0', 1, ?, ?)`).run(T, T);
    old.prepare(`INSERT INTO transactions (transaction_id, username, type, coin_id, quantity, price, amount, fee, timestamp, platform)
      VALUES ('tx-old', 'alice', 'buy', 'bitcoin', '0.0001', '30000', '3', '0', ?, 'console')`).run(T);
    old.prepare(`INSERT INTO idempotency (username, key, transaction_id) VALUES ('alice', 'k-old', 'tx-old')`).run();
    old.prepare(`INSERT INTO alerts (alert_id, username, coin_id, condition, target_price, state, created_at, fire_count, version, updated_at, change_seq)
      VALUES ('a1', 'alice', 'bitcoin', 'above', '100000', 'armed', ?, 0, 1, ?, 1)`).run(T, T);
    old.prepare(`UPDATE sequences SET value = 1 WHERE name = 'alert_changes'`).run();
    old.close();

    const store = open(file);
    expect(await store.getPortfolio('alice')).toStrictEqual({
      username: 'alice', cash: '97', reservedCash: '0', holdings: { bitcoin: { coinId: 'bitcoin', quantity: '0.0001', costBasis: '3' } },
      realizedPnl: '0', version: 1, createdAt: T, lastTradeAt: T,
    });
    const oldTrade = { transactionId: 'tx-old', username: 'alice', type: 'buy', coinId: 'bitcoin', quantity: '0.0001', price: '30000', amount: '3', fee: '0', timestamp: T, platform: 'console' };
    expect((await store.listTransactions('alice', { limit: 10 })).items).toStrictEqual([oldTrade]);
    expect(await store.executeTrade('alice', 'k-old', fixedBuy('tx-again', '3'))).toStrictEqual({ status: 'duplicate', transaction: oldTrade });
    expect((await store.listLiveAlerts({ limit: 10 })).items).toStrictEqual([
      { alertId: 'a1', username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '100000', state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T },
    ]);

    // Orders work on the upgraded file, and their change comes after the old rows in the feed.
    const cursor = await store.alertChangeCursor();
    expect(await store.changeOrder('alice', { order: buyOrder('o1', '50'), limit: 5, plan: reserve('50') })).toMatchObject({ status: 'done', portfolio: { reservedCash: '50' } });
    expect((await store.listAlertChanges(cursor)).alerts.map((a) => [a.alertId, a.order?.reserved])).toEqual([['o1', '50']]);
    expect((await store.stats()).activeAlerts).toBe(1);
  });

  it('stores held cash and fill prices as TEXT, and an alert’s order terms only for an order', async () => {
    const file = newFile();
    const store = open(file);
    await store.createAccount(account('alice'), '100.10');
    await store.createAlert({ alertId: 'a1', username: 'alice', coinId: 'bitcoin', condition: 'above', targetPrice: '1',
      state: 'armed', createdAt: T, fireCount: 0, version: 1, updatedAt: T }, 5);
    await store.changeOrder('alice', { order: buyOrder('o1', '10.10'), limit: 5, plan: reserve('10.10') });
    await store.changeOrder('alice', { order: { ...buyOrder('o1', '10.10'), state: 'fired', version: 2, firedAt: T + 1, fireCount: 1, updatedAt: T + 1 },
      expectedVersion: 1, plan: fillOrder('o1', '10.10') });
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.prepare(`SELECT typeof(reserved_cash) AS reserved, reserved_cash AS value FROM portfolios`).get()).toEqual({ reserved: 'text', value: '0' });
      expect(raw.prepare(`SELECT order_id, typeof(market_price) AS market FROM transactions`).get()).toEqual({ order_id: 'o1', market: 'text' });
      expect(raw.prepare(`SELECT alert_id, order_terms IS NULL AS none FROM alerts ORDER BY seq`).all()).toEqual([
        { alert_id: 'a1', none: 1 }, { alert_id: 'o1', none: 0 },
      ]);
    } finally {
      raw.close();
    }
  });

  it('fills each order once, and never spends held cash, when two processes fill orders and trade at once', async () => {
    const file = newFile();
    const setup = open(file);
    await setup.createAccount(account('alice'), '1500');
    const ids = Array.from({ length: 100 }, (_, i) => `o${i}`);
    for (const id of ids) {
      expect(await setup.changeOrder('alice', { order: buyOrder(id, '10'), limit: 1000, plan: reserve('10') })).toMatchObject({ status: 'done' });
    }
    await setup.close();

    // Each child fills every order (in its own order) and after each tries a market buy of 3 from
    // free cash. Fills free and spend the same 10, so exactly 500 / 3 = 166 market buys fit.
    const script = `
      const { SqliteStore } = await import(process.env.STORE_URL);
      const { Dec, toStored } = await import(process.env.MONEY_URL);
      const store = SqliteStore.open({ file: process.env.DB_FILE });
      const ids = JSON.parse(process.env.IDS);
      if (process.env.TAG === 'p2') ids.reverse();
      while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 5));
      const buy = (current, id, cost, orderId) => {
        const held = current.holdings.bitcoin;
        return {
          ok: true,
          portfolio: { ...current, cash: toStored(new Dec(current.cash).minus(cost)), version: current.version + 1,
            reservedCash: orderId ? toStored(new Dec(current.reservedCash).minus(cost)) : current.reservedCash,
            holdings: { bitcoin: { coinId: 'bitcoin', quantity: toStored(new Dec(held?.quantity ?? 0).plus('0.0001')),
              costBasis: toStored(new Dec(held?.costBasis ?? 0).plus(cost)) } } },
          transaction: { transactionId: id, username: 'alice', type: 'buy', coinId: 'bitcoin', quantity: '0.0001',
            price: toStored(new Dec(cost).times(10000)), amount: cost, fee: '0', timestamp: 1, platform: 'console',
            ...(orderId && { orderId, marketPrice: '99999' }) },
        };
      };
      const filled = [];
      let bought = 0;
      for (const orderId of ids) {
        const order = await store.getAlert('#orders:alice', orderId);
        const outcome = await store.changeOrder('alice', {
          order: { ...order, state: 'fired', version: order.version + 1, firedAt: 2, fireCount: 1, updatedAt: 2 },
          expectedVersion: order.version,
          plan: (current) => buy(current, process.env.TAG + '-fill-' + orderId, '10', orderId),
        });
        if (outcome.status === 'done') filled.push(orderId);
        const trade = await store.executeTrade('alice', process.env.TAG + '-k-' + orderId, (current) =>
          new Dec(current.cash).minus(current.reservedCash).lt(3) ? { ok: false, reason: 'Not enough free cash.' }
            : buy(current, process.env.TAG + '-buy-' + orderId, '3'));
        if (trade.status === 'done') bought++;
      }
      await store.close();
      console.log(JSON.stringify({ filled, bought }));
    `;
    const [p1, p2] = await twoProcesses<{ filled: string[]; bought: number }>(script, {
      MONEY_URL: pathToFileURL(join(ROOT, 'core/money.ts')).href, DB_FILE: file, IDS: JSON.stringify(ids),
    });

    const filled = [...p1!.filled, ...p2!.filled];
    expect(filled.length).toBe(ids.length);
    expect(new Set(filled)).toEqual(new Set(ids));
    expect(p1!.bought + p2!.bought).toBe(166);
    const store = open(file);
    expect(await store.getPortfolio('alice')).toMatchObject({ cash: '2', reservedCash: '0', version: 100 + 100 + 166 });
    const trades = (await store.listTransactions('alice', { limit: 1000 })).items;
    expect(trades.filter((t) => t.orderId).map((t) => t.orderId).sort()).toEqual([...ids].sort());
    for (const id of ids.filter((_, i) => i % 17 === 0)) {
      expect(await store.getAlert('#orders:alice', id)).toMatchObject({ state: 'fired', version: 2 });
      expect(await store.executeTrade('alice', `order:${id}`, fixedBuy('never', '1'))).toMatchObject({ status: 'duplicate', transaction: { orderId: id } });
    }
  }, 60_000);
});

/**
 * Runs `script` in two Node processes at once (tags p1 and p2), each opening the store from
 * STORE_URL and starting its work at START_AT, two seconds from now, so that they overlap; returns
 * what each printed (one JSON value).
 */
async function twoProcesses<T>(script: string, env: Record<string, string>): Promise<T[]> {
  const run = promisify(execFile);
  const startAt = String(Date.now() + 2_000);
  const child = (tag: string) =>
    run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, STORE_URL: pathToFileURL(join(ROOT, 'infra/sqlite/sqlite-store.ts')).href, START_AT: startAt, TAG: tag, ...env },
    });
  return (await Promise.all([child('p1'), child('p2')])).map((r) => JSON.parse(r.stdout.trim()) as T);
}
