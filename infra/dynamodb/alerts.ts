/**
 * Price alerts and broadcast rules on DynamoDB (the `price-alerts` table; see README.md).
 *
 * - Every write sets the alert's change-feed key (`change-index`: `<updatedAt>#<owner>#<alertId>`
 *   in one of ALERT_SHARDS shards) and its state key (`state-index`: `live#n` while armed or
 *   cooling, `done#n` by time once finished). So an instance keeps its matcher in step with a
 *   range query per shard over what changed, and never re-reads every armed alert.
 * - The owner's live count is bumped and dropped in the same transaction as the state change
 *   that causes it: on the account item for users (`activeAlerts`, as before), on a `#live` item
 *   in the owner's own partition for the other owners, whose names start with `#`: a chat's
 *   broadcast rules (`#chat:`; chats have no account) and a user's paper orders (`#orders:`; so
 *   they count apart from the user's alerts).
 * - Paper orders (core/orders) are records here too, so the live index and the change feed carry
 *   them to every instance; the store writes them in its changeOrder transaction (orderWrites).
 *   They are not alerts in the stats: the `activeAlerts` stats counter leaves them out.
 * - State changes are conditioned on the version the caller saw and on the alert being live, so of
 *   racing instances exactly one claims a firing.
 */
import { isLiveAlert, usernameOfOrderOwner, type PriceAlert } from '../../core/domain';
import type { AlertChanges, AlertFiring, Page, PageRequest } from '../../core/ports';
import {
  OWNER_COUNT_ID,
  alertItem,
  changeKeys,
  changeShardKey,
  changeTime,
  doneShardKey,
  isAlertItem,
  liveShardKey,
  stateKeys,
  timeKey,
  toAlert,
  type Item,
} from './items';
import { conditionFailed, deleteFound, eachLimited, type StoreIo, type WriteAction } from './io';
import { putMessage } from './outbox';
import { decodeCursor, encodeCursor, pageLimit } from './paging';
import { ALERT_SHARDS, COUNTER_SHARDS, type TableNames } from './tables';

/**
 * How far before the cursor listAlertChanges looks again. Change keys carry the writer's clock,
 * and a global index lags its table by a moment: a change stamped a little before the newest one
 * seen, by an instance whose clock is behind or whose write reached the index late, still comes
 * through. Such a change older than this is missed (the instance's clock would be badly off).
 */
const CHANGE_OVERLAP_MS = 30_000;
/** Firings claimed at once: DynamoDB takes far more, this bounds one instance's burst. */
const FIRE_CONCURRENCY = 25;
/** Re-reads for deleteAlert when the alert changed under it. */
const RACE_ATTEMPTS = 10;

const LIVE_STATES = { ':armed': 'armed', ':cooling': 'cooling' };
/** Users are [a-z0-9_]: an owner starting with `#` is a chat or an order owner, counted on its own
 *  `#live` item. */
const hasOwnCountItem = (owner: string) => owner.startsWith('#');
/** Orders are kept out of the stats' active alerts. */
const isAlertOwner = (owner: string) => usernameOfOrderOwner(owner) === undefined;

export class DynamoAlerts {
  constructor(
    private readonly io: StoreIo,
    private readonly t: TableNames,
  ) {}

  async createAlert(alert: PriceAlert, limit: number): Promise<'created' | 'limit'> {
    const put: WriteAction = {
      Put: {
        TableName: this.t.priceAlerts,
        Item: alertItem(alert),
        ConditionExpression: 'attribute_not_exists(#a)',
        ExpressionAttributeNames: { '#a': 'alertId' },
      },
    };
    if (!isLiveAlert(alert.state)) {
      if (await this.io.transact([put])) throw new Error(`Alert ${alert.alertId} already exists`);
      return 'created';
    }
    // The count is bumped in the same transaction, conditioned on the limit: racing creates
    // cannot both squeeze under it.
    const failed = await this.io.transact([this.ownerCountUnder(alert.username, limit), put, ...this.statsCount(alert.username, 1)]);
    if (!failed) return 'created';
    if (conditionFailed(failed, 0)) {
      if (!hasOwnCountItem(alert.username) && !failed.items[0]) throw new Error(`No account ${alert.username} for alert ${alert.alertId}`);
      return 'limit';
    }
    throw new Error(`Alert ${alert.alertId} already exists`);
  }

