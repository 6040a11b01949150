/**
 * The Store contract: what every Store implementation must do, tested only through the interface
 * in core/ports.ts so the same suite runs against SQLite, DynamoDB or anything else.
 *
 * Each test gets a fresh, empty store from `makeStore` (only the default coins tracked), and may
 * open more instances on the same data with `another()`, as a second process would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_COINS } from '../core/coins';
import type { Account, ActivityEntry, LinkedIdentity, Portfolio, PriceAlert, Transaction } from '../core/domain';
import { Dec, toStored } from '../core/money';
import { ConflictError, type ButtonSet, type Page, type PageRequest, type Store, type TradeOutcome, type TradePlan } from '../core/ports';

const T = 1_700_000_000_000;

function account(username: string, overrides: Partial<Account> = {}): Account {
  return {
    username,
    email: `${username}@example.com`,
    passwordHash: null,
    role: 'user',
    createdAt: T,
    currency: 'usd',
    emailNotifications: false,
    ...overrides,
  };
}

function identity(key: string, username: string, linkedAt = T): LinkedIdentity {
  return { key, platform: key.split(':')[0] as LinkedIdentity['platform'], username, linkedAt };
}

function alert(alertId: string, username: string, coinId: string, createdAt: number): PriceAlert {
  return { alertId, username, coinId, condition: 'above', targetPrice: '100000.50', active: true, createdAt };
}

function transaction(fields: Pick<Transaction, 'transactionId' | 'username' | 'type' | 'coinId' | 'quantity' | 'price' | 'timestamp'> & { fee?: string }): Transaction {
  const fee = fields.fee ?? '0';
  const amount = toStored(new Dec(fields.quantity).times(fields.price).toDecimalPlaces(2));
  return { ...fields, amount, fee, platform: 'console' };
}

/** A buy written out by hand: cash down by amount + fee, position and cost basis up. */
function buy(transactionId: string, quantity: string, price: string, timestamp = T, coinId = 'bitcoin') {
  return (current: Portfolio): TradePlan => {
    const tx = transaction({ transactionId, username: current.username, type: 'buy', coinId, quantity, price, timestamp });
    const cost = new Dec(tx.amount).plus(tx.fee);
    const cash = new Dec(current.cash);
    if (cash.lt(cost)) return { ok: false, reason: 'Not enough cash.' };
    const held = current.holdings[coinId];
    return {
      ok: true,
      transaction: tx,
      portfolio: {
        ...current,
        cash: toStored(cash.minus(cost)),
        holdings: {
          ...current.holdings,
          [coinId]: {
            coinId,
            quantity: toStored(new Dec(held?.quantity ?? '0').plus(quantity)),
            costBasis: toStored(new Dec(held?.costBasis ?? '0').plus(cost)),
          },
        },
        version: current.version + 1,
      },
    };
  };
}

/** A sell written out by hand: the sold share of the cost basis is realized against the proceeds. */
function sell(transactionId: string, quantity: string, price: string, timestamp = T, coinId = 'bitcoin') {
  return (current: Portfolio): TradePlan => {
    const held = current.holdings[coinId];
    if (!held || new Dec(held.quantity).lt(quantity)) return { ok: false, reason: 'Not enough coins.' };
    const tx = transaction({ transactionId, username: current.username, type: 'sell', coinId, quantity, price, timestamp });
    const proceeds = new Dec(tx.amount).minus(tx.fee);
    const basisSold = new Dec(held.costBasis).times(quantity).dividedBy(held.quantity).toDecimalPlaces(2);
    return {
      ok: true,
      transaction: tx,
      portfolio: {
        ...current,
        cash: toStored(new Dec(current.cash).plus(proceeds)),
        holdings: {
          ...current.holdings,
          [coinId]: {
            coinId,
            quantity: toStored(new Dec(held.quantity).minus(quantity)),
            costBasis: toStored(new Dec(held.costBasis).minus(basisSold)),
          },
        },
        realizedPnl: toStored(new Dec(current.realizedPnl).plus(proceeds).minus(basisSold)),
        version: current.version + 1,
      },
    };
  };
}

/** Follows cursors to the end and returns the pages' items. */
async function pages<T>(fetch: (page: PageRequest) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const out: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor === undefined ? { limit } : { limit, cursor });
    out.push(page.items);
    cursor = page.next;
    if (out.length > 1000) throw new Error('pagination does not terminate');
  } while (cursor !== undefined);
  return out;
}

async function expectConflict(promise: Promise<unknown>, what: ConflictError['what']): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConflictError);
  expect((error as ConflictError).what).toBe(what);
}

