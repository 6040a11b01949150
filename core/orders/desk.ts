/**
 * Fills and ends open orders for the alert engine (core/alerts/engine.ts), which matches them with
 * the alerts: an order is a one-shot threshold in the same index (see OrderTerms).
 *
 * Each fill is one Store.changeOrder: the order moves from armed to fired at the version the
 * matcher saw, the trade is written with the order id as its idempotency key, the hold is
 * released, and the owner's messages are queued, all in one atomic step. When several instances
 * match the same prices, exactly one of them fills an order; the others find it stale and take
 * the store's copy. An order that can no longer fill (its coin is no longer tracked, a stop buy
 * whose price gapped past the cash) ends, its hold released, and its owner is told why.
 */
import type { Services } from '../context';
import type { Account, Coin, LinkedIdentity, PriceAlert, Quote } from '../domain';
import { usernameOfOrderOwner } from '../domain';
import { eachLimited } from '../each-limited';
import { formatMoney, formatPrice, moneyView, type MoneyView } from '../format';
import { dec } from '../money';
import { userDestinations } from '../notifications/destinations';
import type { PortfolioPlan, TradePlan } from '../ports';
import type { AlertMatcher } from '../alerts/matcher';
import { fillPlan, orderFillPrice, releasePlan } from './rules';
import { endedEmail, endedMessage, fillEmail, fillMessage, orderMessages } from './views';

/** Order steps in flight at once (each is one atomic store write). */
const CONCURRENCY = 16;

export interface DeskReport {
  filled: number;
  /** Ended without a fill: expired, coin gone, or no longer fillable. */
  ended: number;
  /** Filled or changed by another instance first. */
  lost: number;
}

interface Owner {
  account: Account;
  identities: LinkedIdentity[];
}

export class OrderDesk {
  constructor(
    private readonly services: Services,
    private readonly matcher: AlertMatcher,
  ) {}

  /** Fills the orders whose prices were reached, each at its own fill price. */
  async fill(batch: Array<{ order: PriceAlert; coin: Coin; quote: Quote }>, now: number): Promise<DeskReport> {
    const report: DeskReport = { filled: 0, ended: 0, lost: 0 };
    const owners = await this.ownersOf(batch.map((b) => b.order));
    await eachLimited(batch, CONCURRENCY, async ({ order, coin, quote }) => {
      const owner = owners.get(usernameOfOrderOwner(order.username)!);
      if (!owner) return; // the account is gone; nothing can fill for it
      const outcome = await this.fillOne(order, coin, quote, owner, now);
      report[outcome]++;
    });
    return report;
  }

  /** Ends orders without a fill: `expired` when their time is up, `removed` otherwise. */
  async end(orders: Array<{ order: PriceAlert; label: string }>, state: 'expired' | 'removed', why: string, now: number): Promise<DeskReport> {
    const report: DeskReport = { filled: 0, ended: 0, lost: 0 };
    const owners = await this.ownersOf(orders.map((o) => o.order));
    await eachLimited(orders, CONCURRENCY, async ({ order, label }) => {
      const owner = owners.get(usernameOfOrderOwner(order.username)!);
      if (await this.endOne(order, label, owner, state, why, now)) report.ended++;
      else report.lost++;
    });
    return report;
  }

