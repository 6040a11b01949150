/**
 * Helpers for the order concurrency and property tests (test/orders-concurrency.test.ts,
 * test/orders-property.test.ts): the money invariants of a user's book, a second bot instance on
 * the same store, and a gate that holds store calls back until their rivals have arrived, so a
 * race is really run rather than hoped for.
 */
import type { Core } from '../../core/app';
import { createCore, DEFAULT_CORE_CONFIG } from '../../core/app';
import type { CoreConfig } from '../../core/context';
import { isLiveAlert, orderOwner, type PriceAlert, type Transaction } from '../../core/domain';
import type { DispatchResult } from '../../core/dispatcher';
import { renderPlainText } from '../../core/messages';
import { Dec, ZERO, dec } from '../../core/money';
import type { Store } from '../../core/ports';
import { replayLedger } from '../../core/trading';
import { BcryptPasswords } from '../../infra/support/system';
import { countingIds, silentLogger, type TestBot } from './harness';

export async function allTransactions(store: Store, username: string): Promise<Transaction[]> {
  const items: Transaction[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTransactions(username, { limit: 100, cursor });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

export async function ordersOf(store: Store, username: string): Promise<PriceAlert[]> {
  return (await store.listAlerts(orderOwner(username))).filter((a) => a.order);
}

/**
 * What must hold for a user's money at any moment, as a list of violations (empty: all is well):
 * cash and quantities are what the ledger replays to; the cash held equals what the open buy
 * orders hold, each coin held equals what its open sell orders hold; nothing is negative and no
 * more is held than there is; each filled order has exactly one transaction, and no other order
 * has any.
 */
export async function bookViolations(store: Store, username: string, startBalance: string): Promise<string[]> {
  const problems: string[] = [];
  const portfolio = await store.getPortfolio(username);
  if (!portfolio) return [`${username} has no portfolio`];
  const transactions = await allTransactions(store, username);
  const orders = await ordersOf(store, username);
  const ledger = replayLedger(startBalance, transactions);

  const cash = dec(portfolio.cash);
  const reservedCash = dec(portfolio.reservedCash ?? '0');
  if (!cash.eq(ledger.cash)) problems.push(`cash ${cash.toFixed()} but the ledger replays to ${ledger.cash.toFixed()}`);
  if (cash.lt(0)) problems.push(`cash is negative: ${cash.toFixed()}`);
  if (reservedCash.lt(0)) problems.push(`reserved cash is negative: ${reservedCash.toFixed()}`);
  if (cash.minus(reservedCash).lt(0)) problems.push(`free cash is negative: ${cash.toFixed()} - ${reservedCash.toFixed()} held`);

  const live = orders.filter((o) => isLiveAlert(o.state));
  const sum = (list: PriceAlert[]) => list.reduce((total, o) => total.plus(o.order!.reserved), ZERO);
  const buysHold = sum(live.filter((o) => o.order!.side === 'buy'));
  if (!reservedCash.eq(buysHold)) problems.push(`reserved cash ${reservedCash.toFixed()} but open buy orders hold ${buysHold.toFixed()}`);

  const coins = new Set([...Object.keys(portfolio.holdings), ...ledger.holdings.keys(), ...live.filter((o) => o.order!.side === 'sell').map((o) => o.coinId)]);
  for (const coin of coins) {
    const holding = portfolio.holdings[coin];
    const quantity = dec(holding?.quantity ?? '0');
    const reserved = dec(holding?.reserved ?? '0');
    const replayed = ledger.holdings.get(coin) ?? ZERO;
    if (!quantity.eq(replayed)) problems.push(`${coin}: quantity ${quantity.toFixed()} but the ledger replays to ${replayed.toFixed()}`);
    if (quantity.lt(0) || reserved.lt(0)) problems.push(`${coin}: negative quantity ${quantity.toFixed()} or hold ${reserved.toFixed()}`);
    if (reserved.gt(quantity)) problems.push(`${coin}: ${reserved.toFixed()} held of ${quantity.toFixed()}`);
    const sellsHold = sum(live.filter((o) => o.order!.side === 'sell' && o.coinId === coin));
    if (!reserved.eq(sellsHold)) problems.push(`${coin}: ${reserved.toFixed()} held but open sell orders hold ${sellsHold.toFixed()}`);
  }

  const fills = new Map<string, number>();
  for (const t of transactions) if (t.orderId) fills.set(t.orderId, (fills.get(t.orderId) ?? 0) + 1);
  for (const o of orders) {
    const count = fills.get(o.alertId) ?? 0;
    fills.delete(o.alertId);
    if (o.state === 'fired' && count !== 1) problems.push(`order ${o.alertId} is filled with ${count} transactions`);
    if (o.state === 'fired' && o.order!.transactionId && !transactions.some((t) => t.transactionId === o.order!.transactionId)) {
      problems.push(`order ${o.alertId} names transaction ${o.order!.transactionId}, which is not in the ledger`);
    }
    if (o.state !== 'fired' && count !== 0) problems.push(`order ${o.alertId} is ${o.state} but has ${count} transactions`);
  }
  for (const [id, count] of fills) problems.push(`${count} transactions of order ${id}, which ${username} does not have`);
  return problems;
}

/** Free cash: what a market purchase may spend. */
export async function freeCashOf(store: Store, username: string): Promise<Dec> {
  const p = (await store.getPortfolio(username))!;
  return dec(p.cash).minus(p.reservedCash ?? '0');
}

/** A second bot instance: its own core (and ids) on `store`, sharing the first's clock, prices and
 *  email stand-in, and a way to send it messages as a console user. */
export function secondInstance(first: TestBot, store: Store, config: Partial<CoreConfig> = {}) {
  const core: Core = createCore({
    store, prices: first.feed, notifier: first.notifier, passwords: new BcryptPasswords(4),
    clock: first.clock, ids: countingIds('second'), logger: silentLogger,
    config: { ...DEFAULT_CORE_CONFIG, spreadBps: '0', slippageBpsPer10k: '0', ...config },
  });
  let sequence = 0;
  const dispatch = (user: string, text: string): Promise<DispatchResult> => core.dispatcher.dispatch({
    identity: { platform: 'console', userId: user }, chat: { type: 'private', id: `console:${user}` }, text, messageId: `second-${++sequence}`,
  });
  return { core, say: async (user: string, text: string) => renderPlainText((await dispatch(user, text)).message) };
}

type GatedMethod = 'changeOrder' | 'executeTrade';

/**
 * Holds back store calls until all the calls of a race have arrived, then lets them all go at once:
 * `expect(key, n)` says that n calls will come for key; `keyOf` names the key of a call (or
 * undefined: not held). Without it, one instance might finish before the other starts and the
 * test would pass without any race. A call still waiting after `guardMs` is let go (and recorded
 * in `unmet`) so that a test whose race did not happen fails on that instead of hanging.
 */
export class Gate {
  private readonly waiting = new Map<string, { need: number; arrived: number; open: () => void; opened: Promise<void> }>();
  readonly unmet: string[] = [];
  constructor(private readonly keyOf: (method: GatedMethod, args: unknown[]) => string | undefined, private readonly guardMs = 10_000) {}

  expect(key: string, calls: number): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.waiting.set(key, { need: calls, arrived: 0, open, opened });
  }

  async pass(method: GatedMethod, args: unknown[]): Promise<void> {
    const key = this.keyOf(method, args);
    const race = key === undefined ? undefined : this.waiting.get(key);
    if (!race) return;
    if (++race.arrived >= race.need) {
      this.waiting.delete(key!);
      race.open();
      return;
    }
    const guard = setTimeout(() => {
      if (this.waiting.get(key!) === race) {
        this.unmet.push(`${key}: ${race.arrived} of ${race.need} calls`);
        this.waiting.delete(key!);
        race.open();
      }
    }, this.guardMs);
    guard.unref();
    await race.opened;
    clearTimeout(guard);
  }
}

/** The store, with its trades and order changes going through the gate first. */
export function gated(store: Store, gate: Gate): Store {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'changeOrder' || property === 'executeTrade') {
        return async (...args: unknown[]) => {
          await gate.pass(property, args);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** A gate key for a call: the account it is for (both methods take the username first). */
export const byUser = (_method: GatedMethod, args: unknown[]) => args[0] as string;

/** A gate key for fills only: `fill:<order id>` (a change that moves the order to fired). */
export const byFilledOrder = (method: GatedMethod, args: unknown[]) => {
  const change = args[1] as { order?: PriceAlert } | undefined;
  return method === 'changeOrder' && change?.order?.state === 'fired' ? `fill:${change.order.alertId}` : undefined;
};
