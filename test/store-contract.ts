/**
 * The Store contract: what every Store implementation must do, tested only through the interface
 * in core/ports.ts so the same suite runs against SQLite, DynamoDB or anything else.
 *
 * Each test gets a fresh, empty store from `makeStore` (only the default coins tracked), and may
 * open more instances on the same data with `another()`, as a second process would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_COINS } from '../core/coins';
import { broadcastOwner, orderOwner, type Account, type ActivityEntry, type LinkedIdentity, type OrderTerms, type OutboxMessage, type Portfolio, type PriceAlert, type Transaction } from '../core/domain';
import { Dec, toStored } from '../core/money';
import {
  ConflictError, type AlertFiring, type ButtonSet, type Page, type PageRequest, type PortfolioPlan, type Store, type TradeOutcome, type TradePlan,
} from '../core/ports';
import { freeCash, freeQuantity } from '../core/trading';

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

function alert(alertId: string, username: string, coinId: string, createdAt: number, overrides: Partial<PriceAlert> = {}): PriceAlert {
  return {
    alertId, username, coinId, condition: 'above', targetPrice: '100000.50',
    state: 'armed', createdAt, fireCount: 0, version: 1, updatedAt: createdAt, ...overrides,
  };
}

/** A percent-move alert with every optional field set: none of them may be lost or added to. */
function moveAlert(alertId: string, username: string, createdAt: number, overrides: Partial<PriceAlert> = {}): PriceAlert {
  return {
    alertId, username, coinId: 'ethereum', condition: 'move', movePercent: '5.25', moveWindowMs: 3_600_000, moveDirection: 'down',
    repeatMs: 1_800_000, expiresAt: createdAt + 7 * 24 * 3_600_000,
    state: 'armed', createdAt, fireCount: 0, version: 1, updatedAt: createdAt, ...overrides,
  };
}

function firing(username: string, alertId: string, version: number, state: AlertFiring['state'], at: number, messages: OutboxMessage[] = []): AlertFiring {
  return { username, alertId, version, state, at, messages };
}

function outboxMessage(id: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id, destination: 'user:telegram:1', username: 'alice', kind: 'alert', message: { tone: 'info', title: 'BTC is above $100,000.50', text: `message ${id}` },
    createdAt: T, dueAt: T, attempts: 0, status: 'pending', ...overrides,
  };
}

/** An email: no chat message at all (not even an undefined key). */
function emailMessage(id: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  const { message: _none, ...email } = outboxMessage(id, { destination: 'email:alice', email: { subject: 'BTC above', body: `email ${id}` }, ...overrides });
  return email;
}

