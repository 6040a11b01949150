/**
 * How domain records are laid out as DynamoDB items, and back. Money stays a string (attribute
 * type S) exactly as the core wrote it: a DynamoDB Number would normalise "10000.00" to "10000"
 * and lib-dynamodb would turn it into a JavaScript float on the way out. Only the stats counters
 * are Numbers, written and read as exact decimal strings (NumberValue).
 *
 * Conversions back to the domain pick fields explicitly, so index and bookkeeping attributes
 * (sk, listPk, rev, ...) never leak into what the core sees.
 */
import type { Account, ActivityEntry, ChatState, Holding, LinkedIdentity, OrderTerms, OutboxMessage, Portfolio, PriceAlert, Transaction } from '../../core/domain';
import { isLiveAlert } from '../../core/domain';
import type { Attempts, ButtonSet, StoredButtons } from '../../core/ports';
import { ACCOUNTS_PARTITION, ACTIVITY_SHARDS, ALERT_SHARDS, COUNTER_SHARDS, OUTBOX_SHARDS, TRANSACTION_FEED_SHARDS } from './tables';

export type Item = Record<string, unknown>;

/** Trade idempotency records are kept this long after the trade, then left to TTL. */
export const TRADE_KEY_RETENTION_S = 30 * 24 * 60 * 60;

/** Epoch milliseconds as a fixed-width string, so sort keys order by time. */
export function timeKey(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`Timestamp ${ms} is not a non-negative integer of milliseconds`);
  return String(ms).padStart(16, '0');
}

/** Epoch seconds for a TTL attribute. */
export const ttlSeconds = (ms: number) => Math.ceil(ms / 1000);

export const normEmail = (email: string) => email.toLowerCase();

