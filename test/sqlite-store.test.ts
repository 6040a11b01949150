import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Portfolio } from '../core/domain';
import { Dec, toStored } from '../core/money';
import type { Store, TradePlan } from '../core/ports';
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
    const run = promisify(execFile);
    const startAt = Date.now() + 2_000;
    const child = (tag: string) =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        env: {
          ...process.env,
          STORE_URL: pathToFileURL(join(ROOT, 'infra/sqlite/sqlite-store.ts')).href,
          MONEY_URL: pathToFileURL(join(ROOT, 'core/money.ts')).href,
          DB_FILE: file,
          START_AT: String(startAt),
          TAG: tag,
        },
      });
    const results = await Promise.all([child('p1'), child('p2')]);
    const done = results.map((r) => (JSON.parse(r.stdout.trim()) as { done: number }).done);

    const store = open(file);
    const portfolio = (await store.getPortfolio('alice'))!;
    expect(done[0]! + done[1]!).toBe(1000);
    expect(portfolio.cash).toBe('0');
    expect(portfolio.version).toBe(1000);
    expect(portfolio.holdings.bitcoin?.quantity).toBe('0.1');
    expect((await store.stats()).transactions).toBe(1000);
  }, 60_000);
});