/** Follows the change feed from `cursor` until it has nothing new; the latest version of each alert. */
async function drainChanges(store: Store, cursor: string): Promise<{ latest: Map<string, PriceAlert>; cursor: string }> {
  const latest = new Map<string, PriceAlert>();
  for (let calls = 0; calls < 100; calls++) {
    const changes = await store.listAlertChanges(cursor);
    cursor = changes.cursor;
    let fresh = 0;
    for (const a of changes.alerts) {
      if (a.version > (latest.get(a.alertId)?.version ?? 0)) {
        latest.set(a.alertId, a);
        fresh++;
      }
    }
    if (fresh === 0) return { latest, cursor };
  }
  throw new Error('the change feed does not come to an end');
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

// ---- orders: records and plans written out by hand (not core/orders), as the core would send them

const DAY = 24 * 3_600_000;

/** An order's record: by default a limit buy of $100.00 of BTC at 50,000 or below, holding $100.00. */
function orderRecord(orderId: string, username: string, createdAt: number, overrides: Partial<PriceAlert> = {}, terms: Partial<OrderTerms> = {}): PriceAlert {
  return {
    alertId: orderId, username: orderOwner(username), coinId: 'bitcoin', condition: 'below', targetPrice: '50000',
    expiresAt: createdAt + 30 * DAY,
    state: 'armed', createdAt, fireCount: 0, version: 1, updatedAt: createdAt,
    order: { side: 'buy', type: 'limit', amount: { kind: 'cash', value: '100.00' }, reserved: '100.00', platform: 'telegram', ...terms },
    ...overrides,
  };
}

/** A sell order's record: a stop-loss of `quantity` BTC below 40,000, holding that quantity. */
function sellOrderRecord(orderId: string, username: string, quantity: string, createdAt: number): PriceAlert {
  return orderRecord(orderId, username, createdAt, { targetPrice: '40000' }, { side: 'sell', type: 'stop', amount: { kind: 'quantity', value: quantity }, reserved: quantity });
}

/** The record as the core writes it when the order ends: one version on, not live. */
function ended(order: PriceAlert, state: 'fired' | 'removed' | 'expired', at: number, terms: Partial<OrderTerms> = {}): PriceAlert {
  return {
    ...order, state, version: order.version + 1, updatedAt: at,
    ...(state === 'fired' && { firedAt: at, fireCount: order.fireCount + 1 }),
    order: { ...order.order!, ...terms },
  };
}

const addTo = (value: string | undefined, amount: string) => toStored(new Dec(value ?? '0').plus(amount));

/** Holds back free cash for a buy order (core/trading freeCash), or rejects when too little is free. */
const reserveCash = (amount: string) => (current: Portfolio): PortfolioPlan =>
  freeCash(current).lt(amount)
    ? { ok: false, reason: 'Not enough free cash.' }
    : { ok: true, portfolio: { ...current, reservedCash: addTo(current.reservedCash, amount), version: current.version + 1 } };

/** Lets go of cash held for a buy order (a cancel or an expiry). */
const releaseCash = (amount: string) => (current: Portfolio): PortfolioPlan =>
  ({ ok: true, portfolio: { ...current, reservedCash: addTo(current.reservedCash, `-${amount}`), version: current.version + 1 } });

/** Holds back free coin for a sell order, or rejects when too little is free. */
const reserveCoin = (quantity: string, coinId = 'bitcoin') => (current: Portfolio): PortfolioPlan => {
  const held = current.holdings[coinId];
  if (!held || freeQuantity(held).lt(quantity)) return { ok: false, reason: 'Not enough free coin.' };
  return { ok: true, portfolio: { ...current, holdings: { ...current.holdings, [coinId]: { ...held, reserved: addTo(held.reserved, quantity) } }, version: current.version + 1 } };
};

/** The fill of a buy order: lets go of what it held, pays for the coin, and says which order it was. */
function fillBuy(
  order: PriceAlert, fill: { transactionId: string; quantity: string; price: string; marketPrice: string; fee: string; timestamp: number }, messages?: OutboxMessage[],
) {
  return (current: Portfolio): PortfolioPlan => {
    const tx: Transaction = {
      ...transaction({ ...fill, username: current.username, type: 'buy', coinId: order.coinId }),
      platform: order.order!.platform, orderId: order.alertId, marketPrice: fill.marketPrice,
    };
    const cost = new Dec(tx.amount).plus(tx.fee);
    const held = current.holdings[order.coinId];
    return {
      ok: true,
      transaction: tx,
      ...(messages && { messages }),
      portfolio: {
        ...current,
        cash: toStored(new Dec(current.cash).minus(cost)),
        reservedCash: addTo(current.reservedCash, `-${order.order!.reserved}`),
        holdings: {
          ...current.holdings,
          [order.coinId]: { ...held, coinId: order.coinId, quantity: addTo(held?.quantity, fill.quantity), costBasis: addTo(held?.costBasis, cost.toFixed()) },
        },
        version: current.version + 1,
      },
    };
  };
}

/** A market buy that spends only free cash and keeps what the holding holds back. */
function freeBuy(transactionId: string, quantity: string, price: string, timestamp = T, coinId = 'bitcoin') {
  return (current: Portfolio): TradePlan => {
    const tx = transaction({ transactionId, username: current.username, type: 'buy', coinId, quantity, price, timestamp });
    if (freeCash(current).lt(tx.amount)) return { ok: false, reason: 'Not enough free cash.' };
    const held = current.holdings[coinId];
    return {
      ok: true,
      transaction: tx,
      portfolio: {
        ...current,
        cash: toStored(new Dec(current.cash).minus(tx.amount)),
        holdings: { ...current.holdings, [coinId]: { ...held, coinId, quantity: addTo(held?.quantity, quantity), costBasis: addTo(held?.costBasis, tx.amount) } },
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
          reservedCash: '0', // none held for orders: '0', never absent
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

      it('keeps where alerts go, the time zone and the digest hour, and clears the digest hour with null', async () => {
        const alice = account('alice');
        await store.createAccount(alice, '100');
        expect(await store.getAccount('alice')).toStrictEqual(alice); // none of them until set
        const settings = { alertDelivery: 'here', alertChat: 'telegram:-100123/7', timezone: 'Europe/Athens', digestHour: 0 } as const;
        expect(await store.updateAccount('alice', settings)).toStrictEqual({ ...alice, ...settings });
        expect(await store.getAccount('alice')).toStrictEqual({ ...alice, ...settings });
        expect(await store.getAccountByEmail('alice@example.com')).toStrictEqual({ ...alice, ...settings });
        expect((await store.listAccounts({ limit: 5 })).items).toStrictEqual([{ ...alice, ...settings }]);

        await store.updateAccount('alice', { digestHour: 18, alertDelivery: 'off' });
        expect(await store.getAccount('alice')).toMatchObject({ digestHour: 18, alertDelivery: 'off', timezone: 'Europe/Athens' });
        const cleared = await store.updateAccount('alice', { digestHour: null });
        expect(cleared?.digestHour ?? null).toBeNull();
        const read = (await store.getAccount('alice'))!;
        expect(read.digestHour ?? null).toBeNull();
        expect(read).toMatchObject({ alertDelivery: 'off', alertChat: 'telegram:-100123/7', timezone: 'Europe/Athens' });
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

    describe('many accounts and identities at once', () => {
      // 30 accounts, a few with several identities linked out of key order (two at the same
      // instant) so that the order within each list shows.
      const known = Array.from({ length: 30 }, (_, i) => `user${String(i).padStart(2, '0')}`);
      beforeEach(async () => {
        for (const [i, name] of known.entries()) {
          await store.createAccount(account(name, { currency: i % 2 ? 'eur' : 'usd' }), '100', i % 3 ? identity(`telegram:${i}`, name, T + i) : undefined);
        }
        for (const i of [0, 7, 29]) {
          await store.linkIdentity(identity(`slack:T1:U${i}`, known[i]!, T + 1_000));
          await store.linkIdentity(identity(`discord:${i}`, known[i]!, T + 1_000));
          await store.linkIdentity(identity(`slack:T0:U${i}`, known[i]!, T - 1));
        }
      });

      /** `unknown` names of nobody with the known ones spread evenly among them, then some names again. */
      const mixed = (unknown: number): string[] => {
        const ghosts = Array.from({ length: unknown }, (_, i) => `ghost${i}`);
        const every = Math.ceil(unknown / known.length);
        const names = ghosts.flatMap((g, i) => (i % every === 0 && known[i / every] ? [known[i / every]!, g] : [g]));
        names.push(...known.filter((k) => !names.includes(k)));
        return [...names, known[0]!, 'ghost1', known[29]!, known[7]!];
      };

      it('reads the accounts one lookup each would read, past one batch, leaving out unknown users (none for no names)', async () => {
        // 530 distinct names: more than one BatchGetItem (100 keys) and one SQLite statement (500),
        // with known accounts in every batch.
        const asked = mixed(500);
        const accounts = await store.getAccounts(asked);
        expect([...accounts.keys()].sort()).toEqual(known);
        for (const name of known) expect(accounts.get(name)).toStrictEqual(await store.getAccount(name));
        expect(accounts.get(known[1]!)?.currency).toBe('eur');
        expect(accounts.get(known[29]!)).toStrictEqual(account(known[29]!, { currency: 'eur' }));
        expect(await store.getAccounts([])).toEqual(new Map());
      });

      it('lists the identities one lookup each would list, in the same order, with none for unknown users (none for no names)', async () => {
        // Fewer unknown names here: a store without a batch query pays one query per name.
        const asked = mixed(40);
        const identities = await store.listIdentitiesOf(asked);
        expect([...identities.keys()].sort()).toEqual([...new Set(asked)].sort());
        for (const name of new Set(asked)) expect(identities.get(name)).toStrictEqual(await store.listIdentities(name));
        expect(identities.get('ghost3')).toEqual([]);
        expect(identities.get(known[3]!)).toEqual([]); // 3 % 3: created without one
        expect(identities.get(known[7]!)!.map((i) => i.key)).toEqual(['slack:T0:U7', 'telegram:7', 'discord:7', 'slack:T1:U7']);
        expect(identities.get(known[0]!)!.map((i) => i.key)).toEqual(['slack:T0:U0', 'discord:0', 'slack:T1:U0']);
        expect(await store.listIdentitiesOf([])).toEqual(new Map());
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
          reservedCash: '0',
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

      it('queues a trade’s messages with it, and none for a rejected, duplicate or failed trade', async () => {
        const email = (id: string) => emailMessage(id, { kind: 'trade', email: { subject: 'Bought BTC', body: id } });
        const withMessages = (plan: (current: Portfolio) => TradePlan, ids: string[]) => (current: Portfolio): TradePlan => {
          const decided = plan(current);
          return decided.ok ? { ...decided, messages: ids.map(email) } : decided;
        };
        expect((await store.executeTrade('alice', 'k1', withMessages(buy('tx-1', '0.001', '50000'), ['trade:tx-1:email'])))).toMatchObject({ status: 'done' });
        expect(await store.getOutboxMessage('trade:tx-1:email')).toStrictEqual(email('trade:tx-1:email'));

        const rejected = await store.executeTrade('alice', 'k2', withMessages(buy('tx-2', '1', '50000'), ['trade:tx-2:email']));
        expect(rejected.status).toBe('rejected');
        const duplicate = await store.executeTrade('alice', 'k1', withMessages(buy('tx-3', '0.001', '50000'), ['trade:tx-3:email']));
        expect(duplicate.status).toBe('duplicate');
        const broken = (current: Portfolio): TradePlan => {
          const planned = withMessages(buy('tx-4', '0.001', '50000'), ['trade:tx-4:email'])(current);
          return planned.ok ? { ...planned, portfolio: { ...planned.portfolio, version: current.version + 5 } } : planned;
        };
        await expect(store.executeTrade('alice', 'k4', broken)).rejects.toThrow();
        for (const id of ['trade:tx-2:email', 'trade:tx-3:email', 'trade:tx-4:email']) expect(await store.getOutboxMessage(id)).toBeNull();
        expect((await store.leaseOutbox(T + 1000, 10, 1000)).map((m) => m.id)).toEqual(['trade:tx-1:email']);
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
        // A plan that leaves reservedCash out holds none back: it reads back as '0'.
        expect(await store.getPortfolio('alice')).toEqual({ ...exact, reservedCash: '0' });
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

      it('creates alerts up to the limit and lists them oldest first, exactly as written', async () => {
        expect(await store.createAlert(alert('a3', 'alice', 'bitcoin', T + 3), 3)).toBe('created');
        expect(await store.createAlert(alert('a1', 'alice', 'ethereum', T + 1), 3)).toBe('created');
        expect(await store.createAlert(moveAlert('a2', 'alice', T + 2), 3)).toBe('created');
        expect(await store.createAlert(alert('a4', 'alice', 'bitcoin', T + 4), 3)).toBe('limit');
        expect(await store.createAlert(alert('b1', 'bob', 'bitcoin', T + 5), 3)).toBe('created');

        expect(await store.listAlerts('alice')).toStrictEqual([
          alert('a1', 'alice', 'ethereum', T + 1),
          moveAlert('a2', 'alice', T + 2),
          alert('a3', 'alice', 'bitcoin', T + 3),
        ]);
        expect(await store.getAlert('alice', 'a4')).toBeNull();
        expect(await store.listAlerts('carol')).toEqual([]);
      });

      it('gets one owner’s alert, and nobody else’s', async () => {
        await store.createAlert(moveAlert('a1', 'alice', T), 3);
        expect(await store.getAlert('alice', 'a1')).toStrictEqual(moveAlert('a1', 'alice', T));
        expect(await store.getAlert('bob', 'a1')).toBeNull();
        expect(await store.getAlert('alice', 'nope')).toBeNull();
      });

      it('removes only the owner’s alert, once, keeping it visible as removed but out of the list', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 1);
        expect(await store.deleteAlert('bob', 'a1')).toBe(false);
        expect(await store.deleteAlert('alice', 'nope')).toBe(false);
        expect(await store.deleteAlert('alice', 'a1')).toBe(true);
        expect(await store.deleteAlert('alice', 'a1')).toBe(false);
        expect(await store.listAlerts('alice')).toEqual([]);
        expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'removed', version: 2 });
        expect((await store.getAlert('alice', 'a1'))!.updatedAt).toBeGreaterThanOrEqual(T);
        // A removed alert no longer counts towards the limit.
        expect(await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 1), 1)).toBe('created');
      });

      it('counts only live alerts against the limit: a fired one frees a slot, a cooling one does not', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 2);
        await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 1, { repeatMs: 60_000 }), 2);
        expect(await store.createAlert(alert('a3', 'alice', 'bitcoin', T + 2), 2)).toBe('limit');

        expect(await store.fireAlerts([firing('alice', 'a1', 1, 'fired', T + 10)])).toEqual(new Set(['a1']));
        expect(await store.fireAlerts([firing('alice', 'a2', 1, 'cooling', T + 10)])).toEqual(new Set(['a2']));
        expect(await store.createAlert(alert('a3', 'alice', 'bitcoin', T + 2), 2)).toBe('created');
        expect(await store.createAlert(alert('a4', 'alice', 'bitcoin', T + 3), 2)).toBe('limit');

        // A fired alert still shows in the owner's list (with its state); only removal hides it.
        expect((await store.listAlerts('alice')).map((a) => [a.alertId, a.state])).toEqual([
          ['a1', 'fired'], ['a2', 'cooling'], ['a3', 'armed'],
        ]);
        // Removing a finished alert is allowed, once.
        expect(await store.deleteAlert('alice', 'a1')).toBe(true);
        expect(await store.deleteAlert('alice', 'a1')).toBe(false);
      });

      it('keeps a chat’s broadcast rules apart from any user’s alerts, with no account behind them', async () => {
        const owner = broadcastOwner('telegram:-100123');
        expect(await store.createAlert(alert('g1', owner, 'bitcoin', T), 2)).toBe('created');
        expect(await store.createAlert(moveAlert('g2', owner, T + 1, { repeatMs: 3_600_000 }), 2)).toBe('created');
        expect(await store.createAlert(alert('g3', owner, 'bitcoin', T + 2), 2)).toBe('limit');
        expect(await store.createAlert(alert('a1', 'alice', 'bitcoin', T + 3), 2)).toBe('created');
        expect(await store.listAlerts(owner)).toStrictEqual([alert('g1', owner, 'bitcoin', T), moveAlert('g2', owner, T + 1, { repeatMs: 3_600_000 })]);
        expect((await store.listAlerts('alice')).map((a) => a.alertId)).toEqual(['a1']);
        expect(await store.listAlerts(broadcastOwner('telegram:-100999'))).toEqual([]);
        expect(await store.deleteAlert(owner, 'g1')).toBe(true);
        expect(await store.createAlert(alert('g3', owner, 'bitcoin', T + 2), 2)).toBe('created');
      });

      it('re-arms or expires a live alert only at its version', async () => {
        await store.createAlert(alert('r1', 'alice', 'bitcoin', T, { repeatMs: 60_000 }), 5);
        await store.fireAlerts([firing('alice', 'r1', 1, 'cooling', T + 10)]); // now version 2
        expect(await store.setAlertState('alice', 'r1', 1, 'armed', T + 20)).toBe(false);
        expect(await store.setAlertState('bob', 'r1', 2, 'armed', T + 20)).toBe(false);
        expect(await store.setAlertState('alice', 'nope', 2, 'armed', T + 20)).toBe(false);
        expect(await store.getAlert('alice', 'r1')).toMatchObject({ state: 'cooling', version: 2 });

        expect(await store.setAlertState('alice', 'r1', 2, 'armed', T + 70_000)).toBe(true);
        expect(await store.getAlert('alice', 'r1')).toStrictEqual(
          alert('r1', 'alice', 'bitcoin', T, { repeatMs: 60_000, state: 'armed', version: 3, fireCount: 1, firedAt: T + 10, updatedAt: T + 70_000 }),
        );
        expect(await store.setAlertState('alice', 'r1', 2, 'expired', T + 80_000)).toBe(false);
        expect(await store.setAlertState('alice', 'r1', 3, 'expired', T + 80_000)).toBe(true);
        expect(await store.getAlert('alice', 'r1')).toMatchObject({ state: 'expired', version: 4, updatedAt: T + 80_000 });
        // Expired is not live: nothing moves it again, and it frees its slot.
        expect(await store.setAlertState('alice', 'r1', 4, 'armed', T + 90_000)).toBe(false);
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T + 1), 1);
        expect(await store.createAlert(alert('a2', 'alice', 'bitcoin', T + 2), 1)).toBe('limit');
      });

      it('pages through every live alert exactly once, on any instance', async () => {
        const live: string[] = [];
        for (let i = 0; i < 23; i++) {
          const owner = i % 3 === 0 ? broadcastOwner('slack:C1') : i % 2 ? 'alice' : 'bob';
          const id = `x${i}`;
          await store.createAlert(alert(id, owner, DEFAULT_COINS[i % 5]!.id, T + i), 100);
          if (i % 7 === 1) await store.deleteAlert(owner, id);
          else if (i % 7 === 2) await store.fireAlerts([firing(owner, id, 1, 'fired', T + 100)]);
          else if (i % 7 === 3) await store.fireAlerts([firing(owner, id, 1, 'cooling', T + 100)]); // cooling is live
          else if (i % 7 === 4) await store.setAlertState(owner, id, 1, 'expired', T + 100);
          if (![1, 2, 4].includes(i % 7)) live.push(id);
        }
        const other = await another();
        for (const instance of [store, other]) {
          const paged = await pages((p) => instance.listLiveAlerts(p), 4);
          const ids = paged.flat().map((a) => a.alertId);
          expect(ids.length).toBe(new Set(ids).size);
          expect([...ids].sort()).toEqual([...live].sort());
          for (const a of paged.flat()) expect(['armed', 'cooling']).toContain(a.state);
        }
        expect((await store.listLiveAlerts({ limit: 100 })).next).toBeUndefined();
      });

      it('prunes fired, expired and removed alerts last changed before the cutoff, never live ones', async () => {
        for (const id of ['f1', 'e1', 'l1', 'f2', 'd1']) await store.createAlert(alert(id, 'alice', 'bitcoin', T), 10);
        await store.fireAlerts([firing('alice', 'f1', 1, 'fired', T + 10)]);
        await store.setAlertState('alice', 'e1', 1, 'expired', T + 20);
        await store.fireAlerts([firing('alice', 'f2', 1, 'fired', T + 1000)]);
        await store.deleteAlert('alice', 'd1'); // stamped with the writer's clock, i.e. now

        expect(await store.pruneAlerts(T + 500)).toBe(2);
        expect(await store.getAlert('alice', 'f1')).toBeNull();
        expect(await store.getAlert('alice', 'e1')).toBeNull();
        expect((await store.getAlert('alice', 'f2'))?.state).toBe('fired');
        expect((await store.getAlert('alice', 'd1'))?.state).toBe('removed');

        // Long after everything: the finished ones go, the live one (created long before) stays.
        expect(await store.pruneAlerts(Date.now() + 24 * 60 * 60_000)).toBe(2);
        expect((await store.listAlerts('alice')).map((a) => a.alertId)).toEqual(['l1']);
        expect(await store.pruneAlerts(Date.now() + 24 * 60 * 60_000)).toBe(0);
      });
    });

    describe('orders', () => {
      const owner = orderOwner('alice');
      const o1 = orderRecord('o1', 'alice', T);
      /** A fill of o1: 0.002 BTC at 49,900.00 (the market at 49,875.50 plus costs), $0.10 fee. */
      const o1Fill = { transactionId: 'tx-o1', quantity: '0.002', price: '49900', marketPrice: '49875.5', fee: '0.10', timestamp: T + 10 };
      const place = (instance: Store, order: PriceAlert, plan: (p: Portfolio) => PortfolioPlan, limit = 10) =>
        instance.changeOrder(order.username.slice('#orders:'.length), { order, limit, plan });

      beforeEach(async () => {
        await store.createAccount(account('alice'), '1000.00');
        await store.createAccount(account('bob'), '1000.00');
      });

      it('places an order with its reservation, readable wherever alerts are read, on any instance', async () => {
        const other = await another();
        const cursor = await other.alertChangeCursor();
        const outcome = await store.changeOrder('alice', { order: o1, limit: 5, plan: reserveCash('100.00') });
        expect(outcome.status).toBe('done');
        if (outcome.status !== 'done') return;
        expect(outcome.transaction).toBeUndefined();
        expect(outcome.portfolio).toMatchObject({ cash: '1000.00', reservedCash: '100', holdings: {}, version: 1, lastTradeAt: 0 });
        expect(await other.getPortfolio('alice')).toEqual(outcome.portfolio);

        expect(await other.getAlert(owner, 'o1')).toStrictEqual(o1);
        expect(await other.listAlerts(owner)).toStrictEqual([o1]);
        expect(await other.listAlerts('alice')).toEqual([]); // an order is not one of her alerts
        expect((await pages((p) => other.listLiveAlerts(p), 10)).flat()).toStrictEqual([o1]);
        const seen = await drainChanges(other, cursor);
        expect(seen.latest.get('o1')).toStrictEqual(o1);
        // The next order comes through after it, from the cursor the feed gave.
        const o2 = orderRecord('o2', 'alice', T + 1);
        await store.changeOrder('alice', { order: o2, limit: 5, plan: reserveCash('100.00') });
        expect((await drainChanges(other, seen.cursor)).latest.get('o2')).toStrictEqual(o2);
      });

      it('holds coin for a sell order in the holding, and keeps holdings without one as they were', async () => {
        await store.executeTrade('alice', 'k1', buy('tx-1', '0.01', '50000'));
        await store.executeTrade('alice', 'k2', buy('tx-2', '1', '100', T, 'ethereum'));
        const s1 = sellOrderRecord('s1', 'alice', '0.004', T + 1);
        expect(await place(store, s1, reserveCoin('0.004'))).toMatchObject({ status: 'done' });
        const portfolio = (await store.getPortfolio('alice'))!;
        expect(portfolio.holdings).toStrictEqual({
          bitcoin: { coinId: 'bitcoin', quantity: '0.01', costBasis: '500', reserved: '0.004' },
          ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '100' },
        });
        expect(portfolio.reservedCash).toBe('0');
        expect(await store.getAlert(owner, 's1')).toStrictEqual(s1);
        // Only the free 0.006 can be held for another.
        expect(await place(store, sellOrderRecord('s2', 'alice', '0.007', T + 2), reserveCoin('0.007'))).toEqual({ status: 'rejected', reason: 'Not enough free coin.' });
      });

      it('refuses an order id it already has (the same message twice), writing nothing', async () => {
        await place(store, o1, reserveCash('100.00'));
        const before = await store.getPortfolio('alice');
        const cursor = await store.alertChangeCursor();
        const again = await place(store, orderRecord('o1', 'alice', T + 5, { targetPrice: '45000' }, { amount: { kind: 'cash', value: '200.00' }, reserved: '200.00' }), reserveCash('200.00'));
        expect(again).toStrictEqual({ status: 'stale', current: o1 });
        expect(await store.getPortfolio('alice')).toEqual(before);
        expect(await store.getAlert(owner, 'o1')).toStrictEqual(o1);
        // Nothing new in the feed (a store may repeat what it reported before, never newer).
        for (const a of (await drainChanges(store, cursor)).latest.values()) expect(a).toStrictEqual(o1);
      });

      it('counts open orders per owner against the limit, apart from the user’s alerts', async () => {
        // Alice's alerts are at their limit: that does not stop her orders.
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 2);
        await store.createAlert(alert('a2', 'alice', 'bitcoin', T), 2);
        expect(await place(store, orderRecord('o1', 'alice', T), reserveCash('100'), 2)).toMatchObject({ status: 'done' });
        expect(await place(store, orderRecord('o2', 'alice', T + 1), reserveCash('100'), 2)).toMatchObject({ status: 'done' });
        expect(await place(store, orderRecord('o3', 'alice', T + 2), reserveCash('100'), 2)).toEqual({ status: 'limit' });
        expect(await store.getAlert(owner, 'o3')).toBeNull();
        expect((await store.getPortfolio('alice'))).toMatchObject({ reservedCash: '200', version: 2 });
        // Bob's orders count for bob; alice's orders do not fill her alert slots.
        expect(await place(store, orderRecord('b1', 'bob', T), reserveCash('100'), 2)).toMatchObject({ status: 'done' });
        await store.deleteAlert('alice', 'a1');
        expect(await store.createAlert(alert('a3', 'alice', 'bitcoin', T), 2)).toBe('created');
        expect((await store.listAlerts(owner)).map((o) => o.alertId)).toEqual(['o1', 'o2']);
      });

      it('writes nothing when the plan rejects: no order, no reservation, no change', async () => {
        const before = await store.getPortfolio('alice');
        const cursor = await store.alertChangeCursor();
        expect(await place(store, o1, reserveCash('1000.01'))).toEqual({ status: 'rejected', reason: 'Not enough free cash.' });
        expect(await store.getAlert(owner, 'o1')).toBeNull();
        expect(await store.getPortfolio('alice')).toEqual(before);
        expect((await drainChanges(store, cursor)).latest.size).toBe(0);

        // A change whose plan rejects leaves the order open at its version.
        await place(store, o1, reserveCash('100.00'));
        const refused = await store.changeOrder('alice', { order: ended(o1, 'removed', T + 5), expectedVersion: 1, plan: () => ({ ok: false, reason: 'No.' }) });
        expect(refused).toEqual({ status: 'rejected', reason: 'No.' });
        expect(await store.getAlert(owner, 'o1')).toStrictEqual(o1);
        expect((await store.getPortfolio('alice'))?.reservedCash).toBe('100');
      });

      it('changes an order only while it is open and at the expected version', async () => {
        await place(store, o1, reserveCash('100.00'));
        const cancelled = ended(o1, 'removed', T + 5, { endReason: 'cancelled' });
        expect(await store.changeOrder('alice', { order: { ...cancelled, version: 3 }, expectedVersion: 2, plan: releaseCash('100.00') }))
          .toStrictEqual({ status: 'stale', current: o1 });
        expect(await store.changeOrder('alice', { order: orderRecord('nope', 'alice', T, { version: 2 }), expectedVersion: 1, plan: releaseCash('100.00') }))
          .toStrictEqual({ status: 'stale', current: null });
        expect(await store.changeOrder('bob', { order: { ...cancelled, username: orderOwner('bob') }, expectedVersion: 1, plan: releaseCash('100.00') }))
          .toStrictEqual({ status: 'stale', current: null }); // not bob's
        expect((await store.getPortfolio('alice'))).toMatchObject({ reservedCash: '100', version: 1 });

        const done = await store.changeOrder('alice', { order: cancelled, expectedVersion: 1, plan: releaseCash('100.00') });
        expect(done).toMatchObject({ status: 'done', portfolio: { reservedCash: '0', cash: '1000.00', version: 2 } });
        expect(await store.getAlert(owner, 'o1')).toStrictEqual(cancelled);
        expect((await store.listLiveAlerts({ limit: 10 })).items).toEqual([]);

        // Finished: no version moves it again.
        for (const expectedVersion of [1, 2]) {
          const late = await store.changeOrder('alice', { order: { ...ended(cancelled, 'expired', T + 9) }, expectedVersion, plan: releaseCash('100.00') });
          expect(late).toStrictEqual({ status: 'stale', current: cancelled });
        }
        expect((await store.getPortfolio('alice'))).toMatchObject({ reservedCash: '0', version: 2 });
      });

      it('fills an order: its trade with order id and market price, once, with its messages', async () => {
        const other = await another();
        await place(store, o1, reserveCash('100.00'));
        const cursor = await other.alertChangeCursor();
        const notice = emailMessage('order:o1:filled:email', { kind: 'trade', email: { subject: 'Order filled', body: 'Bought 0.002 BTC' } });
        const filled = ended(o1, 'fired', T + 10, { transactionId: 'tx-o1' });

        const outcome = await store.changeOrder('alice', { order: filled, expectedVersion: 1, plan: fillBuy(o1, o1Fill, [notice]) });
        expect(outcome.status).toBe('done');
        if (outcome.status !== 'done') return;
        const tx: Transaction = {
          transactionId: 'tx-o1', username: 'alice', type: 'buy', coinId: 'bitcoin', quantity: '0.002', price: '49900', amount: '99.8', fee: '0.10',
          timestamp: T + 10, platform: 'telegram', orderId: 'o1', marketPrice: '49875.5',
        };
        expect(outcome.transaction).toStrictEqual(tx);
        expect(outcome.portfolio).toMatchObject({
          cash: '900.1', reservedCash: '0', version: 2, lastTradeAt: T + 10,
          holdings: { bitcoin: { coinId: 'bitcoin', quantity: '0.002', costBasis: '99.9' } },
        });
        expect(await other.getPortfolio('alice')).toEqual(outcome.portfolio);
        expect((await other.listTransactions('alice', { limit: 10 })).items).toStrictEqual([tx]);
        expect((await other.listAllTransactions({ limit: 10 })).items).toStrictEqual([tx]);
        expect(await other.getOutboxMessage(notice.id)).toStrictEqual(notice);
        expect(await other.getAlert(owner, 'o1')).toStrictEqual(filled);
        expect((await drainChanges(other, cursor)).latest.get('o1')).toStrictEqual(filled);
        expect(await other.stats()).toMatchObject({ transactions: 1 });
        expect(new Dec((await other.stats()).buyVolume).eq('99.8')).toBe(true);

        // The fill used the key `order:o1`: a trade with that key is the same fill, and changes nothing.
        const again = await other.executeTrade('alice', 'order:o1', buy('tx-again', '0.001', '50000'));
        expect(again).toStrictEqual({ status: 'duplicate', transaction: tx });
        // And the filled order cannot fill again.
        const twice = await other.changeOrder('alice', { order: ended(filled, 'fired', T + 20), expectedVersion: 1, plan: fillBuy(o1, { ...o1Fill, transactionId: 'tx-o1-b' }) });
        expect(twice).toStrictEqual({ status: 'stale', current: filled });
        expect(await other.getPortfolio('alice')).toEqual(outcome.portfolio);
        expect((await other.listTransactions('alice', { limit: 10 })).items).toHaveLength(1);
      });

      it('queues a placement’s or cancel’s messages with it, and none when it is refused', async () => {
        const placed = outboxMessage('order:o1:placed');
        await store.changeOrder('alice', { order: o1, limit: 5, plan: (p) => ({ ...(reserveCash('100.00')(p) as { ok: true; portfolio: Portfolio }), messages: [placed] }) });
        expect(await store.getOutboxMessage(placed.id)).toStrictEqual(placed);
        const refused = outboxMessage('order:o1:again');
        expect((await store.changeOrder('alice', { order: o1, limit: 5, plan: (p) => ({ ...(reserveCash('1')(p) as { ok: true; portfolio: Portfolio }), messages: [refused] }) })).status).toBe('stale');
        expect(await store.getOutboxMessage(refused.id)).toBeNull();
      });

      it('lets the owner place up to the limit again once an order ends', async () => {
        expect(await place(store, o1, reserveCash('100.00'), 1)).toMatchObject({ status: 'done' });
        const o2 = orderRecord('o2', 'alice', T + 1);
        expect(await place(store, o2, reserveCash('100.00'), 1)).toEqual({ status: 'limit' });
        await store.changeOrder('alice', { order: ended(o1, 'fired', T + 10, { transactionId: 'tx-o1' }), expectedVersion: 1, plan: fillBuy(o1, o1Fill) });
        expect(await place(store, o2, reserveCash('100.00'), 1)).toMatchObject({ status: 'done' });
        await store.changeOrder('alice', { order: ended(o2, 'expired', T + 20, { endReason: 'expired' }), expectedVersion: 1, plan: releaseCash('100.00') });
        expect(await place(store, orderRecord('o3', 'alice', T + 2), reserveCash('100.00'), 1)).toMatchObject({ status: 'done' });
        expect((await store.listAlerts(owner)).map((o) => [o.alertId, o.state])).toEqual([['o1', 'fired'], ['o2', 'expired'], ['o3', 'armed']]);
      });

      it('keeps reservations through a market trade, whose transaction has no order id', async () => {
        await store.executeTrade('alice', 'k1', buy('tx-1', '0.01', '50000')); // cash 500
        await place(store, o1, reserveCash('300'));
        await place(store, sellOrderRecord('s1', 'alice', '0.004', T + 1), reserveCoin('0.004'));
        expect(await store.executeTrade('alice', 'k2', freeBuy('tx-2', '0.01', '50000'))).toEqual({ status: 'rejected', reason: 'Not enough free cash.' });

        const outcome = await store.executeTrade('alice', 'k3', freeBuy('tx-3', '0.002', '50000', T + 5));
        expect(outcome.status).toBe('done');
        const portfolio = (await store.getPortfolio('alice'))!;
        expect(outcome.status === 'done' && outcome.portfolio).toEqual(portfolio);
        expect(portfolio).toMatchObject({ cash: '400', reservedCash: '300' });
        expect(portfolio.holdings.bitcoin).toStrictEqual({ coinId: 'bitcoin', quantity: '0.012', costBasis: '600', reserved: '0.004' });
        const [latest] = (await store.listTransactions('alice', { limit: 1 })).items;
        expect(latest).toStrictEqual(transaction({ transactionId: 'tx-3', username: 'alice', type: 'buy', coinId: 'bitcoin', quantity: '0.002', price: '50000', timestamp: T + 5 }));
        expect(await store.executeTrade('alice', 'k3', freeBuy('tx-4', '0.001', '1'))).toStrictEqual({ status: 'duplicate', transaction: latest });
      });

      it('fills an order once when two instances fill it at once', async () => {
        const other = await another();
        await place(store, o1, reserveCash('100.00'));
        const filled = ended(o1, 'fired', T + 10, { transactionId: 'tx-o1' });
        const outcomes = await Promise.all([store, other].map((instance, n) =>
          instance.changeOrder('alice', { order: filled, expectedVersion: 1, plan: fillBuy(o1, { ...o1Fill, transactionId: `tx-${n}` }) })));
        expect(outcomes.map((o) => o.status).sort()).toEqual(['done', 'stale']);
        const portfolio = (await store.getPortfolio('alice'))!;
        expect(portfolio).toMatchObject({ cash: '900.1', reservedCash: '0', version: 2 });
        expect((await store.listTransactions('alice', { limit: 10 })).items).toHaveLength(1);
        expect(await store.getAlert(owner, 'o1')).toStrictEqual(filled);
      });

      it('never lets an order and a market trade both have the same cash, on any instance', async () => {
        const other = await another();
        const users = Array.from({ length: 8 }, (_, i) => `racer${i}`);
        for (const u of users) await store.createAccount(account(u), '100.00');
        // Each user's $80 order and $50 market buy are placed at once, from two instances in turn.
        const outcomes = await Promise.all(users.map(async (u, i) => {
          const [a, b] = i % 2 ? [store, other] : [other, store];
          const [order, trade] = await Promise.all([
            place(a, orderRecord(`o-${u}`, u, T, {}, { reserved: '80' }), reserveCash('80')),
            b.executeTrade(u, `k-${u}`, freeBuy(`tx-${u}`, '0.001', '50000')),
          ]);
          return [order.status, trade.status];
        }));
        for (const [i, u] of users.entries()) {
          const [order, trade] = outcomes[i]!;
          expect([order, trade], u).not.toEqual(['done', 'done']);
          expect([order, trade].filter((s) => s === 'done'), u).toHaveLength(1);
          const portfolio = (await store.getPortfolio(u))!;
          expect(freeCash(portfolio).isNegative(), u).toBe(false);
          expect(portfolio).toMatchObject(order === 'done' ? { cash: '100.00', reservedCash: '80' } : { cash: '50', reservedCash: '0' });
        }
      });

      it('leaves orders out of the active alert count', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 5);
        await store.createAlert(alert('g1', broadcastOwner('telegram:-100123'), 'bitcoin', T), 5);
        await place(store, o1, reserveCash('100.00'));
        await place(store, orderRecord('b1', 'bob', T), reserveCash('100.00'));
        expect((await store.stats()).activeAlerts).toBe(2);
      });

      it('keeps an order’s terms when it is fired, re-armed or removed as an alert', async () => {
        await place(store, o1, reserveCash('100.00'));
        expect(await store.fireAlerts([firing(owner, 'o1', 1, 'cooling', T + 10)])).toEqual(new Set(['o1']));
        expect(await store.setAlertState(owner, 'o1', 2, 'armed', T + 20)).toBe(true);
        expect(await store.deleteAlert(owner, 'o1')).toBe(true);
        expect(await store.getAlert(owner, 'o1')).toMatchObject({ state: 'removed', version: 4, order: o1.order });
      });
    });

    describe('alert change feed', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '100');
      });

      it('reports creations, firings and removals made through another instance, and nothing new after', async () => {
        const other = await another();
        const start = await store.alertChangeCursor();
        const quiet = await drainChanges(store, start);
        expect(quiet.latest.size).toBe(0);

        await other.createAlert(alert('a1', 'alice', 'bitcoin', T), 10);
        await other.createAlert(alert('a2', 'alice', 'ethereum', T + 1), 10);
        await other.createAlert(alert('g1', broadcastOwner('discord:G1:C1'), 'bitcoin', T + 2), 10);
        await other.fireAlerts([firing('alice', 'a1', 1, 'fired', T + 10)]);
        await other.deleteAlert('alice', 'a2');

        const seen = await drainChanges(store, quiet.cursor);
        expect([...seen.latest.keys()].sort()).toEqual(['a1', 'a2', 'g1']);
        expect(seen.latest.get('a1')).toStrictEqual(alert('a1', 'alice', 'bitcoin', T, { state: 'fired', version: 2, fireCount: 1, firedAt: T + 10, updatedAt: T + 10 }));
        expect(seen.latest.get('a2')).toMatchObject({ state: 'removed', version: 2 });
        expect(seen.latest.get('g1')).toStrictEqual(alert('g1', broadcastOwner('discord:G1:C1'), 'bitcoin', T + 2));

        // Nothing changed: nothing new (a store may repeat what it reported, never newer).
        const again = await store.listAlertChanges(seen.cursor);
        for (const a of again.alerts) expect(a.version).toBeLessThanOrEqual(seen.latest.get(a.alertId)!.version);

        // A later change comes through from the last cursor, alone.
        await other.setAlertState(broadcastOwner('discord:G1:C1'), 'g1', 1, 'expired', T + 20);
        const later = await drainChanges(store, again.cursor);
        expect([...later.latest.values()].filter((a) => a.version > (seen.latest.get(a.alertId)?.version ?? 0)))
          .toMatchObject([{ alertId: 'g1', state: 'expired', version: 2 }]);
      });

      it('a cursor taken before listing live alerts misses nothing written after it', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 100);
        const cursor = await store.alertChangeCursor();
        const built = (await pages((p) => store.listLiveAlerts(p), 50)).flat();
        const other = await another();
        await other.createAlert(alert('a2', 'alice', 'bitcoin', T + 1), 100);
        const changes = await drainChanges(store, cursor);
        expect(built.map((a) => a.alertId)).toEqual(['a1']);
        expect(changes.latest.has('a2')).toBe(true);
      });

      it('follows a long run of changes to the end', async () => {
        const cursor = await store.alertChangeCursor();
        for (let i = 0; i < 60; i++) await store.createAlert(alert(`c${i}`, 'alice', 'bitcoin', T + i), 1000);
        await store.fireAlerts(Array.from({ length: 30 }, (_, i) => firing('alice', `c${i * 2}`, 1, 'fired', T + 100)));
        const { latest } = await drainChanges(store, cursor);
        expect(latest.size).toBe(60);
        for (let i = 0; i < 60; i++) expect(latest.get(`c${i}`)?.state).toBe(i % 2 ? 'armed' : 'fired');
      });
    });

    describe('firing alerts', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '100', identity('telegram:1', 'alice'));
        await store.createAccount(account('bob'), '100');
      });

      it('claims live alerts at their version, moves them on and queues their messages', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 10);
        await store.createAlert(alert('r1', 'alice', 'bitcoin', T, { repeatMs: 60_000 }), 10);
        const chat = outboxMessage('alert:a1:1:user:telegram:1');
        const email = emailMessage('alert:a1:1:email:alice', { email: { subject: 'BTC above', body: 'Bitcoin is now $100,000.51.' } });
        const repeat = outboxMessage('alert:r1:1:user:telegram:1');
        const claimed = await store.fireAlerts([
          firing('alice', 'a1', 1, 'fired', T + 10, [chat, email]),
          firing('alice', 'r1', 1, 'cooling', T + 10, [repeat]),
        ]);
        expect(claimed).toEqual(new Set(['a1', 'r1']));
        expect(await store.getAlert('alice', 'a1')).toStrictEqual(
          alert('a1', 'alice', 'bitcoin', T, { state: 'fired', firedAt: T + 10, fireCount: 1, version: 2, updatedAt: T + 10 }),
        );
        expect(await store.getAlert('alice', 'r1')).toMatchObject({ state: 'cooling', firedAt: T + 10, fireCount: 1, version: 2 });
        for (const m of [chat, email, repeat]) expect(await store.getOutboxMessage(m.id)).toStrictEqual(m);
        expect(await store.fireAlerts([])).toEqual(new Set());
      });

      it('fails a claim at a stale version, of an alert no longer live or of nobody’s, queuing none of its messages', async () => {
        await store.createAlert(alert('a1', 'alice', 'bitcoin', T), 10);
        await store.createAlert(alert('a2', 'alice', 'bitcoin', T), 10);
        await store.createAlert(alert('a3', 'alice', 'bitcoin', T), 10);
        await store.deleteAlert('alice', 'a2'); // version 2, removed
        await store.fireAlerts([firing('alice', 'a3', 1, 'fired', T + 5)]); // version 2, fired

        const claimed = await store.fireAlerts([
          firing('alice', 'a1', 1, 'fired', T + 10, [outboxMessage('m-good')]),
          firing('alice', 'a1', 1, 'fired', T + 10, [outboxMessage('m-twice')]), // the same claim again in one batch
          firing('alice', 'a2', 2, 'fired', T + 10, [outboxMessage('m-removed')]),
          firing('alice', 'a3', 2, 'cooling', T + 10, [outboxMessage('m-fired')]),
          firing('bob', 'a1', 1, 'fired', T + 10, [outboxMessage('m-not-his')]),
          firing('alice', 'nope', 1, 'fired', T + 10, [outboxMessage('m-unknown')]),
        ]);
        expect(claimed).toEqual(new Set(['a1']));
        expect(await store.getOutboxMessage('m-good')).not.toBeNull();
        for (const id of ['m-twice', 'm-removed', 'm-fired', 'm-not-his', 'm-unknown']) expect(await store.getOutboxMessage(id)).toBeNull();
        expect(await store.getAlert('alice', 'a1')).toMatchObject({ state: 'fired', version: 2, fireCount: 1 });

        // Stale: the version it was claimed at is gone.
        expect(await store.fireAlerts([firing('alice', 'a1', 1, 'fired', T + 20, [outboxMessage('m-stale')])])).toEqual(new Set());
        expect(await store.getOutboxMessage('m-stale')).toBeNull();
        expect(await store.getAlert('alice', 'a1')).toMatchObject({ firedAt: T + 10, version: 2, fireCount: 1 });
        expect(await store.getAlert('alice', 'a2')).toMatchObject({ state: 'removed', version: 2, fireCount: 0 });
      });

      it('fires a repeating alert again once re-armed, counting its firings', async () => {
        await store.createAlert(alert('r1', 'alice', 'bitcoin', T, { repeatMs: 60_000 }), 10);
        await store.fireAlerts([firing('alice', 'r1', 1, 'cooling', T + 10)]);
        expect(await store.fireAlerts([firing('alice', 'r1', 2, 'cooling', T + 20)])).toEqual(new Set(['r1'])); // cooling is live
        await store.setAlertState('alice', 'r1', 3, 'armed', T + 70_000);
        expect(await store.fireAlerts([firing('alice', 'r1', 4, 'cooling', T + 80_000)])).toEqual(new Set(['r1']));
        expect(await store.getAlert('alice', 'r1')).toMatchObject({ state: 'cooling', version: 5, fireCount: 3, firedAt: T + 80_000 });
      });

      it('claims each alert for exactly one of two racing instances, and queues its messages once', async () => {
        const other = await another();
        const ids = Array.from({ length: 40 }, (_, i) => `race${i}`);
        for (const [i, id] of ids.entries()) await store.createAlert(alert(id, i % 2 ? 'alice' : broadcastOwner('telegram:-100123'), 'bitcoin', T + i), 100);
        const owner = (id: string) => (Number(id.slice(4)) % 2 ? 'alice' : broadcastOwner('telegram:-100123'));
        // Each instance claims everything, in batches of different sizes and orders, all at once.
        const attempt = (instance: Store, tag: string, order: string[], size: number) => {
          const batches: Promise<Set<string>>[] = [];
          for (let i = 0; i < order.length; i += size) {
            batches.push(instance.fireAlerts(order.slice(i, i + size).map((id) =>
              firing(owner(id), id, 1, 'fired', T + 100, [outboxMessage(`alert:${id}:1:chat:telegram:-100123`, { kind: 'broadcast', message: { tone: 'info', text: tag } })]))));
          }
          return Promise.all(batches).then((sets) => sets.flatMap((s) => [...s]));
        };
        const [byStore, byOther] = await Promise.all([attempt(store, 'store', ids, 7), attempt(other, 'other', [...ids].reverse(), 5)]);
        expect(byStore.length + byOther.length).toBe(ids.length);
        expect(new Set([...byStore, ...byOther])).toEqual(new Set(ids));
        for (const id of ids) {
          expect((await store.getOutboxMessage(`alert:${id}:1:chat:telegram:-100123`))?.message?.text).toBe(byStore.includes(id) ? 'store' : 'other');
          expect(await other.getAlert(owner(id), id)).toMatchObject({ state: 'fired', fireCount: 1, version: 2 });
        }
        const queued = await store.leaseOutbox(T + 1000, 1000, 60_000);
        expect(queued.map((m) => m.id).sort()).toEqual(ids.map((id) => `alert:${id}:1:chat:telegram:-100123`).sort());
      });
    });

    describe('outbox', () => {
      it('queues a message once, keeping the first when its id is queued again', async () => {
        const first = outboxMessage('m1');
        await store.enqueueMessages([first]);
        await store.enqueueMessages([outboxMessage('m1', { message: { tone: 'info', text: 'a second copy' } }), outboxMessage('m2')]);
        await store.enqueueMessages([]);
        expect(await store.getOutboxMessage('m1')).toStrictEqual(first);
        expect(await store.getOutboxMessage('m2')).toStrictEqual(outboxMessage('m2'));
        expect(await store.getOutboxMessage('never')).toBeNull();
        expect(await store.leaseOutbox(T, 10, 1000)).toHaveLength(2);
      });

      it('keeps every kind of message exactly as written', async () => {
        const rich = outboxMessage('m-rich', {
          kind: 'digest',
          message: { tone: 'success', title: 'Daily digest', fields: [{ label: 'Value', value: '$1,234.56' }], table: { columns: ['Coin', 'Price'], rows: [['BTC', '$100,000.50']] }, buttons: [{ label: 'Portfolio', command: '/portfolio' }], trend: 'up' },
        });
        const { username: _nobody, ...broadcast } = outboxMessage('m-group', { destination: 'chat:telegram:-100123/7', kind: 'broadcast' });
        const email = emailMessage('m-email', { kind: 'trade', email: { subject: 'Bought BTC', body: 'Line 1\nLine 2 – ünïcode' } });
        await store.enqueueMessages([rich, broadcast, email]);
        expect(await store.getOutboxMessage('m-rich')).toStrictEqual(rich);
        expect(await store.getOutboxMessage('m-group')).toStrictEqual(broadcast);
        expect(await store.getOutboxMessage('m-email')).toStrictEqual(email);
      });

      it('leases due messages oldest due first, up to the limit, each to one caller while held', async () => {
        await store.enqueueMessages([
          outboxMessage('m1', { dueAt: T + 30 }),
          outboxMessage('m2', { dueAt: T + 10 }),
          outboxMessage('m3', { dueAt: T + 20 }),
          outboxMessage('m4', { dueAt: T + 1000 }),
        ]);
        const other = await another();
        expect(await store.leaseOutbox(T + 100, 2, 60_000)).toStrictEqual([
          { ...outboxMessage('m2', { dueAt: T + 10 }), leaseUntil: T + 60_100 },
          { ...outboxMessage('m3', { dueAt: T + 20 }), leaseUntil: T + 60_100 },
        ]);
        expect((await other.leaseOutbox(T + 100, 10, 60_000)).map((m) => m.id)).toEqual(['m1']);
        expect(await store.leaseOutbox(T + 200, 10, 60_000)).toEqual([]); // m4 is not due, the rest are held
        expect((await store.getOutboxMessage('m2'))?.leaseUntil).toBe(T + 60_100);
        expect((await other.leaseOutbox(T + 1000, 10, 60_000)).map((m) => m.id)).toEqual(['m4']);
      });

      it('leases a message again once its lease has run out, as after a crash', async () => {
        await store.enqueueMessages([outboxMessage('m1')]);
        expect(await store.leaseOutbox(T, 10, 1000)).toHaveLength(1);
        // The worker holding it died: nobody settles it.
        const other = await another();
        expect(await other.leaseOutbox(T + 999, 10, 1000)).toEqual([]);
        expect(await other.leaseOutbox(T + 1000, 10, 1000)).toStrictEqual([{ ...outboxMessage('m1'), leaseUntil: T + 2000 }]);
      });

      it('never hands one message to two instances leasing at once', async () => {
        const other = await another();
        const ids = Array.from({ length: 50 }, (_, i) => `m${String(i).padStart(2, '0')}`);
        await store.enqueueMessages(ids.map((id, i) => outboxMessage(id, { dueAt: T + i })));
        const handed: string[] = [];
        for (let round = 0; round < 20 && handed.length < ids.length; round++) {
          const leased = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).leaseOutbox(T + 100, 4, 60_000)));
          handed.push(...leased.flat().map((m) => m.id));
        }
        expect(handed.length).toBe(new Set(handed).size);
        expect([...handed].sort()).toEqual(ids);
      });

      it('settles: delivered and failed are done, a retry comes back when due with one attempt more', async () => {
        await store.enqueueMessages([outboxMessage('m1'), outboxMessage('m2'), outboxMessage('m3')]);
        expect(await store.leaseOutbox(T, 10, 60_000)).toHaveLength(3);

        await store.settleOutbox('m1', { status: 'delivered', at: T + 5 });
        await store.settleOutbox('m2', { status: 'retry', dueAt: T + 500, error: 'Too Many Requests' });
        await store.settleOutbox('m3', { status: 'failed', at: T + 6, error: 'The bot was blocked by the user' });

        const delivered = (await store.getOutboxMessage('m1'))!;
        expect(delivered).toMatchObject({ status: 'delivered', settledAt: T + 5 });
        expect(delivered.leaseUntil).toBeUndefined();
        const retried = (await store.getOutboxMessage('m2'))!;
        expect(retried).toStrictEqual({ ...outboxMessage('m2'), dueAt: T + 500, attempts: 1, error: 'Too Many Requests' });
        const failed = (await store.getOutboxMessage('m3'))!;
        expect(failed).toMatchObject({ status: 'failed', settledAt: T + 6, error: 'The bot was blocked by the user' });
        expect(failed.leaseUntil).toBeUndefined();

        // The retry's lease was released: it comes back when due, not when the lease would have ended.
        expect(await store.leaseOutbox(T + 499, 10, 60_000)).toEqual([]);
        expect((await store.leaseOutbox(T + 500, 10, 60_000)).map((m) => m.id)).toEqual(['m2']);
        await store.settleOutbox('m2', { status: 'retry', dueAt: T + 900, error: 'Bad Gateway' });
        expect(await store.getOutboxMessage('m2')).toMatchObject({ attempts: 2, error: 'Bad Gateway', status: 'pending' });
        // Settled ones never come back.
        expect((await store.leaseOutbox(T + 1_000_000, 10, 60_000)).map((m) => m.id)).toEqual(['m2']);
      });

      it('prunes delivered and failed messages settled before the cutoff, never pending ones', async () => {
        await store.enqueueMessages(['m1', 'm2', 'm3', 'm4'].map((id) => outboxMessage(id)));
        await store.settleOutbox('m1', { status: 'delivered', at: T + 10 });
        await store.settleOutbox('m2', { status: 'failed', at: T + 20, error: 'gone' });
        await store.settleOutbox('m3', { status: 'delivered', at: T + 1000 });
        expect(await store.pruneOutbox(T + 500)).toBe(2);
        expect(await store.getOutboxMessage('m1')).toBeNull();
        expect(await store.getOutboxMessage('m2')).toBeNull();
        expect((await store.getOutboxMessage('m3'))?.status).toBe('delivered');
        expect((await store.getOutboxMessage('m4'))?.status).toBe('pending');
        expect(await store.pruneOutbox(T + 1_000_000)).toBe(1);
        expect(await store.getOutboxMessage('m4')).not.toBeNull();
      });
    });

    describe('chat states', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '100', identity('telegram:1', 'alice'));
      });

      it('marks a direct chat unreachable on the identity and in its chat state, for every instance, and clears both', async () => {
        const other = await another();
        expect((await store.getChatStates(['telegram:1'])).get('telegram:1')?.unreachableSince).toBeUndefined();

        await store.markUnreachable('telegram:1', 'Forbidden: bot was blocked by the user', T + 5);
        expect(await other.findIdentity('telegram:1')).toStrictEqual({ ...identity('telegram:1', 'alice'), unreachableSince: T + 5 });
        expect(await other.listIdentities('alice')).toStrictEqual([{ ...identity('telegram:1', 'alice'), unreachableSince: T + 5 }]);
        expect((await other.getChatStates(['telegram:1'])).get('telegram:1')).toMatchObject({
          address: 'telegram:1', unreachableSince: T + 5, unreachableReason: 'Forbidden: bot was blocked by the user',
        });

        await other.clearUnreachable('telegram:1');
        expect(await store.findIdentity('telegram:1')).toStrictEqual(identity('telegram:1', 'alice'));
        const cleared = (await store.getChatStates(['telegram:1'])).get('telegram:1');
        expect(cleared?.unreachableSince).toBeUndefined();
        expect(cleared?.unreachableReason).toBeUndefined();
      });

      it('keeps a group’s unreachable mark and its paused broadcasts apart, and only for chats that have a state', async () => {
        const group = 'telegram:-100123';
        expect((await store.getChatStates([group])).size).toBe(0);
        await store.setBroadcastsPaused(group, true);
        expect((await store.getChatStates([group])).get(group)).toMatchObject({ address: group, broadcastsPaused: true });
        expect((await store.getChatStates([group])).get(group)?.unreachableSince).toBeUndefined();

        await store.markUnreachable(group, 'bot was kicked from the group', T + 7);
        await store.markUnreachable('discord:C42', 'Missing Access', T + 8);
        const states = await store.getChatStates([group, 'discord:C42', 'slack:T1:C9', 'telegram:1']);
        expect(states.get(group)).toMatchObject({ broadcastsPaused: true, unreachableSince: T + 7, unreachableReason: 'bot was kicked from the group' });
        expect(states.get('discord:C42')).toMatchObject({ address: 'discord:C42', unreachableSince: T + 8 });
        expect(states.get('discord:C42')?.broadcastsPaused).toBeFalsy();
        expect(states.has('slack:T1:C9')).toBe(false);
        expect(states.get('telegram:1')?.unreachableSince).toBeUndefined();
        expect(await store.findIdentity('telegram:1')).toStrictEqual(identity('telegram:1', 'alice'));

        await store.clearUnreachable(group);
        expect((await store.getChatStates([group])).get(group)).toMatchObject({ broadcastsPaused: true });
        await store.setBroadcastsPaused(group, false);
        expect((await store.getChatStates([group])).get(group)?.broadcastsPaused).toBeFalsy();
        expect((await store.getChatStates([])).size).toBe(0);
        await store.clearUnreachable('never-marked'); // nothing to clear: no error
      });
    });

    describe('housekeeping', () => {
      it('prunes expired link codes, buttons, once-claims and attempt windows, and nothing live', async () => {
        await store.createAccount(account('alice'), '100');
        const set: ButtonSet = { buttons: [{ label: 'Next »', command: '/history 2' }] };
        await store.saveLinkCode('code-old', 'alice', T + 10);
        await store.saveLinkCode('code-live', 'alice', T + 10_000);
        await store.saveButtons('buttons-old', set, T + 10);
        await store.saveButtons('buttons-live', set, T + 10_000);
        await store.claimOnce('claim-old', T + 10);
        await store.claimOnce('claim-live', T + 10_000);
        await store.recordAttempt('attempt-old', T, 10);
        await store.recordAttempt('attempt-live', T, 10_000);

        // A store whose database expires items itself (DynamoDB's TTL) may report 0.
        expect([0, 4]).toContain(await store.pruneExpired(T + 100));
        expect(await store.getButtons('buttons-live', T + 100)).toStrictEqual({ ...set, used: false });
        expect(await store.getButtons('buttons-old', T + 100)).toBeNull();
        expect(await store.claimOnce('claim-live', T + 10_000)).toBe(false);
        expect(await store.getAttempts('attempt-live', T + 100)).toEqual({ count: 1, firstAt: T, lastAt: T });
        expect(await store.getAttempts('attempt-old', T + 100)).toBeNull();
        expect(await store.consumeLinkCode('code-old', T + 100)).toBeNull();
        expect(await store.consumeLinkCode('code-live', T + 100)).toBe('alice');
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

    describe('leases (the job leader)', () => {
      const TTL = 30_000;

      it('is exclusive while unexpired, renewed by its holder, and taken over once expired', async () => {
        const other = await another();
        expect(await store.acquireLease('jobs', 'a', T, TTL)).toBe(true);
        expect(await other.acquireLease('jobs', 'b', T + 1000, TTL)).toBe(false);
        // The holder renews: the expiry moves to T + 20 000 + TTL.
        expect(await store.acquireLease('jobs', 'a', T + 20_000, TTL)).toBe(true);
        // Past the first expiry but before the renewed one: still a's.
        expect(await other.acquireLease('jobs', 'b', T + TTL + 1, TTL)).toBe(false);
        // At the renewed expiry it is free (expiresAt <= now), and b takes it over.
        expect(await other.acquireLease('jobs', 'b', T + 20_000 + TTL, TTL)).toBe(true);
        expect(await store.acquireLease('jobs', 'a', T + 20_000 + TTL + 1, TTL)).toBe(false);
        // Leases of other names are separate.
        expect(await store.acquireLease('other-job', 'a', T + 20_000 + TTL + 1, TTL)).toBe(true);
      });

      it('is released by its holder only', async () => {
        const other = await another();
        expect(await store.acquireLease('jobs', 'a', T, TTL)).toBe(true);
        await other.releaseLease('jobs', 'b'); // not b's: nothing happens
        expect(await other.acquireLease('jobs', 'b', T + 1, TTL)).toBe(false);
        await store.releaseLease('jobs', 'a');
        expect(await other.acquireLease('jobs', 'b', T + 2, TTL)).toBe(true);
        await store.releaseLease('jobs', 'a'); // a late release after the takeover frees nothing
        expect(await store.acquireLease('jobs', 'a', T + 3, TTL)).toBe(false);
        await store.releaseLease('never-held', 'a'); // no error
      });

      it('gives a raced lease to exactly one instance', async () => {
        const others = [await another(), await another()];
        const results = await Promise.all([store, ...others].map((s, i) => s.acquireLease('jobs', `holder-${i}`, T, TTL)));
        expect(results.filter(Boolean)).toHaveLength(1);
        // And a raced takeover of an expired lease too.
        const later = await Promise.all([store, ...others].map((s, i) => s.acquireLease('jobs', `late-${i}`, T + TTL, TTL)));
        expect(later.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('published prices', () => {
      it('has none until published, then round-trips the latest snapshot exactly, for every instance', async () => {
        const other = await another();
        expect(await store.readQuotes()).toBeNull();
        const snapshot = {
          quotes: [
            { coinId: 'bitcoin', price: '97123.456789012345678901', change24hPercent: '-1.25', receivedAt: T, simulated: false },
            { coinId: 'pepe', price: '0.00000912', change24hPercent: null, receivedAt: T - 5000, simulated: false },
          ],
          rates: { rates: { usd: '1', eur: '0.9231', jpy: '151.2' }, simulated: false },
          source: { active: 'Binance', standingInFor: { source: 'CoinGecko', since: T - 60_000 } },
          at: T + 10,
        };
        await store.publishQuotes(snapshot);
        expect(await other.readQuotes()).toEqual(snapshot);
        const next = { quotes: [{ ...snapshot.quotes[0]!, price: '98000', receivedAt: T + 30_000 }], rates: { rates: { usd: '1' }, simulated: true }, source: { active: 'CoinGecko' }, at: T + 30_010 };
        await other.publishQuotes(next);
        expect(await store.readQuotes()).toEqual(next);
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
        await store.fireAlerts([firing('bob', 'a3', 1, 'fired', T + 1)]);
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

    describe('watchlist', () => {
      beforeEach(async () => {
        await store.createAccount(account('alice'), '10000');
        await store.createAccount(account('bob'), '10000');
      });

      it('adds coins once, lists them sorted, and keeps each user\'s list apart', async () => {
        expect(await store.getWatchlist('alice')).toEqual([]);
        expect(await store.addToWatchlist('alice', 'solana', 25)).toBe('added');
        expect(await store.addToWatchlist('alice', 'bitcoin', 25)).toBe('added');
        expect(await store.addToWatchlist('alice', 'bitcoin', 25)).toBe('exists');
        expect(await store.addToWatchlist('bob', 'ethereum', 25)).toBe('added');
        expect(await store.getWatchlist('alice')).toEqual(['bitcoin', 'solana']);
        expect(await (await another()).getWatchlist('bob')).toEqual(['ethereum']);
      });

      it('refuses a coin past the limit, but still says a listed coin exists', async () => {
        expect(await store.addToWatchlist('alice', 'bitcoin', 2)).toBe('added');
        expect(await store.addToWatchlist('alice', 'ethereum', 2)).toBe('added');
        expect(await store.addToWatchlist('alice', 'solana', 2)).toBe('limit');
        expect(await store.addToWatchlist('alice', 'bitcoin', 2)).toBe('exists');
        expect(await store.getWatchlist('alice')).toEqual(['bitcoin', 'ethereum']);
      });

      it('removes a coin once, after which there is room again', async () => {
        await store.addToWatchlist('alice', 'bitcoin', 1);
        expect(await store.removeFromWatchlist('alice', 'ethereum')).toBe(false);
        expect(await store.removeFromWatchlist('bob', 'bitcoin')).toBe(false);
        const results = await Promise.all([store.removeFromWatchlist('alice', 'bitcoin'), store.removeFromWatchlist('alice', 'bitcoin')]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.getWatchlist('alice')).toEqual([]);
        expect(await store.addToWatchlist('alice', 'solana', 1)).toBe('added');
        expect(await store.getWatchlist('alice')).toEqual(['solana']);
      });

      it('never exceeds the limit when adds race across instances', async () => {
        const other = await another();
        const coins = DEFAULT_COINS.slice(0, 12).map((c) => c.id);
        const outcomes = await Promise.all(coins.map((coinId, i) => (i % 2 ? other : store).addToWatchlist('alice', coinId, 5)));
        expect(outcomes.filter((o) => o === 'added')).toHaveLength(5);
        expect(outcomes.filter((o) => o === 'limit')).toHaveLength(7);
        const list = await store.getWatchlist('alice');
        expect(list).toHaveLength(5);
        expect(list).toEqual([...list].sort());
      });

      it('keeps the list through account updates', async () => {
        await store.addToWatchlist('alice', 'bitcoin', 25);
        await store.updateAccount('alice', { currency: 'eur', timezone: 'Europe/Paris' });
        expect(await store.getWatchlist('alice')).toEqual(['bitcoin']);
        expect((await store.getAccount('alice'))?.currency).toBe('eur');
      });
    });

    describe('portfolio snapshots, chat members and the leaderboard opt-in', () => {
      const snapshot = (username: string, day: string, value: string, at = T) => ({ username, day, value, at });

      it('replaces a user\'s snapshot of the same day, and lists from a day on, oldest first', async () => {
        await store.savePortfolioSnapshots([snapshot('alice', '2026-11-03', '10500.25'), snapshot('alice', '2026-11-01', '10000.00'), snapshot('bob', '2026-11-02', '9000')]);
        await store.savePortfolioSnapshots([snapshot('alice', '2026-11-02', '10100.10'), snapshot('alice', '2026-11-03', '10600.75', T + 1)]);
        // Exact strings back, the replaced day's value and time with them; another user's kept apart.
        expect(await store.listPortfolioSnapshots('alice', '2026-11-02')).toEqual([
          snapshot('alice', '2026-11-02', '10100.10'), snapshot('alice', '2026-11-03', '10600.75', T + 1),
        ]);
        expect((await (await another()).listPortfolioSnapshots('alice', '2000-01-01')).map((s) => s.day)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03']);
        expect(await store.listPortfolioSnapshots('bob', '2026-11-03')).toEqual([]);
        expect(await store.listPortfolioSnapshots('carol', '2000-01-01')).toEqual([]);
        await store.savePortfolioSnapshots([]);
      });

      it('records chat members idempotently and lists them sorted, per chat', async () => {
        await store.recordChatMember('telegram:-100', 'carol', T);
        await store.recordChatMember('telegram:-100', 'alice', T + 1);
        await store.recordChatMember('telegram:-100', 'carol', T + 2);
        await store.recordChatMember('telegram:-100', 'carol', T);
        await store.recordChatMember('discord:55', 'bob', T);
        expect(await store.listChatMembers('telegram:-100')).toEqual(['alice', 'carol']);
        expect(await (await another()).listChatMembers('discord:55')).toEqual(['bob']);
        expect(await store.listChatMembers('slack:T1:C1')).toEqual([]);
      });

      it('round-trips the leaderboard opt-in: absent until chosen, then on and off', async () => {
        await store.createAccount(account('alice'), '10000');
        await store.createAccount(account('bob', { leaderboard: true }), '10000');
        expect((await store.getAccount('alice'))?.leaderboard).toBeUndefined();
        expect((await store.getAccount('bob'))?.leaderboard).toBe(true);
        expect((await store.updateAccount('alice', { leaderboard: true }))?.leaderboard).toBe(true);
        expect((await (await another()).getAccount('alice'))?.leaderboard).toBe(true);
        await store.updateAccount('alice', { currency: 'eur' });
        expect((await store.listAccounts({ limit: 10 })).items.map((a) => [a.username, a.leaderboard])).toEqual([['alice', true], ['bob', true]]);
        expect((await store.updateAccount('alice', { leaderboard: false }))?.leaderboard).toBe(false);
        expect((await store.getAccounts(['alice'])).get('alice')?.leaderboard).toBe(false);
      });
    });
  });
}
