/**
 * Fires price alerts and group broadcast rules when new prices arrive.
 *
 * The matcher (./matcher.ts) keeps every live alert in memory, indexed per coin, so a tick costs
 * work in proportion to what fires rather than to how many alerts exist. The index is built from
 * the store once (start) and kept in step by the store's change feed (sync), which also brings
 * alerts that other instances created, removed or fired.
 *
 * A tick: catch up with the change feed; hand each coin's NEW quote to the matcher; claim what
 * crossed in one batch (Store.fireAlerts: a conditional write per alert, with its outbox messages
 * in the same atomic step), so that when several instances match the same prices each alert is
 * claimed, and announced, by exactly one; re-arm repeating alerts whose cool-down is over and
 * expire the ones past their time. Delivery is the outbox worker's job (core/notifications).
 *
 * Paper orders sit in the same index (they are one-shot thresholds, see OrderTerms); what the
 * matcher finds for them goes to the order desk (core/orders/desk.ts), which fills or ends each
 * in one atomic step with its portfolio.
 */
import type { Services } from '../context';
import type { Account, ChatState, Coin, LinkedIdentity, PriceAlert, Quote } from '../domain';
import { chatOfOwner, isFresh } from '../domain';
import { moneyView } from '../format';
import { eachLimited } from '../each-limited';
import type { AlertFiring } from '../ports';
import { unreachableMark, userDestinations, withTheirGroups } from '../notifications/destinations';
import { groupView } from './describe';
import { broadcastMessage, userAlertEmail, userAlertMessage } from './fired-messages';
import { AlertMatcher, type Crossing } from './matcher';
import { OrderDesk } from '../orders/desk';
import { PriceOutageWatch } from './price-outage';

export interface TickReport {
  /** Alerts and broadcast rules this instance claimed (and queued messages for). */
  fired: number;
  rearmed: number;
  expired: number;
  /** Crossings another instance claimed first, or that changed under us (orders too). */
  lost: number;
  /** Orders this instance filled. */
  ordersFilled: number;
  /** Orders that ended without a fill: expired, their coin no longer tracked, or unfillable. */
  ordersEnded: number;
  /** Tracked coins with live alerts or orders and no fresh price (past the start-up grace): their
   *  alerts and orders are paused (see ./price-outage.ts). */
  pausedCoins: number;
}

/** Firings are claimed in chunks, yielding to the event loop between them, so chats keep
 *  answering while a thousand alerts fire. */
