/**
 * Alerts in the SQLite store: the owner's list, the matcher's live set, the change feed other
 * instances follow, and batched claiming (Store.fireAlerts).
 *
 * Every insert or update of an alert takes the next value of the `alert_changes` counter as its
 * `change_seq`, inside the same transaction. Writers to one SQLite file are serialized, so the
 * counter's order is the commit order: a reader that has seen value N has seen every change up
 * to N, and "what changed since N" is one range read on an index.
 *
 * Paper orders (issue 11) are alert records too, owned by `#orders:<username>` with their terms in
 * `order_terms`, so the matcher's live set and the change feed carry them unchanged. They are
 * written only through insertOrder/replaceOrder, inside the store's changeOrder transaction.
 */
import type Database from 'better-sqlite3';
import { orderOwner, type AlertState, type OrderTerms, type OutboxMessage, type PriceAlert } from '../../core/domain';
import type { AlertChanges, AlertFiring, Page, PageRequest } from '../../core/ports';
import { decodeCursor, pageLimit, toPage } from './paging';

/** listAlertChanges returns at most this many per call; the caller asks again from the cursor. */
const CHANGE_BATCH = 5000;

/** The live states, spelled exactly as in the partial index alerts_live_by_coin (SQLite only uses
 *  a partial index when the query repeats its condition). */
const LIVE = `state IN ('armed', 'cooling')`;
/** The next change number, for the row being written; `bump` then moves the counter to it. */
const NEXT_CHANGE = `(SELECT value + 1 FROM sequences WHERE name = 'alert_changes')`;
/** Every order owner sorts in [ORDERS_FROM, ORDERS_TO): `#orders:` then anything, and ';' follows
 *  ':'. A range on the owner column, so counting live orders walks alerts_by_owner. */
const ORDERS_FROM = orderOwner('');
const ORDERS_TO = '#orders;';

interface AlertRow {
  seq: number;
  alert_id: string;
  username: string;
  coin_id: string;
  condition: string;
  target_price: string | null;
  move_percent: string | null;
  move_window_ms: number | null;
  move_direction: string | null;
  repeat_ms: number | null;
  expires_at: number | null;
  state: string;
  created_at: number;
  fired_at: number | null;
  fire_count: number;
  version: number;
  updated_at: number;
  change_seq: number;
  order_terms: string | null;
}

export class SqliteAlerts {
  private readonly s: ReturnType<typeof prepare>;

  constructor(
    private readonly db: Database.Database,
    /** Queues outbox messages inside the caller's transaction (a firing's messages). */
    private readonly enqueue: (messages: OutboxMessage[]) => void,
  ) {
    this.s = prepare(db);
  }

  create(alert: PriceAlert, limit: number): 'created' | 'limit' {
    // Count and insert under one write lock, so racing creates cannot both squeeze under the limit.
    return this.db
      .transaction((): 'created' | 'limit' => {
        if ((this.s.countLiveOf.get(alert.username) as number) >= limit) return 'limit';
        this.s.insert.run(alertParams({ ...alert, state: 'armed', version: 1 }));
        this.s.bump.run();
        return 'created';
      })
      .immediate();
  }

  list(username: string): PriceAlert[] {
    return (this.s.listOf.all(username) as AlertRow[]).map(toAlert);
  }

  get(username: string, alertId: string): PriceAlert | null {
    const row = this.s.get.get(username, alertId) as AlertRow | undefined;
    return row ? toAlert(row) : null;
  }

  remove(username: string, alertId: string, at: number): boolean {
    return this.changeOne(() => this.s.remove.run(at, username, alertId).changes === 1);
  }

  setState(username: string, alertId: string, version: number, state: 'armed' | 'expired', at: number): boolean {
    return this.changeOne(() => this.s.setState.run({ state, at, username, alertId, version }).changes === 1);
  }

  fire(firings: AlertFiring[]): Set<string> {
    const claimed = new Set<string>();
    if (!firings.length) return claimed;
    // One write transaction for the whole batch: one lock and one commit however many fire. Each
    // claim is its own conditional UPDATE; its messages are written only when it took.
    this.db
      .transaction(() => {
        for (const f of firings) {
          const { changes } = this.s.fire.run({ state: f.state, at: f.at, username: f.username, alertId: f.alertId, version: f.version });
          if (changes !== 1) continue;
          this.s.bump.run();
          this.enqueue(f.messages);
          claimed.add(f.alertId);
        }
      })
      .immediate();
    return claimed;
  }

