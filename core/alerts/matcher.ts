/**
 * The in-memory alert index: decides, for one coin's new price, which live alerts fire, which
 * cooling ones re-arm and which expire, with work in proportion to what it returns (plus binary
 * searches), never to the number of alerts held.
 *
 * Per coin, every live alert sits in exactly one list sorted so that the alerts a price reaches
 * are a PREFIX of it (keys are negated where the natural order runs the other way):
 *   armed above      key  T                     fires when T <= P
 *   armed below      key -T                     fires when T >= P
 *   cooling above    key -T(100 - r)            re-arms when 100P <= T(100 - r)
 *   cooling below    key  T(100 + r)            re-arms when 100P >= T(100 + r)
 *   armed move       key  M        per window and direction: fires when M <= change
 *   cooling move     key -(M - r)  per window and direction: re-arms when change < M - r
 * plus one list by expiresAt. T, P, M and r are scaled integers (./scaled.ts), parsed once: at
 * apply() for an alert, once per onPrice for the price, once per window for a move's change. The
 * change is floored to 10^-18 %, which keeps "M <= change" and "change < M - r" exact for any M
 * on that grid.
 *
 * The matcher holds no claims: onPrice says what holds now, and the engine, having claimed it in
 * the store, apply()s the alert's new state, which moves it in (or out of) the index.
 *
 * Prices with more than 18 decimal places are truncated to 18 (see ./scaled.ts); the reference
 * scan (scanMatch) compares the full decimals, so the two can differ only beyond the 18th place.
 */
import type { MoveDirection, PriceAlert } from '../domain';
import { isLiveAlert } from '../domain';
import { Dec, dec } from '../money';
import { PriceHistory, type PriceSample } from './price-history';
import { HUNDRED, floorDiv, formatScaled, parseScaled } from './scaled';
import { SortedList, type Keyed } from './sorted-list';

export interface MatcherOptions {
  /** The re-arm margin of repeating alerts, in percent (a decimal string such as "0.5"): an
   *  above/below alert re-arms once the price is back this far on the other side of its target,
   *  a move alert once the move is this much smaller than its percent. */
  rearmPercent: string;
}

export type Crossing =
  | { kind: 'above' | 'below'; alert: PriceAlert; price: string }
  | {
      kind: 'move';
      alert: PriceAlert;
      price: string;
      /** The baseline: the earliest price in the window. */
      from: string;
      /** Signed, truncated toward zero at 18 decimals, e.g. "-5.23". */
      changePercent: string;
      windowMs: number;
    };

export interface TickResult {
  fire: Crossing[];
  rearm: PriceAlert[];
  expire: PriceAlert[];
}

export type { PriceSample } from './price-history';

const DIRECTIONS: readonly MoveDirection[] = ['up', 'down', 'either'];

/** Finished alerts remembered (by key and version) so that a stale copy replayed by the change
 *  feed does not bring them back; the oldest are forgotten beyond this many. A replay arrives
 *  within a tick or two, long before that. */
const TOMBSTONES_MAX = 100_000;

/** One live alert's place in the index. Kept small (a million of them): which list it is in
 *  follows from the alert itself (listOf). */
interface Entry extends Keyed {
  readonly key: bigint;
  readonly alert: PriceAlert;
  readonly expiry: ExpiryEntry | undefined;
}

interface ExpiryEntry extends Keyed {
  readonly key: number;
  readonly alert: PriceAlert;
}

/** The move alerts of one coin over one window. */
class MoveWindow {
  readonly armed: Record<MoveDirection, SortedList<Entry>> = { up: new SortedList(), down: new SortedList(), either: new SortedList() };
  readonly cooling: Record<MoveDirection, SortedList<Entry>> = { up: new SortedList(), down: new SortedList(), either: new SortedList() };

  constructor(readonly windowMs: number) {}

  get size(): number {
    let n = 0;
    for (const d of DIRECTIONS) n += this.armed[d].size + this.cooling[d].size;
    return n;
  }
}

class CoinIndex {
  readonly above = new SortedList<Entry>();
  readonly below = new SortedList<Entry>();
  readonly coolAbove = new SortedList<Entry>();
  readonly coolBelow = new SortedList<Entry>();
  readonly moves = new Map<number, MoveWindow>();
  readonly expiry = new SortedList<ExpiryEntry>();
  readonly history = new PriceHistory();
  /** How much history to keep: the longest window of any move alert indexed on this coin so
   *  far. It never shrinks, so that an alert added later finds what the earlier ones kept. */
  retainMs = 0;

  /** The list a live alert belongs in (the alert's condition was checked by keyOf). */
  listOf(alert: PriceAlert): SortedList<Entry> {
    const armed = alert.state === 'armed';
    if (alert.condition === 'above') return armed ? this.above : this.coolAbove;
    if (alert.condition === 'below') return armed ? this.below : this.coolBelow;
    const group = this.moveWindow(alert.moveWindowMs!);
    return (armed ? group.armed : group.cooling)[alert.moveDirection ?? 'either'];
  }