  private async fillOne(order: PriceAlert, coin: Coin, quote: Quote, owner: Owner, now: number): Promise<keyof DeskReport> {
    const { services } = this;
    const username = owner.account.username;
    const view = this.viewOf(owner.account);
    const label = coin.symbol.toUpperCase();
    const market = dec(quote.price);
    const fill = orderFillPrice(order, market, services.config);
    const transactionId = services.ids.next();
    const filled: PriceAlert = {
      ...order, state: 'fired', firedAt: now, fireCount: order.fireCount + 1, version: order.version + 1, updatedAt: now,
      order: { ...order.order!, transactionId },
    };
    const trade = fillPlan(order, {
      transactionId, username, coinId: coin.id, coinLabel: label, price: fill.price, marketPrice: market, orderId: order.alertId,
      feePercent: dec(services.config.feePercent), timestamp: now, platform: order.order!.platform, money: (m) => formatMoney(m, view),
    });
    const destinations = this.destinationsOf(owner);
    const plan = (portfolio: Parameters<typeof trade>[0]): TradePlan => {
      const decision = trade(portfolio);
      if (!decision.ok) return decision;
      const t = decision.transaction;
      const chat = fillMessage(filled, t, view, label, quote.simulated, decision.portfolio.cash);
      return { ...decision, messages: orderMessages('filled', filled, destinations, now, chat, fillEmail(filled, t, view, label, decision.portfolio.cash)) };
    };
    const outcome = await services.store.changeOrder(username, { order: filled, expectedVersion: order.version, plan });
    if (outcome.status === 'done') {
      this.matcher.apply(filled);
      services.metrics?.tradeDone('order', order.order!.side);
      services.logger.info({ username, orderId: order.alertId, transactionId }, 'order filled');
      return 'filled';
    }
    if (outcome.status === 'rejected') {
      const why = `it could not fill at ${formatPrice(fill.price, view)}: ${outcome.reason}`;
      return (await this.endOne(order, label, owner, 'removed', why, now)) ? 'ended' : 'lost';
    }
    this.forget(order, outcome.status === 'stale' ? outcome.current : null);
    return 'lost';
  }

  /** Ends one order and releases its hold; false when it had changed (the store's copy is taken). */
  private async endOne(order: PriceAlert, label: string, owner: Owner | undefined, state: 'expired' | 'removed', why: string, now: number): Promise<boolean> {
    const username = usernameOfOrderOwner(order.username)!;
    const ended: PriceAlert = { ...order, state, version: order.version + 1, updatedAt: now, order: { ...order.order!, endReason: why } };
    const release = releasePlan(order);
    const plan = (portfolio: Parameters<typeof release>[0]): PortfolioPlan => {
      const decision = release(portfolio);
      if (!decision.ok || !owner) return decision;
      const view = this.viewOf(owner.account);
      const messages = orderMessages(state, ended, this.destinationsOf(owner), now, endedMessage(order, label, view, why), endedEmail(order, label, view, why));
      return { ...decision, messages };
    };
    const outcome = await this.services.store.changeOrder(username, { order: ended, expectedVersion: order.version, plan });
    if (outcome.status === 'done') {
      this.matcher.apply(ended);
      return true;
    }
    this.forget(order, outcome.status === 'stale' ? outcome.current : null);
    return false;
  }

  /** Takes the store's copy of an order that changed under us (or reads it when not given). */
  private forget(order: PriceAlert, current: PriceAlert | null): void {
    this.matcher.apply(current ?? { ...order, state: 'removed', version: order.version + 1 });
  }

  private viewOf(account: Account): MoneyView {
    return moneyView(account.currency, this.services.prices.fiatRates(), account.timezone);
  }

  /** A fill or an end is news the owner asked for: their direct chats, and email when on. */
  private destinationsOf(owner: Owner): string[] {
    return userDestinations(owner.account, owner.identities, { emailEnabled: this.services.notifier.enabled, kind: 'notice' });
  }

  /** The owners' accounts and identities, one batched read of each. */
  private async ownersOf(orders: PriceAlert[]): Promise<Map<string, Owner>> {
    const usernames = [...new Set(orders.map((o) => usernameOfOrderOwner(o.username)).filter((u): u is string => u !== undefined))];
    if (!usernames.length) return new Map();
    const [accounts, identities] = await Promise.all([this.services.store.getAccounts(usernames), this.services.store.listIdentitiesOf(usernames)]);
    const owners = new Map<string, Owner>();
    for (const username of usernames) {
      const account = accounts.get(username);
      if (account) owners.set(username, { account, identities: identities.get(username) ?? [] });
    }
    return owners;
  }
}