  /** The owner's partition, strongly consistent: a few alerts by design (the limit), plus finished ones until pruned. */
  async listAlerts(owner: string): Promise<PriceAlert[]> {
    const items = await this.io.queryAll({
      TableName: this.t.priceAlerts,
      KeyConditionExpression: '#u = :u',
      ExpressionAttributeNames: { '#u': 'username' },
      ExpressionAttributeValues: { ':u': owner },
      ConsistentRead: true,
    });
    return items
      .filter((i) => isAlertItem(i) && i.state !== 'removed')
      .map(toAlert)
      .sort((a, b) => a.createdAt - b.createdAt || (a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0));
  }

  async getAlert(owner: string, alertId: string): Promise<PriceAlert | null> {
    if (alertId.startsWith('#')) return null;
    const item = await this.io.get(this.t.priceAlerts, { username: owner, alertId });
    return item ? toAlert(item) : null;
  }

  /**
   * Soft: the alert becomes `removed` (and expires later), so that other instances' change feeds
   * see it go. The port gives no time, and the machine clock may not be the one the rest of the
   * data was written with (tests inject theirs), so the removal is stamped no earlier than the
   * newest change in the feed: every cursor handed out so far is at or before it, so every reader
   * sees the removal.
   */
  async deleteAlert(owner: string, alertId: string): Promise<boolean> {
    if (alertId.startsWith('#')) return false;
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      const item = await this.io.get(this.t.priceAlerts, { username: owner, alertId });
      if (!item || item.state === 'removed') return false;
      const current = toAlert(item);
      const at = Math.max(current.updatedAt + 1, await this.headTime());
      const removed: PriceAlert = { ...current, state: 'removed', version: current.version + 1, updatedAt: at };
      const actions: WriteAction[] = [
        {
          Put: {
            TableName: this.t.priceAlerts,
            Item: alertItem(removed),
            ConditionExpression: '#v = :v',
            ExpressionAttributeNames: { '#v': 'version' },
            ExpressionAttributeValues: { ':v': current.version },
          },
        },
      ];
      if (isLiveAlert(current.state)) actions.push(...this.liveCountDrop(owner));
      if (!(await this.io.transact(actions))) return true;
      // It changed since we read it (fired, say): read again.
    }
    throw new Error(`Alert ${alertId} kept changing; delete abandoned`);
  }

  /** Pages through the live shards of `state-index` in turn; the cursor is (shard, last key). */
  async listLiveAlerts(page: PageRequest): Promise<Page<PriceAlert>> {
    const limit = pageLimit(page);
    const start = page.cursor === undefined ? { s: 0, k: '' } : decodeCursor(page.cursor, { s: 'number', k: 'string' });
    const found: { shard: number; item: Item }[] = [];
    for (let shard = start.s as number; shard < ALERT_SHARDS && found.length <= limit; shard++) {
      const after = shard === start.s ? (start.k as string) : '';
      const items = await this.io.queryPage(
        {
          TableName: this.t.priceAlerts,
          IndexName: 'state-index',
          KeyConditionExpression: after ? '#s = :s AND #k > :k' : '#s = :s',
          ExpressionAttributeNames: { '#s': 'stateShard', ...(after ? { '#k': 'stateSk' } : {}) },
          ExpressionAttributeValues: { ':s': liveShardKey(shard), ...(after ? { ':k': after } : {}) },
        },
        limit - found.length,
      );
      found.push(...items.map((item) => ({ shard, item })));
    }
    const result: Page<PriceAlert> = { items: found.slice(0, limit).map((f) => toAlert(f.item)) };
    if (found.length > limit) {
      const last = found[limit - 1]!;
      result.next = encodeCursor({ s: last.shard, k: last.item.stateSk as string });
    }
    return result;
  }

  /** The newest change time in the feed (0 when there is none): derived from the data, not a clock. */
  async alertChangeCursor(): Promise<string> {
    return encodeCursor({ t: await this.headTime() });
  }

  /**
   * One range query per shard from the cursor (less the overlap); nothing changed means each
   * query reads only what changed within the overlap before the cursor. The new cursor is the
   * newest change seen.
   */
  async listAlertChanges(cursor: string, now?: number): Promise<AlertChanges> {
    const since = decodeCursor(cursor, { t: 'number' }).t as number;
    const from = timeKey(Math.max(0, since - CHANGE_OVERLAP_MS));
    const shards = await Promise.all(
      Array.from({ length: ALERT_SHARDS }, (_, n) =>
        this.io.queryAll({
          TableName: this.t.priceAlerts,
          IndexName: 'change-index',
          KeyConditionExpression: '#s = :s AND #k > :from',
          ExpressionAttributeNames: { '#s': 'changeShard', '#k': 'changeSk' },
          ExpressionAttributeValues: { ':s': changeShardKey(n), ':from': from },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const items = shards.flat();
    // Up to the caller's clock when it gives one: the next call then looks back only the overlap
    // from now, so changes older than that are not read again and again while nothing changes.
    const newest = items.reduce((t, i) => Math.max(t, changeTime(i.changeSk as string)), Math.max(since, now ?? 0));
    return { alerts: items.map(toAlert), cursor: encodeCursor({ t: newest }) };
  }

  /**
   * One transaction per firing (the alert's conditional update, its messages, the count when it
   * stops being live), FIRE_CONCURRENCY at a time. One owner's firings go one after another, so
   * that they do not conflict with each other on the owner's count; each parallel worker ADDs to
   * its own stats counter shard for the same reason.
   */
  async fireAlerts(firings: AlertFiring[]): Promise<Set<string>> {
    const byOwner = new Map<string, AlertFiring[]>();
    for (const f of firings) byOwner.set(f.username, [...(byOwner.get(f.username) ?? []), f]);
    const claimed = new Set<string>();
    const base = Math.floor(Math.random() * COUNTER_SHARDS);
    await eachLimited([...byOwner.values()], FIRE_CONCURRENCY, async (group, worker) => {
      for (const firing of group) if (await this.fireOne(firing, (base + worker) % COUNTER_SHARDS)) claimed.add(firing.alertId);
    });
    return claimed;
  }

  private async fireOne(f: AlertFiring, counterShard: number): Promise<boolean> {
    const finished = f.state === 'fired';
    const update: WriteAction = {
      Update: {
        TableName: this.t.priceAlerts,
        Key: { username: f.username, alertId: f.alertId },
        ...this.stateChange(f, { state: f.state, firedAt: f.at }, !finished, true),
      },
    };
    const counts = finished ? this.liveCountDrop(f.username, counterShard) : [];
    let messages = f.messages;
    for (;;) {
      const failed = await this.io.transact([update, ...messages.map((m) => putMessage(this.t.outbox, m)), ...counts]);
      if (!failed) return true;
      if (conditionFailed(failed, 0)) return false;
      // A message with this id is already queued (queuing is idempotent): claim without it.
      const queued = new Set(messages.filter((_, i) => conditionFailed(failed, i + 1)).map((m) => m.id));
      if (!queued.size) throw new Error(`Firing alert ${f.alertId} was refused for a reason other than its version`);
      messages = messages.filter((m) => !queued.has(m.id));
    }
  }

  async setAlertState(owner: string, alertId: string, version: number, state: 'armed' | 'expired', at: number): Promise<boolean> {
    const live = state === 'armed';
    const actions: WriteAction[] = [
      { Update: { TableName: this.t.priceAlerts, Key: { username: owner, alertId }, ...this.stateChange({ username: owner, alertId, version, at }, { state }, live) } },
    ];
    if (!live) actions.push(...this.liveCountDrop(owner));
    return !(await this.io.transact(actions));
  }

  /** Finished alerts by time, from the `done#n` shards; deleted in batches (they no longer count). */
  async pruneAlerts(before: number): Promise<number> {
    return deleteFound(
      this.io,
      this.t.priceAlerts,
      ALERT_SHARDS,
      (n) => ({
        TableName: this.t.priceAlerts,
        IndexName: 'state-index',
        KeyConditionExpression: '#s = :s AND #k < :before',
        ExpressionAttributeNames: { '#s': 'stateShard', '#k': 'stateSk', '#u': 'username', '#a': 'alertId' },
        ExpressionAttributeValues: { ':s': doneShardKey(n), ':before': timeKey(before) },
        ProjectionExpression: '#u, #a',
      }),
      (i) => ({ username: i.username, alertId: i.alertId }),
    );
  }

  // ---- orders: the record's part of the store's changeOrder transaction ---------------------------

  /**
   * The writes that put an order's record as given (see OrderChange), for the caller's
   * transaction: the Put, conditioned on the id being new (`expectedVersion` absent) or on the
   * stored record being live at `expectedVersion`; and, when the owner's open count changes, its
   * update: +1 under `limit` for a new open order, -1 when a change ends one.
   */
  orderWrites(order: PriceAlert, expectedVersion: number | undefined, limit: number | undefined): { put: WriteAction; count?: WriteAction } {
    const owner = order.username;
    const put: WriteAction = {
      Put: {
        TableName: this.t.priceAlerts,
        Item: alertItem(order),
        ...(expectedVersion === undefined
          ? { ConditionExpression: 'attribute_not_exists(#a)', ExpressionAttributeNames: { '#a': 'alertId' } }
          : {
              ConditionExpression: '#v = :v AND #state IN (:armed, :cooling)',
              ExpressionAttributeNames: { '#v': 'version', '#state': 'state' },
              ExpressionAttributeValues: { ':v': expectedVersion, ...LIVE_STATES },
            }),
      },
    };
    const live = isLiveAlert(order.state);
    if (expectedVersion === undefined) {
      if (!live) return { put };
      return { put, count: limit === undefined ? this.ownerCount(owner, 1) : this.ownerCountUnder(owner, limit) };
    }
    // The stored record was live (the condition says so): the count drops only if this ends it.
    return live ? { put } : { put, count: this.ownerCount(owner, -1) };
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** The counts that drop when a live record stops being live: its owner's, and the stats' for an alert. */
  private liveCountDrop(owner: string, counterShard?: number): WriteAction[] {
    return [this.ownerCount(owner, -1), ...this.statsCount(owner, -1, counterShard)];
  }

  /** The stats' active alerts, for alerts and broadcast rules only. */
  private statsCount(owner: string, delta: number, counterShard?: number): WriteAction[] {
    return isAlertOwner(owner) ? [this.io.count({ activeAlerts: delta }, counterShard)] : [];
  }

  /**
   * The update of a live alert at `version` to a new state at `at`: version + 1 (and fireCount + 1
   * for a firing), a new change key, and the state key moved to `done#n` when it stops being live.
   */
  private stateChange(f: { username: string; alertId: string; version: number; at: number }, fields: Record<string, unknown>, live: boolean, fires = false) {
    const set: Record<string, unknown> = { ...fields, updatedAt: f.at, ...changeKeys(f.username, f.alertId, f.at) };
    if (!live) Object.assign(set, stateKeys(f.username, f.alertId, false, f.at));
    const names: Record<string, string> = { '#v': 'version', '#state': 'state' };
    const values: Record<string, unknown> = { ':v': f.version, ':next': f.version + 1, ...LIVE_STATES };
    const parts = ['#v = :next'];
    if (fires) {
      Object.assign(names, { '#fc': 'fireCount' });
      Object.assign(values, { ':zero': 0, ':one': 1 });
      parts.push('#fc = if_not_exists(#fc, :zero) + :one');
    }
    for (const [i, [name, value]] of Object.entries(set).entries()) {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      parts.push(`#f${i} = :f${i}`);
    }
    return {
      UpdateExpression: `SET ${parts.join(', ')}`,
      ConditionExpression: '#v = :v AND #state IN (:armed, :cooling)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  /** The newest change time over the feed's shards: the last item of each, newest first. */
  private async headTime(): Promise<number> {
    const heads = await Promise.all(
      Array.from({ length: ALERT_SHARDS }, (_, n) =>
        this.io.query({
          TableName: this.t.priceAlerts,
          IndexName: 'change-index',
          KeyConditionExpression: '#s = :s',
          ExpressionAttributeNames: { '#s': 'changeShard', '#k': 'changeSk' },
          ExpressionAttributeValues: { ':s': changeShardKey(n) },
          ProjectionExpression: '#k',
          ScanIndexForward: false,
          Limit: 1,
        }),
      ),
    );
    return heads.reduce((t, { items }) => Math.max(t, ...items.map((i) => changeTime(i.changeSk as string))), 0);
  }

  /** +1 to the owner's live count if it is under `limit` (the account item must exist for a user). */
  private ownerCountUnder(owner: string, limit: number): WriteAction {
    const user = !hasOwnCountItem(owner);
    return {
      Update: {
        ...this.ownerCountItem(owner),
        UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one',
        ConditionExpression: `${user ? 'attribute_exists(#u) AND ' : ''}(attribute_not_exists(#n) OR #n < :limit)`,
        ExpressionAttributeNames: { '#n': 'activeAlerts', ...(user ? { '#u': 'username' } : {}) },
        ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':limit': limit },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  private ownerCount(owner: string, delta: number): WriteAction {
    return {
      Update: {
        ...this.ownerCountItem(owner),
        UpdateExpression: 'ADD #n :d',
        ExpressionAttributeNames: { '#n': 'activeAlerts' },
        ExpressionAttributeValues: { ':d': delta },
      },
    };
  }

  /** Where the owner's live count is kept: a user's account item, or the `#live` item of a chat or
   *  an order owner. */
  private ownerCountItem(owner: string) {
    return hasOwnCountItem(owner)
      ? { TableName: this.t.priceAlerts, Key: { username: owner, alertId: OWNER_COUNT_ID } }
      : { TableName: this.t.users, Key: { username: owner } };
  }
}