  flush(): void {
    for (const list of [this.above, this.below, this.coolAbove, this.coolBelow, this.expiry]) list.flush();
    for (const group of this.moves.values()) for (const d of DIRECTIONS) {
      group.armed[d].flush();
      group.cooling[d].flush();
    }
  }

  moveWindow(windowMs: number): MoveWindow {
    let group = this.moves.get(windowMs);
    if (!group) {
      group = new MoveWindow(windowMs);
      this.moves.set(windowMs, group);
    }
    return group;
  }
}

const alertKey = (username: string, alertId: string) => `${username}\u0000${alertId}`;

/**
 * Live entries by (username, alertId). Alert ids are random, so nearly all are found by id alone,
 * without building a composite key string per alert; an id that two owners share (rare) puts
 * the later one under the composite key.
 */
class EntryMap {
  private readonly byId = new Map<string, Entry>();
  private readonly byOwnerAndId = new Map<string, Entry>();

  get size(): number {
    return this.byId.size + this.byOwnerAndId.size;
  }

  get(username: string, alertId: string): Entry | undefined {
    const entry = this.byId.get(alertId);
    if (entry?.alert.username === username) return entry;
    return this.byOwnerAndId.size ? this.byOwnerAndId.get(alertKey(username, alertId)) : undefined;
  }

  set(entry: Entry): void {
    const { username, alertId } = entry.alert;
    const held = this.byId.get(alertId);
    if (held === undefined || held.alert.username === username) this.byId.set(alertId, entry);
    else this.byOwnerAndId.set(alertKey(username, alertId), entry);
  }

  delete(entry: Entry): void {
    const { username, alertId } = entry.alert;
    if (this.byId.get(alertId) === entry) this.byId.delete(alertId);
    else this.byOwnerAndId.delete(alertKey(username, alertId));
  }
}

const expired = (alert: PriceAlert, now: number) => alert.expiresAt !== undefined && alert.expiresAt <= now;
const unexpired = (alert: PriceAlert, now: number) => !expired(alert, now);
const cooled = (alert: PriceAlert, now: number) => now >= (alert.firedAt ?? 0) + (alert.repeatMs ?? 0);

const isPositiveWindow = (ms: number | undefined): ms is number => ms !== undefined && Number.isSafeInteger(ms) && ms > 0;

export class AlertMatcher {
  private readonly rearm: bigint;
  private readonly coins = new Map<string, CoinIndex>();
  private readonly entries = new EntryMap();
  private readonly tombstones = new Map<string, number>();
  private seq = 0;
  /** Reused by onPrice, which is synchronous, to gather candidates without allocating. */
  private readonly scratch: Entry[] = [];
  private readonly scratchExpiry: ExpiryEntry[] = [];

  constructor(options: MatcherOptions) {
    const rearm = parseScaled(options.rearmPercent);
    if (rearm === undefined || rearm < 0n) throw new Error(`rearmPercent must be a non-negative decimal, not ${options.rearmPercent}`);
    this.rearm = rearm;
  }

  /** Alerts indexed (live). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds, replaces or drops an alert by (username, alertId). A version older than the one held
   * (or than a finished one seen) is ignored. Live (armed/cooling) alerts are indexed; others
   * are forgotten. A live alert whose condition cannot be read (no target, a window that is not
   * a positive whole number of ms) is not indexed either.
   */
  apply(alert: PriceAlert): void {
    const held = this.entries.get(alert.username, alert.alertId);
    if (held && alert.version < held.alert.version) return;
    if (this.tombstones.size) {
      const id = alertKey(alert.username, alert.alertId);
      const finished = this.tombstones.get(id);
      // Fired, expired and removed are final states: nothing at or below their version revives.
      if (finished !== undefined) {
        if (alert.version <= finished) return;
        this.tombstones.delete(id);
      }
    }
    if (held) {
      this.unindex(held);
      this.entries.delete(held);
    }
    if (!isLiveAlert(alert.state)) {
      const id = alertKey(alert.username, alert.alertId);
      this.tombstones.delete(id); // re-inserted last, so the oldest are forgotten first
      this.tombstones.set(id, alert.version);
      if (this.tombstones.size > TOMBSTONES_MAX) this.tombstones.delete(this.tombstones.keys().next().value!);
      return;
    }
    const entry = this.index(alert);
    if (entry) this.entries.set(entry);
  }