  listLive(page: PageRequest): Page<PriceAlert> {
    const limit = pageLimit(page);
    // Rows as arrays (columns in LIVE_COLUMNS order): building an object per row of a million
    // is most of the index build's time at start, and arrays halve it.
    const rows = (page.cursor === undefined
      ? this.s.liveFirst.all(limit + 1)
      : this.s.liveAfter.all(...decodeCursor(page.cursor, ['string', 'number']), limit + 1)) as LiveTuple[];
    return toPage(rows, limit, fromLiveTuple, (r) => [r[2], r[0]]);
  }

  changeCursor(): string {
    return String(this.s.counter.get() as number);
  }

  changes(cursor: string): AlertChanges {
    if (!/^\d{1,15}$/.test(cursor)) throw new Error('Invalid alert change cursor');
    const rows = this.s.changesAfter.all(Number(cursor), CHANGE_BATCH) as AlertRow[];
    const last = rows[rows.length - 1];
    return { alerts: rows.map(toAlert), cursor: last ? String(last.change_seq) : cursor };
  }

  prune(before: number): number {
    // Nobody follows a deleted row, so no change number: an alert is pruned long after its last
    // change went through every instance's feed.
    return this.s.prune.run(before).changes;
  }

  /** Live alerts and broadcast rules; open orders are not alerts. */
  countLive(): number {
    return this.s.countLive.get() as number;
  }

  // ---- orders: for the store's changeOrder, inside its transaction ----------------------------

  countLiveOf(owner: string): number {
    return this.s.countLiveOf.get(owner) as number;
  }

  /** Inserts a new order's record and moves the change counter. */
  insertOrder(order: PriceAlert): void {
    this.s.insert.run(alertParams(order));
    this.s.bump.run();
  }

  /** Writes an order's record whole, if it is still live at `expectedVersion`; moves the change
   *  counter when it did. */
  replaceOrder(order: PriceAlert, expectedVersion: number): boolean {
    if (this.s.replace.run({ ...alertParams(order), expectedVersion }).changes !== 1) return false;
    this.s.bump.run();
    return true;
  }

