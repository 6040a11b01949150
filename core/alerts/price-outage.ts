/**
 * Tells owners when their alerts and orders on a coin are paused for want of a fresh price, and
 * when they are live again: once per outage, not once per tick, however many bot instances run
 * the alert engine against one store, and across restarts.
 *
 * The engine never matches a missing or stale quote (see AlertEngine.runTick), so during an
 * outage nothing fires, fills or expires on the coin; this module only says so.
 *
 * "Once" lives in the store, as Store.claimOnce keys per coin and owner:
 *   paused  `price-outage:paused:<coin>:<user>`  held from the paused notice until the live-again
 *           one: whoever claims it tells the owner the coin is paused, nobody else does;
 *   resumed `price-outage:resumed:<coin>:<user>` claimed by whoever tells the owner it is live
 *           again (only when `paused` was held, i.e. the owner was told), then `paused` is given
 *           back; the next paused notice gives `resumed` back in turn;
 *   coin    `price-outage:coin:<coin>`           held while any paused notice on the coin is
 *           outstanding, so that a process that starts after an outage (and so never saw it)
 *           checks its owners once, and otherwise pays one claim per coin.
 * The keys expire after OUTAGE_CLAIM_MS, so a claim left behind by a process that died mid-way
 * costs at most that long without notices for that owner and coin.
 *
 * Start-up: a fresh process has no quotes until its first poll, which may be slow. A coin counts
 * as without a fresh price only once it has had none for longer than maxQuoteAgeMs since the
 * engine's first tick, so a restart does not tell everybody their alerts are paused.
 *
 * Who is told: users, for their alerts and orders together, where their alerts go (chat only:
 * /settings alerts decides, 'off' means no message; no email, as an outage is passing news).
 * Group broadcast rules are not announced: a pause notice would go to every member of the group
 * for a rule most of them did not set, and the broadcasts simply resume with the prices.
 */
import type { Services } from '../context';
import type { Account, Coin, LinkedIdentity, OutboxMessage, PriceAlert } from '../domain';
import { chatOfOwner, isFresh, usernameOfOrderOwner } from '../domain';
import { eachLimited } from '../each-limited';
import { formatTime } from '../format';
import { reply, type RichMessage } from '../messages';
import { userDestinations } from '../notifications/destinations';
import type { AlertMatcher } from './matcher';

/** How long an outage claim is held at most (see above). */
export const OUTAGE_CLAIM_MS = 7 * 24 * 60 * 60 * 1000;
/** Claims in flight at once (one per owner of a coin). */
const CONCURRENCY = 16;

/** What one user has on one coin. */
interface Holding {
  alerts: number;
  orders: number;
}

type CoinState = 'fresh' | 'out';

export class PriceOutageWatch {
  /** When the engine first ticked: the start-up grace counts from here. */
  private startedAt?: number;
  /** What this process last saw per coin; absent: not seen since start (unknown). */
  private readonly state = new Map<string, CoinState>();
  /** Per coin out now, the owners whose paused claim this process already tried: each tick of a
   *  long outage then costs no store writes, only owners who set something new on the coin. */
  private readonly tried = new Map<string, Set<string>>();

  constructor(
    private readonly services: Services,
    private readonly matcher: AlertMatcher,
  ) {}

  /** Looks at every tracked coin with live alerts or orders; returns how many are paused. A coin
   *  whose notices could not be queued (a store error) is logged and tried again next tick. */
  async check(tracked: Coin[], now: number): Promise<number> {
    this.startedAt ??= now;
    const { prices, config } = this.services;
    let paused = 0;
    const indexed = new Set(this.matcher.coinIds());
    for (const coin of tracked) {
      // Nothing live on it (now, or since start): nobody to tell either way.
      if (!indexed.has(coin.id)) continue;
      // liveOf lists every live alert of the coin: asked only for a coin out (or coming back), so
      // that a tick with fresh prices costs nothing here.
      const quote = prices.quote(coin.id);
      const fresh = isFresh(quote, now, config.maxQuoteAgeMs);
      try {
        if (fresh) {
          await this.back(coin, now);
          continue;
        }
        // Not out yet: within the grace after the last fresh quote, or after start-up.
        if (now - Math.max(quote?.receivedAt ?? this.startedAt, this.startedAt) <= config.maxQuoteAgeMs) continue;
        const live = this.matcher.liveOf(coin.id);
        if (!live.length) continue;
        this.state.set(coin.id, 'out');
        paused++;
        await this.pause(coin, live, quote?.receivedAt, now);
      } catch (error) {
        this.services.logger.warn({ coinId: coin.id, err: error instanceof Error ? error.message : String(error) }, 'could not tell owners about a price outage');
      }
    }
    return paused;
  }