  /** Sorts in the adds still buffered (of one coin, or of all). Adds are buffered so that a
   *  bulk build sorts each list a few times rather than splicing a million times; onPrice sorts
   *  its coin's buffer first, so after a build of 1,000,000 alerts the first tick would pay
   *  about 3 ms per coin. Call this after the build, coin by coin (coinIds()) with a yield
   *  between, so that neither the build nor the first tick blocks the event loop for long. */
  flush(coinId?: string): void {
    if (coinId !== undefined) this.coins.get(coinId)?.flush();
    else for (const coin of this.coins.values()) coin.flush();
  }

  /** The live alerts held for a coin, in no particular order (for a coin no longer tracked). */
  liveOf(coinId: string): PriceAlert[] {
    const coin = this.coins.get(coinId);
    if (!coin) return [];
    coin.flush();
    const lists = [coin.above, coin.below, coin.coolAbove, coin.coolBelow];
    for (const group of coin.moves.values()) for (const d of DIRECTIONS) lists.push(group.armed[d], group.cooling[d]);
    return lists.flatMap((list) => list.toArray().map((e) => e.alert));
  }

  /** The coins the index holds anything for. */
  coinIds(): string[] {
    return [...this.coins.keys()];
  }

  /** A new price for one coin at `now`: records it in the coin's price history (for move
   *  alerts) and returns what to do. A price that is not a positive decimal is ignored. */
  onPrice(coinId: string, price: string, now: number): TickResult {
    const result: TickResult = { fire: [], rearm: [], expire: [] };
    const p = parseScaled(price);
    if (p === undefined || p <= 0n) return result;
    const coin = this.coin(coinId);
    coin.history.record(now, price, p);
    coin.history.trim(now - coin.retainMs);

    const found = this.scratch;
    const expiring = coin.expiry.collectUpTo(now, this.scratchExpiry);
    for (const e of expiring) result.expire.push(e.alert);
    expiring.length = 0;

    for (const e of coin.above.collectUpTo(p, found)) if (unexpired(e.alert, now)) result.fire.push({ kind: 'above', alert: e.alert, price });
    found.length = 0;
    for (const e of coin.below.collectUpTo(-p, found)) if (unexpired(e.alert, now)) result.fire.push({ kind: 'below', alert: e.alert, price });
    found.length = 0;
    const p100 = HUNDRED * p;
    coin.coolAbove.collectUpTo(-p100, found);
    coin.coolBelow.collectUpTo(p100, found);

    for (const group of coin.moves.values()) {
      const base = coin.history.baseline(now - group.windowMs);
      // The change in 10^-18 %, floored per direction; without a baseline there is no move.
      let change: Record<MoveDirection, bigint> = { up: 0n, down: 0n, either: 0n };
      if (base && base.scaled > 0n) {
        const diff = HUNDRED * (p - base.scaled);
        change = { up: floorDiv(diff, base.scaled), down: floorDiv(-diff, base.scaled), either: floorDiv(diff < 0n ? -diff : diff, base.scaled) };
        const crossing = { kind: 'move' as const, price, from: base.price, changePercent: formatScaled(diff / base.scaled), windowMs: group.windowMs };
        const crossed: Entry[] = [];
        for (const d of DIRECTIONS) group.armed[d].collectUpTo(change[d], crossed);
        for (const e of crossed) if (unexpired(e.alert, now)) result.fire.push({ ...crossing, alert: e.alert });
      }
      // Cooling keys are -(M - r): "change < M - r" is "key <= -change - 1".
      for (const d of DIRECTIONS) group.cooling[d].collectUpTo(-change[d] - 1n, found);
    }
    // Every cooling alert whose price condition holds: re-armed once its cool-down is over.
    for (const e of found) if (cooled(e.alert, now) && unexpired(e.alert, now)) result.rearm.push(e.alert);
    found.length = 0;
    return result;
  }

  /** The coin's retained price history, oldest first (tests and diagnostics). */
  historyOf(coinId: string): PriceSample[] {
    return this.coins.get(coinId)?.history.samples() ?? [];
  }

  private coin(coinId: string): CoinIndex {
    let coin = this.coins.get(coinId);
    if (!coin) {
      coin = new CoinIndex();
      this.coins.set(coinId, coin);
    }
    return coin;
  }

  /** Places a live alert in its coin's lists; undefined when its condition cannot be read. */
  private index(alert: PriceAlert): Entry | undefined {
    const key = this.keyOf(alert);
    if (key === undefined) return undefined;
    const seq = this.seq++;
    const coin = this.coin(alert.coinId);
    if (alert.condition === 'move' && alert.moveWindowMs! > coin.retainMs) coin.retainMs = alert.moveWindowMs!;
    const expiry = alert.expiresAt === undefined ? undefined : { key: alert.expiresAt, seq, alert };
    const entry: Entry = { key, seq, alert, expiry };
    coin.listOf(alert).add(entry);
    if (expiry) coin.expiry.add(expiry);
    return entry;
  }