  /** Runs one conditional update and, when it changed the row, moves the change counter. */
  private changeOne(update: () => boolean): boolean {
    return this.db
      .transaction((): boolean => {
        const changed = update();
        if (changed) this.s.bump.run();
        return changed;
      })
      .immediate();
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const value = (sql: string) => db.prepare(sql).pluck();
  return {
    counter: value(`SELECT value FROM sequences WHERE name = 'alert_changes'`),
    bump: p(`UPDATE sequences SET value = value + 1 WHERE name = 'alert_changes'`),
    countLiveOf: value(`SELECT COUNT(*) FROM alerts WHERE username = ? AND ${LIVE}`),
    countLive: value(`SELECT (SELECT COUNT(*) FROM alerts WHERE ${LIVE})
      - (SELECT COUNT(*) FROM alerts WHERE username >= '${ORDERS_FROM}' AND username < '${ORDERS_TO}' AND ${LIVE})`),
    insert: p(`INSERT INTO alerts
      (alert_id, username, coin_id, condition, target_price, move_percent, move_window_ms, move_direction, repeat_ms,
       expires_at, state, created_at, fired_at, fire_count, version, updated_at, order_terms, change_seq)
      VALUES (@alertId, @username, @coinId, @condition, @targetPrice, @movePercent, @moveWindowMs, @moveDirection, @repeatMs,
       @expiresAt, @state, @createdAt, @firedAt, @fireCount, @version, @updatedAt, @orderTerms, ${NEXT_CHANGE})`),
    replace: p(`UPDATE alerts SET coin_id = @coinId, condition = @condition, target_price = @targetPrice, move_percent = @movePercent,
      move_window_ms = @moveWindowMs, move_direction = @moveDirection, repeat_ms = @repeatMs, expires_at = @expiresAt,
      state = @state, created_at = @createdAt, fired_at = @firedAt, fire_count = @fireCount, version = @version,
      updated_at = @updatedAt, order_terms = @orderTerms, change_seq = ${NEXT_CHANGE}
      WHERE username = @username AND alert_id = @alertId AND version = @expectedVersion AND ${LIVE}`),
    listOf: p(`SELECT * FROM alerts WHERE username = ? AND state != 'removed' ORDER BY created_at, seq`),
    get: p('SELECT * FROM alerts WHERE username = ? AND alert_id = ?'),
    remove: p(`UPDATE alerts SET state = 'removed', version = version + 1, updated_at = ?, change_seq = ${NEXT_CHANGE}
      WHERE username = ? AND alert_id = ? AND state != 'removed'`),
    setState: p(`UPDATE alerts SET state = @state, version = version + 1, updated_at = @at, change_seq = ${NEXT_CHANGE}
      WHERE username = @username AND alert_id = @alertId AND version = @version AND ${LIVE}`),
    fire: p(`UPDATE alerts SET state = @state, fired_at = @at, fire_count = fire_count + 1, version = version + 1,
      updated_at = @at, change_seq = ${NEXT_CHANGE}
      WHERE username = @username AND alert_id = @alertId AND version = @version AND ${LIVE}`),
    liveFirst: p(`SELECT ${LIVE_COLUMNS} FROM alerts WHERE ${LIVE} ORDER BY coin_id, seq LIMIT ?`).raw(),
    liveAfter: p(`SELECT ${LIVE_COLUMNS} FROM alerts WHERE ${LIVE} AND (coin_id, seq) > (?, ?) ORDER BY coin_id, seq LIMIT ?`).raw(),
    changesAfter: p('SELECT * FROM alerts WHERE change_seq > ? ORDER BY change_seq LIMIT ?'),
    prune: p(`DELETE FROM alerts WHERE state IN ('fired', 'expired', 'removed') AND updated_at < ?`),
  };
}

function alertParams(a: PriceAlert) {
  return {
    alertId: a.alertId,
    username: a.username,
    coinId: a.coinId,
    condition: a.condition,
    targetPrice: a.targetPrice ?? null,
    movePercent: a.movePercent ?? null,
    moveWindowMs: a.moveWindowMs ?? null,
    moveDirection: a.moveDirection ?? null,
    repeatMs: a.repeatMs ?? null,
    expiresAt: a.expiresAt ?? null,
    state: a.state,
    createdAt: a.createdAt,
    firedAt: a.firedAt ?? null,
    fireCount: a.fireCount,
    version: a.version,
    updatedAt: a.updatedAt,
    orderTerms: a.order ? JSON.stringify(a.order) : null,
  };
}

/** listLiveAlerts' columns, read as arrays (see listLive) and named back here. */
const LIVE_KEYS = ['seq', 'alert_id', 'coin_id', 'username', 'condition', 'target_price', 'move_percent', 'move_window_ms',
  'move_direction', 'repeat_ms', 'expires_at', 'state', 'created_at', 'fired_at', 'fire_count', 'version', 'updated_at', 'order_terms'] as const;
const LIVE_COLUMNS = LIVE_KEYS.join(', ');
type LiveTuple = unknown[] & { 0: number; 2: string };

function fromLiveTuple(t: LiveTuple): PriceAlert {
  // An object literal, not one built key by key: this runs a million times at start.
  const [seq, alert_id, coin_id, username, condition, target_price, move_percent, move_window_ms, move_direction,
    repeat_ms, expires_at, state, created_at, fired_at, fire_count, version, updated_at, order_terms] = t as unknown as AlertRow[keyof AlertRow][];
  return toAlert({
    seq, alert_id, coin_id, username, condition, target_price, move_percent, move_window_ms, move_direction,
    repeat_ms, expires_at, state, created_at, fired_at, fire_count, version, updated_at, order_terms,
  } as AlertRow);
}

/** Optional fields are left out when NULL, so an alert reads back exactly as it was written. */
function toAlert(r: AlertRow): PriceAlert {
  const alert: PriceAlert = {
    alertId: r.alert_id,
    username: r.username,
    coinId: r.coin_id,
    condition: r.condition as PriceAlert['condition'],
    state: r.state as AlertState,
    createdAt: r.created_at,
    fireCount: r.fire_count,
    version: r.version,
    updatedAt: r.updated_at,
  };
  if (r.target_price !== null) alert.targetPrice = r.target_price;
  if (r.move_percent !== null) alert.movePercent = r.move_percent;
  if (r.move_window_ms !== null) alert.moveWindowMs = r.move_window_ms;
  if (r.move_direction !== null) alert.moveDirection = r.move_direction as PriceAlert['moveDirection'];
  if (r.repeat_ms !== null) alert.repeatMs = r.repeat_ms;
  if (r.expires_at !== null) alert.expiresAt = r.expires_at;
  if (r.fired_at !== null) alert.firedAt = r.fired_at;
  // Parsed only for an order's record; every alert has NULL here.
  if (r.order_terms !== null) alert.order = JSON.parse(r.order_terms) as OrderTerms;
  return alert;
}