  /** A fresh price for the coin. Seen out here: its owners may have been told. Unknown (a fresh
   *  process): only when some instance left the coin's claim held. The state changes only once
   *  the notices are queued, so that a failure is tried again on the next tick. */
  private async back(coin: Coin, now: number): Promise<void> {
    const before = this.state.get(coin.id);
    if (before === 'fresh') return;
    if (before === 'out' || !(await this.claim(coinKey(coin.id), now))) {
      await this.resume(coin, this.matcher.liveOf(coin.id), this.tried.get(coin.id) ?? new Set(), now);
    } else {
      await this.services.store.releaseOnce(coinKey(coin.id));
    }
    this.state.set(coin.id, 'fresh');
    this.tried.delete(coin.id);
  }

  private async pause(coin: Coin, live: PriceAlert[], lastFresh: number | undefined, now: number): Promise<void> {
    const { store } = this.services;
    const tried = this.tried.get(coin.id) ?? new Set<string>();
    this.tried.set(coin.id, tried);
    const holdings = new Map([...holdingsOf(live)].filter(([username]) => !tried.has(username)));
    if (!holdings.size) return;
    await this.claim(coinKey(coin.id), now);
    const owners = await this.ownersOf([...holdings.keys()]);
    const claimed: string[] = [];
    const messages: OutboxMessage[] = [];
    await eachLimited([...holdings], CONCURRENCY, async ([username, holding]) => {
      const mine = await this.claim(pausedKey(coin.id, username), now);
      tried.add(username);
      if (!mine) return; // told already: by another instance, or before a restart
      claimed.push(username);
      await store.releaseOnce(resumedKey(coin.id, username));
      const owner = owners.get(username);
      if (!owner) return;
      const text = pausedText(coin, holding, lastFresh, owner.account.timezone);
      messages.push(...this.messagesTo(owner, `price-outage:paused:${coin.id}:${username}:${now}`, reply('warning', { title: `⏸ ${label(coin)}: paused, no fresh price`, text }), now));
    });
    try {
      if (messages.length) await store.enqueueMessages(messages);
    } catch (error) {
      // Not told after all: give the claims back, so that the next tick (here or elsewhere) tells them.
      for (const username of claimed) {
        tried.delete(username);
        await store.releaseOnce(pausedKey(coin.id, username));
      }
      throw error;
    }
  }

  /** Tells the owners who were told their alerts on the coin paused that they are live again.
   *  `tried`: owners this process looked at during the outage; those with nothing left on the
   *  coin are not told, but their claim is given back, so that a later outage is announced. */
  private async resume(coin: Coin, live: PriceAlert[], tried: Set<string>, now: number): Promise<void> {
    const { store } = this.services;
    const holdings = holdingsOf(live);
    const told: string[] = [];
    await eachLimited([...new Set([...holdings.keys(), ...tried])], CONCURRENCY, async (username) => {
      const paused = pausedKey(coin.id, username);
      // Claimed now: nobody held it, so this owner was never told the coin paused.
      if (await this.claim(paused, now)) {
        await store.releaseOnce(paused);
        return;
      }
      if (!holdings.has(username)) {
        await store.releaseOnce(paused);
        return;
      }
      if (await this.claim(resumedKey(coin.id, username), now)) told.push(username); // else another instance tells them
    });
    const owners = told.length ? await this.ownersOf(told) : new Map<string, Owner>();
    const messages: OutboxMessage[] = [];
    for (const username of told) {
      const owner = owners.get(username);
      if (!owner) continue;
      const message = reply('info', { title: `▶️ ${label(coin)}: live again`, text: resumedText(coin), buttons: [{ label: 'Price', command: `/price ${coin.id}` }] });
      messages.push(...this.messagesTo(owner, `price-outage:resumed:${coin.id}:${username}:${now}`, message, now));
    }
    try {
      if (messages.length) await store.enqueueMessages(messages);
    } catch (error) {
      // The paused claims are still held: giving these back lets the next tick tell them.
      for (const username of told) await store.releaseOnce(resumedKey(coin.id, username));
      throw error;
    }
    // Only now is the outage over for them: the next one is announced again.
    for (const username of told) await store.releaseOnce(pausedKey(coin.id, username));
    await store.releaseOnce(coinKey(coin.id));
  }