const CLAIM_CHUNK = 250;
/** Conditional state changes and re-reads in flight at once (many alerts can re-arm in one tick). */
const STORE_CONCURRENCY = 16;
/** Index build: pages of live alerts read at start. */
const BUILD_PAGE = 5_000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class AlertEngine {
  readonly matcher: AlertMatcher;
  private cursor?: string;
  private starting?: Promise<void>;
  /** The receivedAt of the last quote matched per coin: a quote is matched once. */
  private readonly seen = new Map<string, number>();
  /** Ticks queue behind each other: the next one starts when the last has finished. */
  private running: Promise<unknown> = Promise.resolve();
  private readonly orders: OrderDesk;
  /** Untracked coins whose orders were ended: not looked at again until tracked again. */
  private readonly sweptCoins = new Set<string>();
  private readonly outages: PriceOutageWatch;
  /** The last tick's TickReport.pausedCoins. */
  private pausedCoins = 0;

  constructor(private readonly services: Services) {
    this.matcher = new AlertMatcher({ rearmPercent: services.config.alertRearmPercent });
    this.orders = new OrderDesk(services, this.matcher);
    this.outages = new PriceOutageWatch(services, this.matcher);
  }

  /** Builds the index from the store (once; later calls wait for the first). The change feed's
   *  position is taken first, so alerts written during the build come through the first sync. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      const { store } = this.services;
      const cursor = await store.alertChangeCursor();
      let next: string | undefined;
      do {
        const page = await store.listLiveAlerts({ limit: BUILD_PAGE, cursor: next });
        for (const alert of page.items) this.matcher.apply(alert);
        next = page.next;
        await yieldToEventLoop();
      } while (next);
      // Alerts added in bulk wait unsorted per coin; sorting them now, a coin at a time, keeps
      // that work out of the first tick.
      for (const coin of this.matcher.coinIds()) {
        this.matcher.flush(coin);
        await yieldToEventLoop();
      }
      this.cursor = cursor;
    })();
    return this.starting;
  }

  /** Applies what changed in the store since the last sync; returns how many changes. */
  async sync(): Promise<number> {
    await this.start();
    const changes = await this.services.store.listAlertChanges(this.cursor!, this.services.clock.now());
    for (const alert of changes.alerts) this.matcher.apply(alert);
    this.cursor = changes.cursor;
    return changes.alerts.length;
  }

  /** Matches the prices that arrived since the last tick. Ticks never overlap: a call while one
   *  runs waits for it. */
  tick(): Promise<TickReport> {
    const run = this.running.then(() => this.runTick());
    this.running = run.catch(() => undefined);
    return run;
  }

  private async runTick(): Promise<TickReport> {
    const { prices, clock, config, coins } = this.services;
    await this.sync();
    const now = clock.now();
    const report: TickReport = { fired: 0, rearmed: 0, expired: 0, lost: 0, ordersFilled: 0, ordersEnded: 0, pausedCoins: 0 };
    const crossings: Array<{ crossing: Crossing; coin: Coin; quote: Quote }> = [];
    const rearm: PriceAlert[] = [];
    const expire: PriceAlert[] = [];
    const fills: Array<{ order: PriceAlert; coin: Coin; quote: Quote }> = [];
    const expiredOrders: Array<{ order: PriceAlert; label: string }> = [];
    const tracked = await coins.list();
    for (const coin of tracked) {
      const quote = prices.quote(coin.id);
      // Stale quotes never act: a quote older than maxQuoteAgeMs, or none, is not today's price,
      // and firing an alert or filling an order on it would be a false alarm or a wrong fill. The
      // matcher is not even asked, so re-arming and expiry wait for the coin's next fresh price
      // too (an alert whose time ran out meanwhile then expires: the matcher never fires an
      // expired one). PriceOutageWatch tells the owners. A quote already matched says nothing new.
      if (!quote || !isFresh(quote, now, config.maxQuoteAgeMs) || this.seen.get(coin.id) === quote.receivedAt) continue;
      this.seen.set(coin.id, quote.receivedAt);
      const result = this.matcher.onPrice(coin.id, quote.price, now);
      for (const crossing of result.fire) {
        if (crossing.alert.order) fills.push({ order: crossing.alert, coin, quote });
        else crossings.push({ crossing, coin, quote });
      }
      rearm.push(...result.rearm);
      for (const alert of result.expire) {
        if (alert.order) expiredOrders.push({ order: alert, label: coin.symbol.toUpperCase() });
        else expire.push(alert);
      }
    }

    for (let i = 0; i < crossings.length; i += CLAIM_CHUNK) {
      const outcome = await this.claim(crossings.slice(i, i + CLAIM_CHUNK), now);
      report.fired += outcome.fired;
      report.lost += outcome.lost;
      await yieldToEventLoop();
    }
    report.rearmed = await this.transition(rearm, 'armed', now);
    report.expired = await this.transition(expire, 'expired', now);
    for (const desk of [
      await this.orders.fill(fills, now),
      await this.orders.end(expiredOrders, 'expired', 'its time ran out', now),
      await this.endOrdersOfUntrackedCoins(tracked, now),
    ]) {
      report.ordersFilled += desk.filled;
      report.ordersEnded += desk.ended;
      report.lost += desk.lost;
    }
    this.services.metrics?.alertsFired(report.fired);
    // After matching, so that a store error there cannot hold up a firing (check logs its own).
    report.pausedCoins = await this.outages.check(tracked, now);
    if (report.fired || report.lost || report.ordersFilled || report.ordersEnded) this.services.logger.info({ ...report }, 'alerts fired');
    // Logged when it changes, not every tick of a long outage.
    if (report.pausedCoins !== this.pausedCoins) {
      if (report.pausedCoins) this.services.logger.warn({ pausedCoins: report.pausedCoins }, 'alerts and orders paused: no fresh price');
      else this.services.logger.info({}, 'alerts and orders live again: prices are fresh');
      this.pausedCoins = report.pausedCoins;
    }
    return report;
  }

  /** Orders on a coin an admin stopped tracking can never fill: they end, their holds released.
   *  The coin list is read from the store before that, as this instance's cached copy may not
   *  have the coin another instance just added. */
  private async endOrdersOfUntrackedCoins(tracked: Coin[], now: number) {
    const ids = new Set(tracked.map((c) => c.id));
    for (const id of this.sweptCoins) if (ids.has(id)) this.sweptCoins.delete(id);
    const untracked = this.matcher.coinIds().filter((id) => !ids.has(id) && !this.sweptCoins.has(id));
    const orders = untracked.flatMap((id) => this.matcher.liveOf(id).filter((a) => a.order));
    if (!orders.length) {
      for (const id of untracked) this.sweptCoins.add(id);
      return { filled: 0, ended: 0, lost: 0 };
    }
    const current = new Set((await this.services.store.listCoins()).map((c) => c.id));
    const gone = orders.filter((o) => !current.has(o.coinId));
    for (const id of untracked) if (!current.has(id)) this.sweptCoins.add(id);
    return this.orders.end(gone.map((order) => ({ order, label: order.coinId })), 'removed', 'the coin is no longer tracked (an admin removed it), so it cannot fill', now);
  }

  private async claim(batch: Array<{ crossing: Crossing; coin: Coin; quote: Quote }>, now: number): Promise<{ fired: number; lost: number }> {
    const { store } = this.services;
    const audience = await this.audienceOf(batch.map((b) => b.crossing.alert.username));
    const firings: AlertFiring[] = [];
    const byId = new Map<string, PriceAlert>();
    for (const { crossing, coin, quote } of batch) {
      const { alert } = crossing;
      const messages = this.messagesFor(crossing, coin, quote, audience, now);
      if (!messages) continue; // a paused or unreachable group, or an owner gone: leave it armed
      firings.push({ username: alert.username, alertId: alert.alertId, version: alert.version, state: alert.repeatMs ? 'cooling' : 'fired', at: now, messages });
      byId.set(alert.alertId, alert);
    }
    const claimed = firings.length ? await store.fireAlerts(firings) : new Set<string>();
    const lost: PriceAlert[] = [];
    for (const firing of firings) {
      const alert = byId.get(firing.alertId)!;
      if (claimed.has(firing.alertId)) {
        this.matcher.apply({ ...alert, state: firing.state, firedAt: now, fireCount: alert.fireCount + 1, version: alert.version + 1, updatedAt: now });
      } else {
        lost.push(alert);
      }
    }
    // Another instance claimed them, or they changed: take the store's word for it now rather
    // than matching a stale copy again on the next tick.
    await eachLimited(lost, STORE_CONCURRENCY, (alert) => this.refresh(alert));
    return { fired: claimed.size, lost: lost.length };
  }

  /** The accounts, linked chats and group states behind a batch's owners, looked up once each. */
  private async audienceOf(owners: string[]): Promise<Audience> {
    const { store } = this.services;
    const users = [...new Set(owners.filter((o) => chatOfOwner(o) === undefined))];
    const chats = withTheirGroups(owners.map(chatOfOwner).filter((c): c is string => c !== undefined));
    // One batched read per kind for the whole chunk, not two per owner.
    const [accounts, identities, chatStates] = await Promise.all([
      users.length ? store.getAccounts(users) : Promise.resolve(new Map<string, Account>()),
      users.length ? store.listIdentitiesOf(users) : Promise.resolve(new Map<string, LinkedIdentity[]>()),
      chats.length ? store.getChatStates(chats) : Promise.resolve(new Map<string, ChatState>()),
    ]);
    return {
      accounts: new Map(users.map((u) => [u, { account: accounts.get(u) ?? null, identities: identities.get(u) ?? [] }])),
      chatStates,
    };
  }

  private messagesFor(crossing: Crossing, coin: Coin, quote: Quote, audience: Audience, now: number): AlertFiring['messages'] | undefined {
    const { alert } = crossing;
    const id = (destination: string) => `alert:${alert.username}:${alert.alertId}:${alert.fireCount + 1}:${destination}`;
    const base = { createdAt: now, dueAt: now, attempts: 0, status: 'pending' as const };
    const chat = chatOfOwner(alert.username);
    if (chat !== undefined) {
      if (audience.chatStates.get(chat)?.broadcastsPaused || unreachableMark(audience.chatStates, chat)) return undefined;
      const destination = `chat:${chat}`;
      return [{ ...base, id: id(destination), destination, kind: 'broadcast', message: broadcastMessage(crossing, coin, groupView(this.services.prices.fiatRates()), quote) }];
    }
    const owner = audience.accounts.get(alert.username);
    if (!owner?.account) return undefined;
    const view = moneyView(owner.account.currency, this.services.prices.fiatRates(), owner.account.timezone);
    const destinations = userDestinations(owner.account, owner.identities, { emailEnabled: this.services.notifier.enabled, kind: 'alert' });
    // Claimed even when it goes nowhere (alerts off, no chat): it fired, and /alerts says so.
    return destinations.map((destination) => destination.startsWith('email:')
      ? { ...base, id: id(destination), destination, username: alert.username, kind: 'alert' as const, email: userAlertEmail(crossing, coin, view, quote) }
      : { ...base, id: id(destination), destination, username: alert.username, kind: 'alert' as const, message: userAlertMessage(crossing, coin, view, quote) });
  }

  private async transition(alerts: PriceAlert[], state: 'armed' | 'expired', now: number): Promise<number> {
    let done = 0;
    await eachLimited(alerts, STORE_CONCURRENCY, async (alert) => {
      if (await this.services.store.setAlertState(alert.username, alert.alertId, alert.version, state, now)) {
        this.matcher.apply({ ...alert, state, version: alert.version + 1, updatedAt: now });
        done++;
      } else {
        await this.refresh(alert);
      }
    });
    return done;
  }

  /** Replaces the matcher's copy with the store's (gone from the store: dropped). */
  private async refresh(alert: PriceAlert): Promise<void> {
    const current = await this.services.store.getAlert(alert.username, alert.alertId);
    this.matcher.apply(current ?? { ...alert, state: 'removed', version: alert.version + 1 });
  }
}

interface Audience {
  accounts: Map<string, { account: Account | null; identities: LinkedIdentity[] }>;
  chatStates: Map<string, ChatState>;
}