/** FNV-1a: a stable, well-spread shard choice from a string. */
export function hashShard(text: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

const two = (n: number) => String(n).padStart(2, '0');
export const counterShardKey = (n: number) => `stats#${two(n)}`;
export const randomCounterShard = () => counterShardKey(Math.floor(Math.random() * COUNTER_SHARDS));
export const feedShardKey = (n: number) => `tx#${n}`;
export const activityShardKey = (n: number) => `act#${n}`;
export const randomActivityShard = () => activityShardKey(Math.floor(Math.random() * ACTIVITY_SHARDS));

// ---- accounts -----------------------------------------------------------------------------------

export function accountItem(a: Account, rev: number): Item {
  return {
    username: a.username,
    email: a.email,
    emailNorm: normEmail(a.email),
    passwordHash: a.passwordHash,
    role: a.role,
    createdAt: a.createdAt,
    currency: a.currency,
    emailNotifications: a.emailNotifications,
    ...accountSettings(a),
    rev,
    listPk: ACCOUNTS_PARTITION,
  };
}

/** The optional notification settings: absent (never null) when unset. */
export const ACCOUNT_SETTINGS = ['alertDelivery', 'alertChat', 'timezone', 'digestHour', 'leaderboard'] as const;

function accountSettings(a: Partial<Account>): Item {
  const settings: Item = {};
  for (const name of ACCOUNT_SETTINGS) if (a[name] !== undefined && a[name] !== null) settings[name] = a[name];
  return settings;
}

export function toAccount(i: Item): Account {
  return {
    username: i.username as string,
    email: i.email as string,
    passwordHash: (i.passwordHash as string | null | undefined) ?? null,
    role: i.role as Account['role'],
    createdAt: i.createdAt as number,
    currency: i.currency as Account['currency'],
    emailNotifications: i.emailNotifications === true,
    ...(accountSettings(i as Partial<Account>) as Partial<Account>),
  };
}

// ---- portfolios and transactions ------------------------------------------------------------------

/** `reservedCash` is always written ('0' when nothing is held for orders); a holding's `reserved`
 *  only when it has one, so holdings without orders keep their old shape. */
export function portfolioItem(p: Portfolio): Item {
  const holdings: Record<string, Holding> = {};
  for (const [coinId, h] of Object.entries(p.holdings)) holdings[coinId] = holdingFields(h);
  return {
    username: p.username, cash: p.cash, reservedCash: p.reservedCash ?? '0', holdings, realizedPnl: p.realizedPnl, version: p.version,
    createdAt: p.createdAt, lastTradeAt: p.lastTradeAt,
  };
}

function holdingFields(h: Holding): Holding {
  const holding: Holding = { coinId: h.coinId, quantity: h.quantity, costBasis: h.costBasis };
  if (typeof h.reserved === 'string') holding.reserved = h.reserved;
  return holding;
}

export function toPortfolio(i: Item): Portfolio {
  const holdings: Portfolio['holdings'] = {};
  for (const [coinId, h] of Object.entries((i.holdings ?? {}) as Portfolio['holdings'])) holdings[coinId] = holdingFields(h);
  return {
    username: i.username as string,
    cash: i.cash as string,
    holdings,
    realizedPnl: i.realizedPnl as string,
    // Absent on portfolios written before orders existed: nothing is held.
    reservedCash: (i.reservedCash as string | undefined) ?? '0',
    version: i.version as number,
    createdAt: i.createdAt as number,
    // Absent on portfolios written before it existed; the store fills it in before a trade.
    lastTradeAt: (i.lastTradeAt as number | undefined) ?? 0,
  };
}

/** The transaction's own fields, also stored inside its idempotency record. */
export function transactionFields(t: Transaction): Item {
  const fields: Item = {
    transactionId: t.transactionId,
    username: t.username,
    type: t.type,
    coinId: t.coinId,
    quantity: t.quantity,
    price: t.price,
    amount: t.amount,
    fee: t.fee,
    timestamp: t.timestamp,
    platform: t.platform,
  };
  // Only a fill has an order; only trades since fill costs have a market price.
  for (const name of TRANSACTION_OPTIONAL) if (t[name] !== undefined) fields[name] = t[name];
  return fields;
}

const TRANSACTION_OPTIONAL = ['orderId', 'marketPrice'] as const;

export function transactionItem(t: Transaction): Item {
  const sk = `${timeKey(t.timestamp)}#${t.transactionId}`;
  return {
    ...transactionFields(t),
    sk,
    feedShard: feedShardKey(hashShard(t.transactionId, TRANSACTION_FEED_SHARDS)),
    // Unique across accounts (the username is part of it), so the merged feed pages without ties.
    feedSk: `${sk}#${t.username}`,
  };
}

export function toTransaction(i: Item): Transaction {
  const t: Transaction = {
    transactionId: i.transactionId as string,
    username: i.username as string,
    type: i.type as Transaction['type'],
    coinId: i.coinId as string,
    quantity: i.quantity as string,
    price: i.price as string,
    amount: i.amount as string,
    fee: i.fee as string,
    timestamp: i.timestamp as number,
    platform: i.platform as Transaction['platform'],
  };
  for (const name of TRANSACTION_OPTIONAL) if (typeof i[name] === 'string') t[name] = i[name];
  return t;
}

export const tradeKeyId = (username: string, key: string) => `trade#${username}#${key}`;
export const claimId = (key: string) => `claim#${key}`;
export const attemptsId = (key: string) => `attempts#${key}`;
/** The job leader's lease (src/leader.ts) and the prices it publishes, in the idempotency table. */
export const leaseId = (name: string) => `lease#${name}`;
export const PRICE_SNAPSHOT_ID = 'prices#latest';

export function toAttempts(i: Item): Attempts {
  return { count: i.count as number, firstAt: i.firstAt as number, lastAt: i.lastAt as number };
}

// ---- chat buttons -------------------------------------------------------------------------------

export const buttonsId = (id: string) => `buttons#${id}`;

export function buttonsItem(id: string, set: ButtonSet, expiresAt: number): Item {
  return { id: buttonsId(id), owner: set.owner, buttons: set.buttons, used: false, expiresAt, ttl: ttlSeconds(expiresAt) };
}

export function toStoredButtons(i: Item): StoredButtons {
  const stored: StoredButtons = { buttons: i.buttons as ButtonSet['buttons'], used: i.used === true };
  if (i.owner !== undefined) stored.owner = i.owner as string;
  return stored;
}

// ---- alerts ---------------------------------------------------------------------------------------

/** The sort key, in a chat's or an order owner's partition, of its live count (alert ids never start with #). */
export const OWNER_COUNT_ID = '#live';
export const isAlertItem = (i: Item) => !(i.alertId as string).startsWith('#');

/** How long a removed alert stays visible to other instances' change feeds before TTL may take it. */
const REMOVED_ALERT_RETENTION_S = 7 * 24 * 60 * 60;

const alertShard = (owner: string, alertId: string) => hashShard(`${owner}#${alertId}`, ALERT_SHARDS);
export const changeShardKey = (n: number) => `chg#${n}`;
export const liveShardKey = (n: number) => `live#${n}`;
export const doneShardKey = (n: number) => `done#${n}`;

/** The alert's place in the change feed: written on every write, so the feed is ordered by updatedAt. */
export function changeKeys(owner: string, alertId: string, updatedAt: number): Item {
  return { changeShard: changeShardKey(alertShard(owner, alertId)), changeSk: `${timeKey(updatedAt)}#${owner}#${alertId}` };
}

/** The epoch ms a change-feed sort key starts with. */
export const changeTime = (changeSk: string) => Number(changeSk.slice(0, 16));

/** Live alerts sit in `live#n` by owner and id (for paging); finished ones in `done#n` by time (for pruning). */
export function stateKeys(owner: string, alertId: string, live: boolean, updatedAt: number): Item {
  const n = alertShard(owner, alertId);
  return live
    ? { stateShard: liveShardKey(n), stateSk: `${owner}#${alertId}` }
    : { stateShard: doneShardKey(n), stateSk: `${timeKey(updatedAt)}#${owner}#${alertId}` };
}

const ALERT_OPTIONAL = ['targetPrice', 'movePercent', 'moveWindowMs', 'moveDirection', 'repeatMs', 'expiresAt', 'firedAt'] as const;

export function alertItem(a: PriceAlert): Item {
  const item: Item = {
    username: a.username,
    alertId: a.alertId,
    coinId: a.coinId,
    condition: a.condition,
    state: a.state,
    createdAt: a.createdAt,
    fireCount: a.fireCount,
    version: a.version,
    updatedAt: a.updatedAt,
    ...changeKeys(a.username, a.alertId, a.updatedAt),
    ...stateKeys(a.username, a.alertId, isLiveAlert(a.state), a.updatedAt),
  };
  for (const name of ALERT_OPTIONAL) if (a[name] !== undefined) item[name] = a[name];
  if (a.order) item.order = orderTerms(a.order);
  if (a.state === 'removed') item.ttl = ttlSeconds(a.updatedAt) + REMOVED_ALERT_RETENTION_S;
  return item;
}

export function toAlert(i: Item): PriceAlert {
  const alert: PriceAlert = {
    alertId: i.alertId as string,
    username: i.username as string,
    coinId: i.coinId as string,
    condition: i.condition as PriceAlert['condition'],
    state: i.state as PriceAlert['state'],
    createdAt: i.createdAt as number,
    fireCount: i.fireCount as number,
    version: i.version as number,
    updatedAt: i.updatedAt as number,
  };
  for (const name of ALERT_OPTIONAL) if (i[name] !== undefined && i[name] !== null) (alert as unknown as Item)[name] = i[name];
  if (i.order !== undefined && i.order !== null) alert.order = orderTerms(i.order as OrderTerms);
  return alert;
}

/** An order's terms as a map of strings, picked field by field both ways (so nothing else rides
 *  along, and an absent optional field stays absent rather than null). */
function orderTerms(o: OrderTerms): OrderTerms {
  const terms: OrderTerms = {
    side: o.side,
    type: o.type,
    amount: { kind: o.amount.kind, value: o.amount.value },
    reserved: o.reserved,
    platform: o.platform,
  };
  if (typeof o.transactionId === 'string') terms.transactionId = o.transactionId;
  if (typeof o.endReason === 'string') terms.endReason = o.endReason;
  return terms;
}

// ---- outbox and chats -----------------------------------------------------------------------------

/** Delivered and failed messages are kept this long, then left to TTL (pruneOutbox usually wins). */
export const OUTBOX_RETENTION_S = 7 * 24 * 60 * 60;

const pendingQueueKey = (id: string) => `pending#${hashShard(id, OUTBOX_SHARDS)}`;
export const settledQueueKey = (id: string) => `settled#${hashShard(id, OUTBOX_SHARDS)}`;

/** Pending messages are in the queue index by due time; settled ones by when they settled. */
export function outboxItem(m: OutboxMessage): Item {
  const pending = m.status === 'pending';
  const item: Item = {
    id: m.id,
    destination: m.destination,
    kind: m.kind,
    createdAt: m.createdAt,
    dueAt: m.dueAt,
    attempts: m.attempts,
    status: m.status,
    queue: pending ? pendingQueueKey(m.id) : settledQueueKey(m.id),
    queueAt: pending ? m.dueAt : (m.settledAt ?? m.createdAt),
  };
  if (m.username !== undefined) item.username = m.username;
  // A JSON string: the message comes back exactly as written (a map would turn numbers into
  // DynamoDB Numbers and drop undefined fields on the way).
  if (m.message !== undefined) item.message = JSON.stringify(m.message);
  if (m.email !== undefined) item.email = { subject: m.email.subject, body: m.email.body };
  if (m.leaseUntil !== undefined) item.leaseUntil = m.leaseUntil;
  if (m.error !== undefined) item.error = m.error;
  if (m.settledAt !== undefined) item.settledAt = m.settledAt;
  if (!pending) item.ttl = ttlSeconds(m.settledAt ?? m.createdAt) + OUTBOX_RETENTION_S;
  return item;
}

export function toOutboxMessage(i: Item): OutboxMessage {
  const m: OutboxMessage = {
    id: i.id as string,
    destination: i.destination as string,
    kind: i.kind as OutboxMessage['kind'],
    createdAt: i.createdAt as number,
    dueAt: i.dueAt as number,
    attempts: i.attempts as number,
    status: i.status as OutboxMessage['status'],
  };
  if (typeof i.username === 'string') m.username = i.username;
  if (typeof i.message === 'string') m.message = JSON.parse(i.message) as OutboxMessage['message'];
  if (i.email !== undefined) {
    const email = i.email as { subject: string; body: string };
    m.email = { subject: email.subject, body: email.body };
  }
  if (typeof i.leaseUntil === 'number') m.leaseUntil = i.leaseUntil;
  if (typeof i.error === 'string') m.error = i.error;
  if (typeof i.settledAt === 'number') m.settledAt = i.settledAt;
  return m;
}

export function toChatState(i: Item): ChatState {
  const state: ChatState = { address: i.address as string };
  if (typeof i.unreachableSince === 'number') state.unreachableSince = i.unreachableSince;
  if (typeof i.unreachableReason === 'string') state.unreachableReason = i.unreachableReason;
  if (i.broadcastsPaused === true) state.broadcastsPaused = true;
  return state;
}

// ---- identities and activity ----------------------------------------------------------------------

export function toIdentity(i: Item): LinkedIdentity {
  const identity: LinkedIdentity = { key: i.key as string, platform: i.platform as LinkedIdentity['platform'], username: i.username as string, linkedAt: i.linkedAt as number };
  if (typeof i.unreachableSince === 'number') identity.unreachableSince = i.unreachableSince;
  return identity;
}

/**
 * Activity of an unlinked identity is kept under `#<identity key>`: usernames are [a-z0-9_], so
 * such an owner can never collide with an account's.
 */
export const activityOwner = (e: Pick<ActivityEntry, 'username' | 'identityKey'>) => e.username ?? `#${e.identityKey}`;

let activitySeq = 0;
const processTag = Math.random().toString(36).slice(2, 8);

/** Time, then a per-process sequence (newest last within one millisecond), then a process tag. */
export function activitySortKey(at: number): string {
  activitySeq = (activitySeq + 1) % 36 ** 8;
  return `${timeKey(at)}#${activitySeq.toString(36).padStart(8, '0')}#${processTag}`;
}

export function toActivity(i: Item): ActivityEntry {
  return {
    at: i.at as number,
    identityKey: i.identityKey as string,
    platform: i.platform as ActivityEntry['platform'],
    username: (i.username as string | null | undefined) ?? null,
    command: i.command as string,
    detail: i.detail as string,
    outcome: i.outcome as ActivityEntry['outcome'],
  };
}