  private claim(key: string, now: number): Promise<boolean> {
    return this.services.store.claimOnce(key, now + OUTAGE_CLAIM_MS);
  }

  /** Where the user's alerts go, chats only. */
  private messagesTo(owner: Owner, id: string, message: RichMessage, now: number): OutboxMessage[] {
    const destinations = userDestinations(owner.account, owner.identities, { emailEnabled: false, kind: 'alert' });
    return destinations.map((destination) => ({
      id: `${id}:${destination}`, destination, username: owner.account.username, kind: 'alert' as const, message,
      createdAt: now, dueAt: now, attempts: 0, status: 'pending' as const,
    }));
  }

  private async ownersOf(usernames: string[]): Promise<Map<string, Owner>> {
    const { store } = this.services;
    const [accounts, identities] = await Promise.all([store.getAccounts(usernames), store.listIdentitiesOf(usernames)]);
    const owners = new Map<string, Owner>();
    for (const username of usernames) {
      const account = accounts.get(username);
      if (account) owners.set(username, { account, identities: identities.get(username) ?? [] });
    }
    return owners;
  }
}

interface Owner {
  account: Account;
  identities: LinkedIdentity[];
}

const coinKey = (coinId: string) => `price-outage:coin:${coinId}`;
const pausedKey = (coinId: string, username: string) => `price-outage:paused:${coinId}:${username}`;
const resumedKey = (coinId: string, username: string) => `price-outage:resumed:${coinId}:${username}`;

/** Users and what they have on the coin; group broadcast rules are left out (see the top). */
function holdingsOf(live: PriceAlert[]): Map<string, Holding> {
  const holdings = new Map<string, Holding>();
  for (const alert of live) {
    if (chatOfOwner(alert.username) !== undefined) continue;
    const username = alert.order ? usernameOfOrderOwner(alert.username) : alert.username;
    if (username === undefined) continue;
    const holding = holdings.get(username) ?? { alerts: 0, orders: 0 };
    if (alert.order) holding.orders++;
    else holding.alerts++;
    holdings.set(username, holding);
  }
  return holdings;
}

const label = (coin: Coin) => `${coin.name} (${coin.symbol.toUpperCase()})`;
const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** "No fresh price for Bitcoin (BTC) since 2026-11-26 12:03 UTC: your 2 alerts and 1 order on it
 *  are paused. ..." */
export function pausedText(coin: Coin, holding: Holding, lastFresh: number | undefined, timeZone?: string): string {
  const since = lastFresh === undefined ? ' yet' : ` since ${formatTime(lastFresh, timeZone)}`;
  const what = [holding.alerts ? count(holding.alerts, 'alert') : '', holding.orders ? count(holding.orders, 'order') : ''].filter(Boolean).join(' and ');
  const them = holding.alerts + holding.orders === 1 ? 'It resumes by itself' : 'They resume by themselves';
  return `No fresh price for ${label(coin)}${since}: your ${what} on it ${holding.alerts + holding.orders === 1 ? 'is' : 'are'} paused, so nothing fires or fills on an old price. ${them} when prices return.`;
}

export function resumedText(coin: Coin): string {
  return `Fresh prices for ${label(coin)} are coming in again: your alerts and orders on it are live again.`;
}