  private unindex(entry: Entry): void {
    const { alert } = entry;
    const coin = this.coin(alert.coinId);
    coin.listOf(alert).delete(entry);
    if (entry.expiry) coin.expiry.delete(entry.expiry);
    if (alert.condition === 'move') {
      const group = coin.moves.get(alert.moveWindowMs!);
      if (group && group.size === 0) coin.moves.delete(group.windowMs);
    }
  }

  /** A live alert's key in its list (see the table at the top); undefined when its condition
   *  cannot be read. */
  private keyOf(alert: PriceAlert): bigint | undefined {
    const armed = alert.state === 'armed';
    if (alert.condition === 'move') {
      const percent = alert.movePercent === undefined ? undefined : parseScaled(alert.movePercent);
      if (percent === undefined || !isPositiveWindow(alert.moveWindowMs)) return undefined;
      if (alert.moveDirection !== undefined && !DIRECTIONS.includes(alert.moveDirection)) return undefined;
      return armed ? percent : -(percent - this.rearm);
    }
    if (alert.condition !== 'above' && alert.condition !== 'below') return undefined;
    const target = alert.targetPrice === undefined ? undefined : parseScaled(alert.targetPrice);
    if (target === undefined) return undefined;
    if (alert.condition === 'above') return armed ? target : -(target * (HUNDRED - this.rearm));
    return armed ? -target : target * (HUNDRED + this.rearm);
  }
}

/**
 * The reference: the same decisions as AlertMatcher.onPrice by scanning every alert with
 * decimal.js, for the property test and the benchmark's side-by-side figure. `history` is the
 * coin's samples BEFORE this price, oldest first (the matcher's historyOf, or [] when no move
 * alert matters); the current price is appended as the latest sample.
 */
export function scanMatch(
  alerts: Iterable<PriceAlert>,
  coinId: string,
  price: string,
  now: number,
  history: readonly PriceSample[],
  options: MatcherOptions,
): TickResult {
  const result: TickResult = { fire: [], rearm: [], expire: [] };
  const p = decimalOrNull(price);
  if (!p || !p.gt(0)) return result;
  const r = dec(options.rearmPercent);
  const samples = [...history, { at: now, price }];

  for (const alert of alerts) {
    if (alert.coinId !== coinId || !isLiveAlert(alert.state)) continue;
    const armed = alert.state === 'armed';
    if (alert.condition === 'move') {
      const m = alert.movePercent === undefined ? null : decimalOrNull(alert.movePercent);
      if (!m || !isPositiveWindow(alert.moveWindowMs)) continue;
      const direction = alert.moveDirection ?? 'either';
      if (!DIRECTIONS.includes(direction)) continue;
      if (expired(alert, now)) { result.expire.push(alert); continue; }
      const baseIndex = samples.findIndex((s) => s.at >= now - alert.moveWindowMs!);
      const base = baseIndex >= 0 && baseIndex < samples.length - 1 ? samples[baseIndex]! : undefined;
      const b = base ? dec(base.price) : null;
      // 100 (p - b) / b compared with m without dividing: 100 (p - b) against m b.
      const moved = b && b.gt(0) ? p.minus(b).times(100) : null;
      const signed = (d: MoveDirection, x: Dec) => (d === 'up' ? x : d === 'down' ? x.neg() : x.abs());
      if (armed) {
        if (base && b && moved && signed(direction, moved).gte(m.times(b))) {
          result.fire.push({
            kind: 'move', alert, price, from: base.price, windowMs: alert.moveWindowMs,
            changePercent: moved.div(b).toDecimalPlaces(18, Dec.ROUND_DOWN).toFixed(),
          });
        }
      } else if (cooled(alert, now)) {
        const margin = m.minus(r);
        const settled = moved && b ? signed(direction, moved).lt(margin.times(b)) : margin.gt(0);
        if (settled) result.rearm.push(alert);
      }
      continue;
    }
    const t = alert.targetPrice === undefined ? null : decimalOrNull(alert.targetPrice);
    if (!t || (alert.condition !== 'above' && alert.condition !== 'below')) continue;
    if (expired(alert, now)) { result.expire.push(alert); continue; }
    if (armed) {
      if (alert.condition === 'above' ? p.gte(t) : p.lte(t)) result.fire.push({ kind: alert.condition, alert, price });
    } else if (cooled(alert, now)) {
      // p <= t (1 - r/100), or p >= t (1 + r/100), times 100.
      const back = alert.condition === 'above' ? p.times(100).lte(t.times(dec(100).minus(r))) : p.times(100).gte(t.times(dec(100).plus(r)));
      if (back) result.rearm.push(alert);
    }
  }
  return result;
}


function decimalOrNull(text: string): Dec | null {
  try {
    const value = dec(text);
    return value.isFinite() ? value : null;
  } catch {
    return null;
  }
}