export function storeContract(
  name: string,
  makeStore: () => Promise<Store>,
  cleanup: ((store: Store) => Promise<void>) | undefined,
  /** Another instance on the data of `store` (its file, its tables), as another process opens it. */
  openAnother: (store: Store) => Promise<Store>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let others: Store[] = [];
    const another = async (): Promise<Store> => {
      const opened = await openAnother(store);
      others.push(opened);
      return opened;
    };
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      for (const other of others) await other.close();
      others = [];
      await (cleanup ? cleanup(store) : store.close());
    });

    describe('accounts', () => {
      it('creates an account with an empty portfolio', async () => {
        const alice = account('alice', { passwordHash: 'bcrypt-hash', emailNotifications: true, currency: 'eur' });
        await store.createAccount(alice, '10000.00');
        expect(await store.getAccount('alice')).toEqual(alice);
        expect(await store.getPortfolio('alice')).toEqual({
          username: 'alice',
          cash: '10000.00',
          holdings: {},
          realizedPnl: '0',
          version: 0,
          createdAt: T,
          lastTradeAt: 0,
        });
      });

      it('returns null for unknown accounts', async () => {
        expect(await store.getAccount('nobody')).toBeNull();
        expect(await store.getAccountByEmail('nobody@example.com')).toBeNull();
        expect(await store.getPortfolio('nobody')).toBeNull();
        expect(await store.updateAccount('nobody', { role: 'admin' })).toBeNull();
      });

      it('finds accounts by email regardless of case', async () => {
        await store.createAccount(account('alice', { email: 'Alice@Example.com' }), '100');
        expect((await store.getAccountByEmail('alice@EXAMPLE.com'))?.username).toBe('alice');
        expect((await store.getAccountByEmail('Alice@Example.com'))?.username).toBe('alice');
      });

      it('rejects a taken username, email (any case) or identity, writing nothing', async () => {
        await store.createAccount(account('alice', { email: 'alice@example.com' }), '100', identity('telegram:1', 'alice'));

        await expectConflict(store.createAccount(account('alice', { email: 'other@example.com' }), '100'), 'username');
        await expectConflict(store.createAccount(account('bob', { email: 'ALICE@example.com' }), '100'), 'email');
        await expectConflict(store.createAccount(account('bob'), '100', identity('telegram:1', 'bob')), 'identity');

        expect(await store.getAccount('bob')).toBeNull();
        expect(await store.getPortfolio('bob')).toBeNull();
        expect((await store.findIdentity('telegram:1'))?.username).toBe('alice');
        expect((await store.getAccount('alice'))?.email).toBe('alice@example.com');
      });

      it('creates the account and links its identity together', async () => {
        await store.createAccount(account('alice'), '100', identity('discord:7', 'alice', T + 1));
        expect(await store.findIdentity('discord:7')).toEqual(identity('discord:7', 'alice', T + 1));
      });

      it('updates the patched fields and keeps the rest', async () => {
        const alice = account('alice', { email: 'alice@example.com' });
        await store.createAccount(alice, '100');
        const patch = { role: 'admin', currency: 'jpy', emailNotifications: true, passwordHash: 'h2' } as const;
        const updated = await store.updateAccount('alice', patch);
        expect(updated).toEqual({ ...alice, ...patch });
        expect(await store.getAccount('alice')).toEqual({ ...alice, ...patch });
      });

      it('moves the email lookup when the email changes, and refuses a taken one', async () => {
        await store.createAccount(account('alice', { email: 'alice@example.com' }), '100');
        await store.createAccount(account('bob', { email: 'bob@example.com' }), '100');

        await store.updateAccount('alice', { email: 'Alice@New.example' });
        expect(await store.getAccountByEmail('alice@example.com')).toBeNull();
        expect((await store.getAccountByEmail('alice@new.example'))?.username).toBe('alice');

        await expectConflict(store.updateAccount('alice', { email: 'BOB@example.com' }), 'email');
        expect((await store.getAccount('alice'))?.email).toBe('Alice@New.example');
        // Changing only the case of one's own email is not a conflict.
        expect((await store.updateAccount('alice', { email: 'alice@new.example' }))?.email).toBe('alice@new.example');
      });

      it('pages through accounts by username without gaps or duplicates', async () => {
        const names = ['mallory', 'alice', 'grace', 'bob', 'zoe', 'carol', 'dave'];
        for (const n of names) await store.createAccount(account(n), '100');
        const sorted = [...names].sort();

        const byThree = await pages((p) => store.listAccounts(p), 3);
        expect(byThree.map((items) => items.length)).toEqual([3, 3, 1]);
        expect(byThree.flat().map((a) => a.username)).toEqual(sorted);

        // A page that ends exactly on the last account is the last page: no cursor.
        const whole = await store.listAccounts({ limit: 7 });
        expect(whole.items.map((a) => a.username)).toEqual(sorted);
        expect(whole.next).toBeUndefined();

        expect(await store.listAccounts({ limit: 10 })).toEqual({ items: whole.items });
      });

      it('lists an empty page when there are no accounts', async () => {
        expect(await store.listAccounts({ limit: 5 })).toEqual({ items: [] });
      });
    });

    describe('identities and link codes', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '100', identity('telegram:1', 'alice'));
        await store.createAccount(account('bob'), '100');
      });

      it('links, finds, lists and unlinks identities', async () => {
        await store.linkIdentity(identity('slack:T1:U9', 'alice', T + 5));
        expect(await store.findIdentity('slack:T1:U9')).toEqual(identity('slack:T1:U9', 'alice', T + 5));

        const listed = await store.listIdentities('alice');
        expect(listed.map((i) => i.key).sort()).toEqual(['slack:T1:U9', 'telegram:1']);
        expect(await store.listIdentities('bob')).toEqual([]);

        expect(await store.unlinkIdentity('telegram:1')).toBe(true);
        expect(await store.unlinkIdentity('telegram:1')).toBe(false);
        expect(await store.findIdentity('telegram:1')).toBeNull();
        expect((await store.listIdentities('alice')).map((i) => i.key)).toEqual(['slack:T1:U9']);
      });

      it('refuses to link an identity that is already linked, to anyone', async () => {
        await expectConflict(store.linkIdentity(identity('telegram:1', 'bob')), 'identity');
        await expectConflict(store.linkIdentity(identity('telegram:1', 'alice')), 'identity');
        expect((await store.findIdentity('telegram:1'))?.username).toBe('alice');
      });

      it('consumes a link code once', async () => {
        await store.saveLinkCode('hash-1', 'alice', T + 60_000);
        expect(await store.consumeLinkCode('hash-1', T)).toBe('alice');
        expect(await store.consumeLinkCode('hash-1', T)).toBeNull();
        expect(await store.consumeLinkCode('never-saved', T)).toBeNull();
      });

      it('does not honour an expired link code', async () => {
        await store.saveLinkCode('hash-2', 'alice', T + 60_000);
        expect(await store.consumeLinkCode('hash-2', T + 120_000)).toBeNull();
        expect(await store.consumeLinkCode('hash-2', T)).toBeNull();
      });

      it('gives a raced link code to exactly one consumer', async () => {
        await store.saveLinkCode('hash-3', 'bob', T + 60_000);
        const results = await Promise.all([store.consumeLinkCode('hash-3', T), store.consumeLinkCode('hash-3', T)]);
        expect(results.filter((r) => r === 'bob')).toHaveLength(1);
        expect(results.filter((r) => r === null)).toHaveLength(1);
      });
    });

    describe('trades', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '1000.00');
      });

      it('writes the planned portfolio and transaction', async () => {
        const outcome = await store.executeTrade('alice', 'key-1', buy('tx-1', '0.01', '50000'));
        expect(outcome.status).toBe('done');
        if (outcome.status !== 'done') return;
        expect(outcome.portfolio).toEqual({
          username: 'alice',
          cash: '500',
          holdings: { bitcoin: { coinId: 'bitcoin', quantity: '0.01', costBasis: '500' } },
          realizedPnl: '0',
          version: 1,
          createdAt: T,
          lastTradeAt: T,
        });
        expect(await store.getPortfolio('alice')).toEqual(outcome.portfolio);
        expect((await store.listTransactions('alice', { limit: 10 })).items).toEqual([outcome.transaction]);
      });

      it('writes nothing when the plan rejects, and leaves the key unused', async () => {
        const before = await store.getPortfolio('alice');
        const outcome = await store.executeTrade('alice', 'key-1', buy('tx-1', '1', '50000'));
        expect(outcome).toEqual({ status: 'rejected', reason: 'Not enough cash.' });
        expect(await store.getPortfolio('alice')).toEqual(before);
        expect((await store.listTransactions('alice', { limit: 10 })).items).toEqual([]);
        expect((await store.stats()).transactions).toBe(0);

        const retry = await store.executeTrade('alice', 'key-1', buy('tx-2', '0.001', '50000'));
        expect(retry.status).toBe('done');
      });

      it('returns the original transaction for a reused idempotency key and changes nothing', async () => {
        const first = await store.executeTrade('alice', 'key-1', buy('tx-1', '0.01', '50000'));
        if (first.status !== 'done') throw new Error(`first trade ${first.status}`);
        const again = await store.executeTrade('alice', 'key-1', buy('tx-2', '0.002', '40000'));
        expect(again).toEqual({ status: 'duplicate', transaction: first.transaction });
        expect(await store.getPortfolio('alice')).toEqual(first.portfolio);
        expect((await store.listTransactions('alice', { limit: 10 })).items).toHaveLength(1);
      });

      it('rejects a trade on an account without a portfolio', async () => {
        const outcome = await store.executeTrade('ghost', 'key-1', buy('tx-1', '0.01', '50000'));
        expect(outcome.status).toBe('rejected');
        expect(await store.getPortfolio('ghost')).toBeNull();
      });

      it('throws, writing nothing, when a plan does not bump the version by one', async () => {
        const badPlan = (current: Portfolio): TradePlan => {
          const planned = buy('tx-1', '0.01', '50000')(current);
          return planned.ok ? { ...planned, portfolio: { ...planned.portfolio, version: current.version } } : planned;
        };
        await expect(store.executeTrade('alice', 'key-1', badPlan)).rejects.toThrow();
        expect((await store.getPortfolio('alice'))?.version).toBe(0);
        expect((await store.listTransactions('alice', { limit: 10 })).items).toEqual([]);
      });

      it('keeps decimal strings exactly as written', async () => {
        const exact: Portfolio = {
          username: 'alice',
          cash: '123456789012.34',
          holdings: {
            bitcoin: { coinId: 'bitcoin', quantity: '0.00000001', costBasis: '0.01' },
            'shiba-inu': { coinId: 'shiba-inu', quantity: '98765432109.87654321', costBasis: '1000.50' },
          },
          realizedPnl: '-0.07',
          version: 1,
          createdAt: T,
          lastTradeAt: T,
        };
        const tx: Transaction = {
          transactionId: 'tx-exact',
          username: 'alice',
          type: 'buy',
          coinId: 'shiba-inu',
          quantity: '98765432109.87654321',
          price: '0.0000085',
          amount: '839506.17',
          fee: '0.10',
          timestamp: T,
          platform: 'telegram',
        };
        await store.executeTrade('alice', 'key-exact', () => ({ ok: true, portfolio: exact, transaction: tx }));
        expect(await store.getPortfolio('alice')).toEqual(exact);
        expect((await store.listTransactions('alice', { limit: 1 })).items).toEqual([tx]);
      });

      it('drops a holding once it is sold out and realizes the profit', async () => {
        await store.executeTrade('alice', 'k1', buy('tx-1', '0.01', '50000', T));
        const sold = await store.executeTrade('alice', 'k2', sell('tx-2', '0.01', '60000', T + 1));
        expect(sold.status).toBe('done');
        const portfolio = await store.getPortfolio('alice');
        expect(portfolio?.holdings).toEqual({});
        expect(new Dec(portfolio!.cash).eq('1100')).toBe(true);
        expect(new Dec(portfolio!.realizedPnl).eq('100')).toBe(true);
        expect(portfolio?.version).toBe(2);
      });

      it('lists transactions newest first, page by page, per account and overall', async () => {
        await store.createAccount(account('bob'), '1000.00');
        for (let i = 0; i < 7; i++) {
          await store.executeTrade('alice', `a${i}`, buy(`alice-${i}`, '0.0001', '50000', T + i * 10));
          if (i < 3) await store.executeTrade('bob', `b${i}`, buy(`bob-${i}`, '0.0001', '50000', T + i * 10 + 5));
        }

        const alicePages = await pages((p) => store.listTransactions('alice', p), 3);
        expect(alicePages.map((items) => items.length)).toEqual([3, 3, 1]);
        expect(alicePages.flat().map((t) => t.transactionId)).toEqual(
          [6, 5, 4, 3, 2, 1, 0].map((i) => `alice-${i}`),
        );
        expect((await store.listTransactions('carol', { limit: 3 })).items).toEqual([]);

        const all = (await pages((p) => store.listAllTransactions(p), 4)).flat();
        expect(all.map((t) => t.transactionId)).toEqual([
          'alice-6', 'alice-5', 'alice-4', 'alice-3', 'bob-2', 'alice-2', 'bob-1', 'alice-1', 'bob-0', 'alice-0',
        ]);
      });

      it('stamps each trade after the account’s previous one, whatever time its plan brings', async () => {
        await store.createAccount(account('bob'), '1000.00');
        const first = await store.executeTrade('alice', 'k1', buy('tx-1', '0.001', '50000', T + 100));
        const behind = await store.executeTrade('alice', 'k2', buy('tx-2', '0.001', '50000', T + 50)); // a clock behind
        const ahead = await store.executeTrade('alice', 'k3', buy('tx-3', '0.001', '50000', T + 500));
        const bobs = await store.executeTrade('bob', 'k1', buy('bob-1', '0.001', '50000', T)); // each account has its own
        const stamped = [first, behind, ahead, bobs].map((o) => (o.status === 'done' ? o.transaction.timestamp : o.status));
        expect(stamped).toEqual([T + 100, T + 101, T + 500, T]);
        expect((await store.getPortfolio('alice'))?.lastTradeAt).toBe(T + 500);
        expect((await store.listTransactions('alice', { limit: 10 })).items.map((t) => t.transactionId)).toEqual(['tx-3', 'tx-2', 'tx-1']);
        // What was stored is what the trade reported, and what a redelivery reports.
        expect((await store.listTransactions('alice', { limit: 10 })).items[1]).toEqual(behind.status === 'done' && behind.transaction);
        expect(await store.executeTrade('alice', 'k2', buy('tx-4', '0.001', '50000', T))).toEqual({
          status: 'duplicate', transaction: behind.status === 'done' && behind.transaction,
        });
      });

      it('lists an account’s trades in commit order when instances race with clocks out of step', async () => {
        const other = await another();
        await store.createAccount(account('carol'), '500.00');
        // Every trade flips the position: all the cash into 0.01 BTC, or all of it back. Replayed in
        // any order but the commit order, two buys meet and spend cash that is not there.
        const flip = (id: string, timestamp: number) => (current: Portfolio): TradePlan =>
          current.holdings.bitcoin ? sell(id, '0.01', '50000', timestamp)(current) : buy(id, '0.01', '50000', timestamp)(current);
        // The time each plan is given jumps around, as the clocks of several processes do: trades
        // committed later often carry earlier times.
        const clock = (i: number) => T + ((i * 37) % 101) * 1000;
        const TRADES = 24;
        const outcomes = (
          await Promise.all(
            [store, other].map(async (instance, n) => {
              const mine: TradeOutcome[] = [];
              for (let i = n; i < TRADES; i += 2) mine.push(await instance.executeTrade('carol', `k${i}`, flip(`tx-${i}`, clock(i))));
              return mine;
            }),
          )
        ).flat();
        const done = outcomes.flatMap((o) => (o.status === 'done' ? [o] : []));
        expect(done).toHaveLength(TRADES); // a flip always fits

        // Each trade's resulting version is its place in the commit order.
        const committed = [...done].sort((a, b) => a.portfolio.version - b.portfolio.version).map((o) => o.transaction.transactionId);
        const listed = (await pages((p) => other.listTransactions('carol', p), 5)).flat().reverse();
        expect(listed.map((t) => t.transactionId)).toEqual(committed);
        let cash = new Dec('500.00');
        let held = new Dec(0);
        for (const t of listed) {
          cash = t.type === 'buy' ? cash.minus(t.amount).minus(t.fee) : cash.plus(t.amount).minus(t.fee);
          held = t.type === 'buy' ? held.plus(t.quantity) : held.minus(t.quantity);
          expect(cash.isNegative(), `cash after ${t.transactionId}`).toBe(false);
          expect(held.isNegative(), `bitcoin after ${t.transactionId}`).toBe(false);
        }
        const portfolio = (await store.getPortfolio('carol'))!;
        expect(cash.eq(portfolio.cash)).toBe(true);
        expect(listed.at(-1)!.timestamp).toBe(portfolio.lastTradeAt);
      });

      it('never overdraws when 200 trades race on one account', async () => {
        const start = new Dec('1000.00');
        const cost = new Dec('7'); // 0.0001 BTC at 70000: only 142 of 200 fit
        const results = await Promise.allSettled(
          Array.from({ length: 200 }, (_, i) =>
            store.executeTrade('alice', `race-${i}`, buy(`race-tx-${i}`, '0.0001', '70000', T + i)),
          ),
        );
        const done = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'done').length;
        expect(done).toBeGreaterThan(0);
        expect(done).toBeLessThanOrEqual(142);

        const portfolio = (await store.getPortfolio('alice'))!;
        const cashLeft = new Dec(portfolio.cash);
        expect(cashLeft.isNegative()).toBe(false);
        expect(cashLeft.plus(cost.times(done)).eq(start)).toBe(true);
        expect(portfolio.version).toBe(done);
        expect(new Dec(portfolio.holdings.bitcoin!.quantity).eq(new Dec('0.0001').times(done))).toBe(true);
        expect((await pages((p) => store.listTransactions('alice', p), 100)).flat()).toHaveLength(done);
      });
    });

    describe('alerts', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '100');
        await store.createAccount(account('bob'), '100');
      });

      it('creates alerts up to the limit and lists the active ones oldest first', async () => {
        expect(await store.createAlert(alert('a3', 'alice', 'bitcoin', T + 3), 3)).toBe('created');
        expect(await store.createAlert(alert('a1', 'alice', 'ethereum', T + 1), 3)).toBe('created');
        expect(await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 2), 3)).toBe('created');
        expect(await store.createAlert(alert('a4', 'alice', 'bitcoin', T + 4), 3)).toBe('limit');
        expect(await store.createAlert(alert('b1', 'bob', 'bitcoin', T + 5), 3)).toBe('created');

        expect(await store.listAlerts('alice')).toEqual([
          alert('a1', 'alice', 'ethereum', T + 1),
          alert('a2', 'alice', 'bitcoin', T + 2),
          alert('a3', 'alice', 'bitcoin', T + 3),
        ]);
        expect(await store.listAlerts('carol')).toEqual([]);
      });

      it('deletes only the owner’s alert, once, freeing a slot', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 1);
        expect(await store.deleteAlert('bob', 'a1')).toBe(false);
        expect(await store.deleteAlert('alice', 'a1')).toBe(true);
        expect(await store.deleteAlert('alice', 'a1')).toBe(false);
        expect(await store.listAlerts('alice')).toEqual([]);
        expect(await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 1), 1)).toBe('created');
      });

      it('lists active alerts by coin across users', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T + 1), 5);
        await store.createAlert(alert('a2', 'alice', 'ethereum', T + 2), 5);
        await store.createAlert(alert('b1', 'bob', 'bitcoin', T + 3), 5);
        const ids = async (coin: string) => (await store.listActiveAlertsByCoin(coin)).map((a) => a.alertId).sort();
        expect(await ids('bitcoin')).toEqual(['a1', 'b1']);
        expect(await ids('ethereum')).toEqual(['a2']);
        expect(await ids('dogecoin')).toEqual([]);
      });

      it('marks an alert fired for exactly one of several racing callers', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 1);
        const results = await Promise.all([
          store.markAlertFired('alice', 'a1', T + 10),
          store.markAlertFired('alice', 'a1', T + 11),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.markAlertFired('alice', 'a1', T + 12)).toBe(false);

        expect(await store.listAlerts('alice')).toEqual([]);
        expect(await store.listActiveAlertsByCoin('bitcoin')).toEqual([]);
        // A fired alert no longer counts towards the limit.
        expect(await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 20), 1)).toBe('created');
      });

      it('does not fire another user’s or an unknown alert', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 1);
        expect(await store.markAlertFired('bob', 'a1', T)).toBe(false);
        expect(await store.markAlertFired('alice', 'nope', T)).toBe(false);
        expect(await store.listAlerts('alice')).toHaveLength(1);
      });
    });

    describe('coins', () => {
      it('tracks the twenty default coins', async () => {
        const coins = await store.listCoins();
        expect(coins).toHaveLength(20);
        const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
        expect([...coins].sort(byId)).toEqual(
          DEFAULT_COINS.map(({ id, symbol, name }) => ({ id, symbol, name })).sort(byId),
        );
      });

      it('adds and removes coins, refusing a duplicate', async () => {
        const pepe = { id: 'pepe', symbol: 'pepe', name: 'Pepe' };
        await store.addCoin(pepe);
        expect(await store.listCoins()).toContainEqual(pepe);
        await expectConflict(store.addCoin({ ...pepe, name: 'Pepe again' }), 'coin');
        await expectConflict(store.addCoin({ id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' }), 'coin');

        expect(await store.removeCoin('pepe')).toBe(true);
        expect(await store.removeCoin('pepe')).toBe(false);
        expect(await store.removeCoin('bitcoin')).toBe(true);
        const ids = (await store.listCoins()).map((c) => c.id);
        expect(ids).not.toContain('pepe');
        expect(ids).not.toContain('bitcoin');
        expect(ids).toHaveLength(19);
      });
    });

    describe('claims', () => {
      it('claims a key once', async () => {
        expect(await store.claimOnce('email:tx-1', T + 60_000)).toBe(true);
        expect(await store.claimOnce('email:tx-1', T + 60_000)).toBe(false);
        expect(await store.claimOnce('email:tx-2', T + 60_000)).toBe(true);
      });

      it('gives a raced key to exactly one claimant', async () => {
        const results = await Promise.all([store.claimOnce('k', T + 1000), store.claimOnce('k', T + 1000)]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('lets a released key be claimed again, by any instance', async () => {
        const other = await another();
        expect(await store.claimOnce('telegram-update:7', T + 60_000)).toBe(true);
        expect(await other.claimOnce('telegram-update:7', T + 60_000)).toBe(false);
        await store.releaseOnce('telegram-update:7');
        expect(await other.claimOnce('telegram-update:7', T + 60_000)).toBe(true);
        expect(await store.claimOnce('telegram-update:7', T + 60_000)).toBe(false);
        await store.releaseOnce('never-claimed'); // nothing to give up: no error
        expect(await store.claimOnce('never-claimed', T + 60_000)).toBe(true);
      });
    });

    describe('attempts', () => {
      const DAY = 24 * 60 * 60_000;

      it('counts attempts in a window that opens at the first and starts over once it has passed', async () => {
        expect(await store.getAttempts('login:telegram:1', T)).toBeNull();
        expect(await store.recordAttempt('login:telegram:1', T, DAY)).toEqual({ count: 1, firstAt: T, lastAt: T });
        expect(await store.recordAttempt('login:telegram:1', T + 10, DAY)).toEqual({ count: 2, firstAt: T, lastAt: T + 10 });
        expect(await store.recordAttempt('login:telegram:2', T + 20, DAY)).toEqual({ count: 1, firstAt: T + 20, lastAt: T + 20 });
        expect(await store.getAttempts('login:telegram:1', T + DAY - 1)).toEqual({ count: 2, firstAt: T, lastAt: T + 10 });
        expect(await store.getAttempts('login:telegram:1', T + DAY)).toBeNull();
        expect(await store.recordAttempt('login:telegram:1', T + DAY, DAY)).toEqual({ count: 1, firstAt: T + DAY, lastAt: T + DAY });
        expect(await store.getAttempts('login:telegram:2', T + DAY)).toEqual({ count: 1, firstAt: T + 20, lastAt: T + 20 });
      });

      it('forgets a cleared key, and only that key', async () => {
        await store.recordAttempt('a', T, DAY);
        await store.recordAttempt('a', T, DAY);
        await store.recordAttempt('b', T, DAY);
        await store.clearAttempts('a');
        await store.clearAttempts('never-recorded');
        expect(await store.getAttempts('a', T)).toBeNull();
        expect(await store.getAttempts('b', T)).toEqual({ count: 1, firstAt: T, lastAt: T });
        expect((await store.recordAttempt('a', T + 1, DAY)).count).toBe(1);
      });

      it('counts each of many racing attempts through two instances once, and both see the count', async () => {
        const other = await another();
        const key = 'login-account:mod@example.com';
        const counted = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).recordAttempt(key, T + i, DAY)));
        expect(counted.map((a) => a.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await other.getAttempts(key, T + 30))?.count).toBe(20);
        expect(await store.getAttempts(key, T + 30)).toEqual(await other.getAttempts(key, T + 30));
        await other.clearAttempts(key);
        expect(await store.getAttempts(key, T + 30)).toBeNull();
      });
    });

    describe('buttons', () => {
      const MIN = 60_000;
      const prompt: ButtonSet = {
        owner: 'telegram:1001',
        buttons: [
          { label: 'Confirm', command: '/buy bitcoin $5000', kind: 'confirm' },
          { label: 'Cancel', command: '/buy bitcoin $5000', kind: 'cancel' },
        ],
      };
      // No owner (anyone may press) and no kind: both must come back absent, not as null.
      const paging: ButtonSet = { buttons: [{ label: '« Previous', command: '/history 1' }, { label: 'Next »', command: '/history 3' }] };

      it('keeps a message’s buttons, exactly as saved, for every instance until they expire', async () => {
        const other = await another();
        await store.saveButtons('prompt-aaaaaaaaa', prompt, T + 5 * MIN);
        await store.saveButtons('paging-aaaaaaaaa', paging, T + 60 * MIN);
        expect(await other.getButtons('prompt-aaaaaaaaa', T)).toStrictEqual({ ...prompt, used: false });
        expect(await other.getButtons('paging-aaaaaaaaa', T)).toStrictEqual({ ...paging, used: false });
        expect(await store.getButtons('prompt-aaaaaaaaa', T + 5 * MIN - 1)).toStrictEqual({ ...prompt, used: false });
        expect(await store.getButtons('prompt-aaaaaaaaa', T + 5 * MIN)).toBeNull();
        expect(await other.takeButtons('prompt-aaaaaaaaa', T + 5 * MIN)).toBe(false);
        expect(await store.getButtons('paging-aaaaaaaaa', T + 5 * MIN)).toStrictEqual({ ...paging, used: false });
        expect(await store.getButtons('never-saved', T)).toBeNull();
        expect(await store.takeButtons('never-saved', T)).toBe(false);
        expect(await store.getButtons('never-saved', T)).toBeNull(); // a failed take creates nothing
      });

      it('lets one press take them, on any instance, and shows them used until they expire', async () => {
        const other = await another();
        await store.saveButtons('prompt-bbbbbbbbb', prompt, T + 5 * MIN);
        expect(await other.takeButtons('prompt-bbbbbbbbb', T + 1)).toBe(true);
        expect(await store.takeButtons('prompt-bbbbbbbbb', T + 2)).toBe(false);
        expect(await other.takeButtons('prompt-bbbbbbbbb', T + 3)).toBe(false);
        expect(await store.getButtons('prompt-bbbbbbbbb', T + 4)).toStrictEqual({ ...prompt, used: true });
        expect(await store.getButtons('prompt-bbbbbbbbb', T + 5 * MIN)).toBeNull();
      });

      it('gives buttons pressed on two instances at once to exactly one press', async () => {
        const other = await another();
        await store.saveButtons('prompt-ccccccccc', prompt, T + 5 * MIN);
        const taken = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).takeButtons('prompt-ccccccccc', T + i)));
        expect(taken.filter(Boolean)).toHaveLength(1);
        expect((await other.getButtons('prompt-ccccccccc', T + 30))?.used).toBe(true);
      });

      it('keeps live buttons when buttons that expire much later are saved', async () => {
        // A store may sweep old buttons as it saves new ones; never ones that are still live.
        await store.saveButtons('prompt-ddddddddd', prompt, T + 5 * MIN);
        await store.saveButtons('paging-ddddddddd', paging, T + 5 * MIN + 24 * 60 * MIN);
        expect(await store.getButtons('prompt-ddddddddd', T + 5 * MIN - 1)).toStrictEqual({ ...prompt, used: false });
      });
    });

    describe('activity', () => {
      const entry = (at: number, username: string | null, command = 'price'): ActivityEntry => ({
        at,
        identityKey: username ? `telegram:${username}` : 'telegram:stranger',
        platform: 'telegram',
        username,
        command,
        detail: 'btc',
        outcome: 'ok',
      });

      it('lists a user’s activity newest first, page by page, and prunes old entries', async () => {
        for (const at of [T, T + 10, T + 20, T + 30, T + 40]) await store.recordActivity(entry(at, 'alice', `cmd${at - T}`));
        await store.recordActivity(entry(T + 5, 'bob'));
        await store.recordActivity(entry(T + 6, null));

        const alice = await pages((p) => store.listActivity('alice', p), 2);
        expect(alice.map((items) => items.length)).toEqual([2, 2, 1]);
        expect(alice.flat().map((e) => e.command)).toEqual(['cmd40', 'cmd30', 'cmd20', 'cmd10', 'cmd0']);
        expect(alice[0]![0]).toEqual(entry(T + 40, 'alice', 'cmd40'));
        expect((await store.listActivity('bob', { limit: 5 })).items).toEqual([entry(T + 5, 'bob')]);

        expect(await store.pruneActivity(T + 15)).toBe(4); // alice T, T+10, bob, the stranger
        expect((await store.listActivity('alice', { limit: 10 })).items.map((e) => e.at)).toEqual([T + 40, T + 30, T + 20]);
        expect((await store.listActivity('bob', { limit: 10 })).items).toEqual([]);
        expect(await store.pruneActivity(T + 15)).toBe(0);
      });
    });

    describe('stats', () => {
      it('reports an empty store', async () => {
        const stats = await store.stats();
        expect(stats).toMatchObject({
          accounts: 0,
          accountsByRole: { user: 0, admin: 0, analyst: 0, moderator: 0 },
          identities: 0,
          transactions: 0,
          activeAlerts: 0,
          trackedCoins: 20,
        });
        expect(new Dec(stats.buyVolume).isZero()).toBe(true);
        expect(new Dec(stats.sellVolume).isZero()).toBe(true);
      });

      it('counts accounts, identities, trades, exact volumes, alerts and coins', async () => {
        await store.createAccount(account('alice'), '10000', identity('telegram:1', 'alice'));
        await store.createAccount(account('bob', { role: 'admin' }), '10000', identity('discord:2', 'bob'));
        await store.createAccount(account('carol'), '10000');
        await store.executeTrade('alice', 'k1', buy('tx-1', '0.002002', '50000', T)); // 100.10
        await store.executeTrade('bob', 'k2', buy('tx-2', '0.1', '2', T + 1)); // 0.20
        await store.executeTrade('alice', 'k3', sell('tx-3', '0.001001', '50000', T + 2)); // 50.05
        await store.executeTrade('alice', 'k1', buy('tx-4', '1', '1', T + 3)); // duplicate: not counted
        await store.executeTrade('carol', 'k4', buy('tx-5', '1', '1000000', T + 4)); // rejected: not counted
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 5);
        await store.createAlert(alert('a2', 'bob', 'bitcoin', T), 5);
        await store.createAlert(alert('a3', 'bob', 'ethereum', T), 5);
        await store.markAlertFired('bob', 'a3', T + 1);
        await store.addCoin({ id: 'pepe', symbol: 'pepe', name: 'Pepe' });

        const stats = await store.stats();
        expect(stats).toMatchObject({
          accounts: 3,
          accountsByRole: { user: 2, admin: 1, analyst: 0, moderator: 0 },
          identities: 2,
          transactions: 3,
          activeAlerts: 2,
          trackedCoins: 21,
        });
        expect(new Dec(stats.buyVolume).eq('100.30')).toBe(true);
        expect(new Dec(stats.sellVolume).eq('50.05')).toBe(true);
      });
    });
  });
}
