/**
 * The Store on Amazon DynamoDB, one table per kind of record (see README.md and tables.ts).
 *
 * Everything that must change together is one TransactWriteItems with conditions, so no reader
 * ever sees half a change and no race slips past a check: an account with its email, portfolio
 * and identity; a trade with its portfolio, ledger entry, idempotency record and counters; an
 * alert with its owner's alert count; an order's step with its portfolio change (and, for a fill,
 * everything a trade writes). Trades and order steps are optimistic: the portfolio write is
 * conditioned on the version that was read, and a lost race re-reads and re-plans.
 *
 * stats() never scans: counters live on a few sharded items, updated inside the same
 * transactions as the records they count.
 */
import { randomUUID } from 'node:crypto';
import { BatchGetItemCommand, DescribeTableCommand, ResourceNotFoundException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  NumberValue,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Account, ActivityEntry, ChatState, Coin, LinkedIdentity, OutboxMessage, Portfolio, PortfolioSnapshot, PriceAlert, Quote, Role, SystemStats, Transaction } from '../../core/domain';
import { ROLES, isLiveAlert, orderOwner } from '../../core/domain';
import { Dec, toStored } from '../../core/money';
import { applyPlan, applyPortfolioPlan } from '../../core/trading';
import {
  ConflictError,
  type AccountPatch,
  type AlertChanges,
  type AlertFiring,
  type OutboxSettlement,
  type Attempts,
  type ButtonSet,
  type FiatRates,
  type OrderChange,
  type OrderOutcome,
  type Page,
  type PageRequest,
  type PriceSnapshot,
  type PriceSourceStatus,
  type Store,
  type StoredButtons,
  type TradeOutcome,
  type TradePlan,
} from '../../core/ports';
import { DynamoAlerts } from './alerts';
import { createClients, type DynamoClients, type DynamoConnection } from './client';
import { conditionFailed, eachLimited, type StoreIo, type WriteAction } from './io';
import { DynamoOutbox, putMessage } from './outbox';
import { DynamoWatchlist } from './watchlist';
import { DynamoSnapshots } from './snapshots';
import {
  ACCOUNT_SETTINGS,
  accountItem,
  activityOwner,
  activitySortKey,
  activityShardKey,
  attemptsId,
  buttonsItem,
  buttonsId,
  claimId,
  counterShardKey,
  feedShardKey,
  leaseId,
  normEmail,
  PRICE_SNAPSHOT_ID,
  portfolioItem,
  randomActivityShard,
  randomCounterShard,
  toAccount,
  toActivity,
  toAttempts,
  toIdentity,
  toStoredButtons,
  toPortfolio,
  toTransaction,
  TRADE_KEY_RETENTION_S,
  tradeKeyId,
  transactionFields,
  transactionItem,
  ttlSeconds,
  type Item,
} from './items';
import { KeyedQueue } from './keyed-queue';
import { decodeCursor, nextCursor, pageLimit, type CursorKey } from './paging';
import { backoffDelay, type BackoffOptions } from '../support/backoff';
import { DEFAULT_BACKOFF, cancellation, retryTransient, sleep, type Cancellation } from './retry';
import {
  ACCOUNTS_PARTITION,
  ACTIVITY_SHARDS,
  COUNTER_SHARDS,
  STORE_TABLES,
  TRACKED_COINS_PARTITION,
  TRANSACTION_FEED_SHARDS,
  tableNames,
  type TableNames,
} from './tables';


/** Claim keys this far past their expiry may be claimed again (as in the SQLite store). */
const CLAIM_SWEEP_MS = 7 * 24 * 60 * 60 * 1000;
/** A lease item outlives its expiry by a day before TTL may sweep it, so that an operator looking
 *  at the table after an outage still sees who held it last. */
const LEASE_TTL_SLACK_S = 24 * 60 * 60;
/** Attempts for one transaction that keeps meeting conflicts or throttling. */
const TRANSIENT_ATTEMPTS = 10;
/** Re-plans of a trade that keeps losing the version race to other instances. */
const VERSION_ATTEMPTS = 25;
/** Re-reads for read-then-write operations (account updates, attempt windows; alerts.ts has its own for deletes) that lost a race. */
const RACE_ATTEMPTS = 10;
/** Identity queries in flight at once in listIdentitiesOf. */
const IDENTITY_QUERY_CONCURRENCY = 16;
const TRADE_BACKOFF: BackoffOptions = { baseMs: 5, maxMs: 200, jitter: 'full' };

export interface DynamoDbStoreOptions extends DynamoConnection {
  tablePrefix: string;
  /** Activity entries get a TTL this many days after they happened; pruneActivity usually wins. */
  activityRetentionDays?: number;
}

export class DynamoDbStore implements Store {
  static open(options: DynamoDbStoreOptions): DynamoDbStore {
    return new DynamoDbStore(createClients(options), options.tablePrefix, options.activityRetentionDays);
  }

  private readonly t: TableNames;
  /** Serializes this instance's trades per account; see keyed-queue.ts. */
  private readonly trades = new KeyedQueue();
  private readonly alerts: DynamoAlerts;
  private readonly outbox: DynamoOutbox;
  private readonly watchlist: DynamoWatchlist;
  private readonly snapshots: DynamoSnapshots;

  constructor(
    private readonly clients: DynamoClients,
    tablePrefix: string,
    private readonly activityRetentionDays = 30,
  ) {
    this.t = tableNames(tablePrefix);
    const io = this.io();
    this.alerts = new DynamoAlerts(io, this.t);
    this.outbox = new DynamoOutbox(io, this.t);
    this.watchlist = new DynamoWatchlist(io, this.t.users);
    this.snapshots = new DynamoSnapshots(io, this.t.portfolioSnapshots, this.t.chatMembers);
  }

  private get doc() {
    return this.clients.doc;
  }

  // ---- accounts ---------------------------------------------------------------------------------

  async createAccount(account: Account, startCash: string, identity?: LinkedIdentity): Promise<void> {
    const notExists = (attr: string) => ({ ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': attr } });
    const actions: WriteAction[] = [
      { Put: { TableName: this.t.users, Item: accountItem(account, 0), ...notExists('username') } },
      { Put: { TableName: this.t.userEmails, Item: { email: normEmail(account.email), username: account.username }, ...notExists('email') } },
      {
        Put: {
          TableName: this.t.portfolios,
          Item: portfolioItem({ username: account.username, cash: startCash, holdings: {}, realizedPnl: '0', version: 0, createdAt: account.createdAt, lastTradeAt: 0 }),
          ...notExists('username'),
        },
      },
    ];
    if (identity) actions.push({ Put: { TableName: this.t.identities, Item: { ...identity }, ...notExists('key') } });
    actions.push(this.count({ [`accounts_${account.role}`]: 1, ...(identity ? { identities: 1 } : {}) }));

    const failed = await this.transact(actions);
    if (!failed) return;
    // Same precedence as the embedded store: username, then email, then identity.
    if (conditionFailed(failed, 0) || conditionFailed(failed, 2)) throw new ConflictError('username');
    if (conditionFailed(failed, 1)) throw new ConflictError('email');
    throw new ConflictError('identity');
  }

  async getAccount(username: string): Promise<Account | null> {
    const item = await this.get(this.t.users, { username });
    return item?.listPk === ACCOUNTS_PARTITION ? toAccount(item) : null;
  }

  /** BatchGetItem, 100 keys a request (see batchGet), consistent like getAccount. Keys are made
   *  distinct first: DynamoDB rejects a request that names one key twice. */
  async getAccounts(usernames: string[]): Promise<Map<string, Account>> {
    const keys = [...new Set(usernames)].map((username) => ({ username }));
    const items = keys.length ? await this.batchGet(this.t.users, keys) : [];
    const accounts = new Map<string, Account>();
    for (const item of items) if (item.listPk === ACCOUNTS_PARTITION) accounts.set(item.username as string, toAccount(item));
    return accounts;
  }

  /**
   * Through the seed's email index. A global index is only eventually consistent, so each hit is
   * checked against the account itself (read consistently): a stale index entry left by an email
   * change can delay a lookup by a moment, never return the wrong account.
   */
  async getAccountByEmail(email: string): Promise<Account | null> {
    const emailNorm = normEmail(email);
    const hits = await this.queryAll({
      TableName: this.t.users,
      IndexName: 'email-index',
      KeyConditionExpression: '#e = :e',
      ExpressionAttributeNames: { '#e': 'emailNorm' },
      ExpressionAttributeValues: { ':e': emailNorm },
    });
    for (const hit of hits) {
      const item = await this.get(this.t.users, { username: hit.username });
      if (item?.emailNorm === emailNorm && item.listPk === ACCOUNTS_PARTITION) return toAccount(item);
    }
    return null;
  }

  async updateAccount(username: string, patch: AccountPatch): Promise<Account | null> {
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      const item = await this.get(this.t.users, { username });
      if (!item || item.listPk !== ACCOUNTS_PARTITION) return null;
      const current = toAccount(item);
      const updated: Account = { ...current, ...definedOnly(patch) };
      // A setting patched to null (digestHour) is removed, as if never set.
      for (const name of ACCOUNT_SETTINGS) if (updated[name] === null) delete updated[name];
      const oldEmail = normEmail(current.email);
      const newEmail = normEmail(updated.email);

      const names: Record<string, string> = {
        '#email': 'email', '#norm': 'emailNorm', '#hash': 'passwordHash', '#role': 'role',
        '#cur': 'currency', '#notify': 'emailNotifications', '#rev': 'rev',
      };
      const values: Record<string, unknown> = {
        ':email': updated.email, ':norm': newEmail, ':hash': updated.passwordHash, ':role': updated.role,
        ':cur': updated.currency, ':notify': updated.emailNotifications, ':rev': item.rev, ':next': (item.rev as number) + 1,
      };
      const set = ['#email = :email', '#norm = :norm', '#hash = :hash', '#role = :role', '#cur = :cur', '#notify = :notify', '#rev = :next'];
      const remove: string[] = [];
      for (const name of ACCOUNT_SETTINGS) {
        names[`#${name}`] = name;
        if (updated[name] === undefined) remove.push(`#${name}`);
        else {
          values[`:${name}`] = updated[name];
          set.push(`#${name} = :${name}`);
        }
      }

      // `rev` guards the read-modify-write; the email claim and role counters follow the account.
      const actions: WriteAction[] = [
        {
          Update: {
            TableName: this.t.users,
            Key: { username },
            UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
            ConditionExpression: '#rev = :rev',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
      ];
      if (newEmail !== oldEmail) {
        actions.push(
          {
            Put: {
              TableName: this.t.userEmails,
              Item: { email: newEmail, username },
              ConditionExpression: 'attribute_not_exists(#k)',
              ExpressionAttributeNames: { '#k': 'email' },
            },
          },
          { Delete: { TableName: this.t.userEmails, Key: { email: oldEmail } } },
        );
      }
      if (updated.role !== current.role) actions.push(this.count({ [`accounts_${current.role}`]: -1, [`accounts_${updated.role}`]: 1 }));

      const failed = await this.transact(actions);
      if (!failed) return updated;
      if (newEmail !== oldEmail && conditionFailed(failed, 1)) throw new ConflictError('email');
      // The account changed since we read it: read again.
    }
    throw new Error(`Account ${username} kept changing; update abandoned`);
  }

  async listAccounts(page: PageRequest): Promise<Page<Account>> {
    const limit = pageLimit(page);
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, { listPk: 'string', username: 'string' }, { listPk: ACCOUNTS_PARTITION });
    const items = await this.queryPage(
      {
        TableName: this.t.users,
        IndexName: 'username-index',
        KeyConditionExpression: '#p = :p',
        ExpressionAttributeNames: { '#p': 'listPk' },
        ExpressionAttributeValues: { ':p': ACCOUNTS_PARTITION },
        ExclusiveStartKey: start,
      },
      limit,
    );
    return toPage(items, limit, toAccount, (i) => ({ listPk: ACCOUNTS_PARTITION, username: i.username as string }));
  }

  // ---- identities and link codes ----------------------------------------------------------------

  async findIdentity(key: string): Promise<LinkedIdentity | null> {
    const item = await this.get(this.t.identities, { key });
    return item ? toIdentity(item) : null;
  }

  async linkIdentity(identity: LinkedIdentity): Promise<void> {
    const failed = await this.transact([
      {
        Put: {
          TableName: this.t.identities,
          Item: { ...identity },
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': 'key' },
        },
      },
      this.count({ identities: 1 }),
    ]);
    if (failed) throw new ConflictError('identity');
  }

  async unlinkIdentity(key: string): Promise<boolean> {
    const failed = await this.transact([
      {
        Delete: {
          TableName: this.t.identities,
          Key: { key },
          ConditionExpression: 'attribute_exists(#k)',
          ExpressionAttributeNames: { '#k': 'key' },
        },
      },
      this.count({ identities: -1 }),
    ]);
    return !failed;
  }

  /** Through a global index: eventually consistent, like every listing of secondary data here. */
  async listIdentities(username: string): Promise<LinkedIdentity[]> {
    const items = await this.queryAll({
      TableName: this.t.identities,
      IndexName: 'username-index',
      KeyConditionExpression: '#u = :u',
      ExpressionAttributeNames: { '#u': 'username' },
      ExpressionAttributeValues: { ':u': username },
    });
    return items.map(toIdentity).sort((a, b) => a.linkedAt - b.linkedAt || a.key.localeCompare(b.key));
  }

  /** There is no batch query: one listIdentities per distinct username, IDENTITY_QUERY_CONCURRENCY
   *  at a time (a few hundred owners must not become a few hundred requests in flight at once). */
  async listIdentitiesOf(usernames: string[]): Promise<Map<string, LinkedIdentity[]>> {
    const lists = new Map<string, LinkedIdentity[]>();
    await eachLimited([...new Set(usernames)], IDENTITY_QUERY_CONCURRENCY, async (username) => {
      lists.set(username, await this.listIdentities(username));
    });
    return lists;
  }

  async saveLinkCode(codeHash: string, username: string, expiresAt: number): Promise<void> {
    // TTL only sweeps (it can lag by days); consumeLinkCode checks the expiry itself.
    await this.doc.send(new PutCommand({ TableName: this.t.linkCodes, Item: { codeHash, username, expiresAt, ttl: ttlSeconds(expiresAt) } }));
  }

  async consumeLinkCode(codeHash: string, now: number): Promise<string | null> {
    // A conditional delete that returns the old item: of two racing consumers only one passes the
    // condition. (The condition matters: without it DynamoDB Local hands the old item to both.)
    let old: Item | undefined;
    try {
      const out = await this.doc.send(
        new DeleteCommand({
          TableName: this.t.linkCodes,
          Key: { codeHash },
          ConditionExpression: 'attribute_exists(#k)',
          ExpressionAttributeNames: { '#k': 'codeHash' },
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = out.Attributes;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return null;
      throw error;
    }
    return old && (old.expiresAt as number) > now ? (old.username as string) : null;
  }

  // ---- portfolios and trades --------------------------------------------------------------------

  async getPortfolio(username: string): Promise<Portfolio | null> {
    const item = await this.get(this.t.portfolios, { username });
    return item ? toPortfolio(item) : null;
  }

  async executeTrade(username: string, idempotencyKey: string, plan: (current: Portfolio) => TradePlan): Promise<TradeOutcome> {
    return this.trades.run(username, () => this.tradeOptimistically(username, idempotencyKey, plan));
  }

  private async tradeOptimistically(username: string, idempotencyKey: string, plan: (current: Portfolio) => TradePlan): Promise<TradeOutcome> {
    const keyId = tradeKeyId(username, idempotencyKey);
    // Messages found already queued (their ids are deterministic): the trade goes ahead without them.
    const queued = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const [earlier, current] = await Promise.all([this.get(this.t.idempotency, { id: keyId }), this.readPortfolio(username)]);
      if (earlier) return { status: 'duplicate', transaction: toTransaction(earlier.transaction as Item) };
      if (!current) return { status: 'rejected', reason: 'No portfolio for this account.' };

      // The plan re-checks cash and holdings on every attempt, so a lost race that leaves too
      // little money ends as the same "not enough" answer the embedded store gives.
      const decision = applyPlan(username, current, plan);
      if (!decision.ok) return { status: 'rejected', reason: decision.reason };
      const { transaction } = decision;
      const messages = decision.messages.filter((m) => !queued.has(m.id));

      const failed = await this.transact([
        this.portfolioPut(decision.portfolio, current.version),
        ...this.tradeWrites(keyId, transaction),
        // The confirmation email and the like, queued atomically with the trade.
        ...messages.map((m) => putMessage(this.t.outbox, m)),
      ]);
      if (!failed) return { status: 'done', portfolio: stored(decision.portfolio), transaction };

      if (conditionFailed(failed, 1) || conditionFailed(failed, 2)) {
        // Another instance ran the same key (the same message) first: report what it did. Either
        // condition can be the one reported, as DynamoDB Local names only the first that failed.
        const record = await this.get(this.t.idempotency, { id: keyId });
        if (record) return { status: 'duplicate', transaction: toTransaction(record.transaction as Item) };
        if (conditionFailed(failed, 1)) {
          throw new Error(`Transaction ${transaction.transactionId} at ${transaction.timestamp} is already in ${username}'s ledger`);
        }
      }
      if (addQueued(failed, messages, 4, queued)) continue;
      // The portfolio moved on since we read it: read it again and re-plan.
      await this.lostVersionRace(attempt, `Trade for ${username}`);
    }
  }

  async changeOrder(username: string, change: OrderChange): Promise<OrderOutcome> {
    // Someone else's record, or an alert passed as an order, is the caller's bug: refuse loudly.
    if (change.order.username !== orderOwner(username) || !change.order.order) {
      throw new Error(`changeOrder for ${username} was given ${change.order.username}'s record ${change.order.alertId}`);
    }
    // In the same per-account queue as trades: this instance's steps on one portfolio do not race each other.
    return this.trades.run(username, () => this.orderOptimistically(username, change));
  }

  /**
   * As tradeOptimistically, with the order's record in the transaction: its Put conditioned on
   * the order being new or live at the expected version, and the owner's open-order count. The
   * order is checked on every attempt, so a race lost to another instance's change of the same
   * order (a fill on two instances at once) ends as `stale`, not as a second write.
   */
  private async orderOptimistically(username: string, { order, expectedVersion, limit, plan }: OrderChange): Promise<OrderOutcome> {
    // The same record executeTrade checks: a trade with this key is this fill.
    const keyId = tradeKeyId(username, `order:${order.alertId}`);
    const reread = async (): Promise<OrderOutcome> => ({ status: 'stale', current: await this.alerts.getAlert(order.username, order.alertId) });
    const queued = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      // The portfolio first, then the order, not both at once: two reads are no snapshot, and a
      // portfolio newer than the order (read after another instance's fill committed, the order
      // before) would have the plan fill an order whose reservation is gone. Every order step
      // bumps the portfolio version, so an order read after the portfolio is either as it was
      // then, or newer and the portfolio's condition fails and we read again.
      const current = await this.readPortfolio(username);
      const existing = await this.alerts.getAlert(order.username, order.alertId);
      const fresh = expectedVersion === undefined ? !existing : existing !== null && isLiveAlert(existing.state) && existing.version === expectedVersion;
      if (!fresh) return { status: 'stale', current: existing };
      if (!current) return { status: 'rejected', reason: 'No portfolio for this account.' };

      const decision = applyPortfolioPlan(username, current, plan);
      if (!decision.ok) return { status: 'rejected', reason: decision.reason };
      const { transaction } = decision;
      const messages = decision.messages.filter((m) => !queued.has(m.id));

      // Indexes matter: a cancellation names failed conditions by position.
      const { put, count } = this.alerts.orderWrites(order, expectedVersion, limit);
      const actions: WriteAction[] = [this.portfolioPut(decision.portfolio, current.version), put];
      const countAt = count ? actions.push(count) - 1 : -1;
      const tradeAt = actions.length;
      if (transaction) actions.push(...this.tradeWrites(keyId, transaction));
      const messagesAt = actions.length;
      actions.push(...messages.map((m) => putMessage(this.t.outbox, m)));

      const failed = await this.transact(actions);
      if (!failed) return { status: 'done', portfolio: stored(decision.portfolio), ...(transaction && { transaction }) };

      // The order changed (or was placed) since we read it: say how it is now.
      if (conditionFailed(failed, 1)) return reread();
      if (countAt >= 0 && conditionFailed(failed, countAt)) return { status: 'limit' };
      if (transaction && (conditionFailed(failed, tradeAt) || conditionFailed(failed, tradeAt + 1))) {
        // The fill's key is used: it was filled already (DynamoDB Local names only the first
        // failed condition, so the ledger's may stand for it).
        if (await this.get(this.t.idempotency, { id: keyId })) return reread();
        throw new Error(`Transaction ${transaction.transactionId} at ${transaction.timestamp} is already in ${username}'s ledger`);
      }
      if (addQueued(failed, messages, messagesAt, queued)) continue;
      await this.lostVersionRace(attempt, `Order ${order.alertId} for ${username}`);
    }
  }

  /** The portfolio as a plan sees it, or null when the account has none. */
  private async readPortfolio(username: string): Promise<Portfolio | null> {
    const row = await this.get(this.t.portfolios, { username });
    if (!row) return null;
    const current = toPortfolio(row);
    // A portfolio written before lastTradeAt existed: its latest trade says the same.
    if (row.lastTradeAt === undefined) current.lastTradeAt = await this.latestTradeAt(username);
    return current;
  }

  /** The planned portfolio, written only if it is still at the version it was planned from. */
  private portfolioPut(portfolio: Portfolio, expectedVersion: number): WriteAction {
    return {
      Put: {
        TableName: this.t.portfolios,
        Item: portfolioItem(portfolio),
        ConditionExpression: '#v = :expected',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':expected': expectedVersion },
      },
    };
  }

  /**
   * What a trade writes besides its portfolio, for a market trade and an order's fill alike: the
   * ledger entry (its time key unique), the idempotency record (new; a copy of the transaction,
   * which a repeat of the key reports) and the stats counters. Three actions, in this order.
   */
  private tradeWrites(keyId: string, transaction: Transaction): WriteAction[] {
    return [
      {
        Put: {
          TableName: this.t.transactions,
          Item: transactionItem(transaction),
          ConditionExpression: 'attribute_not_exists(#sk)',
          ExpressionAttributeNames: { '#sk': 'sk' },
        },
      },
      {
        Put: {
          TableName: this.t.idempotency,
          Item: { id: keyId, transaction: transactionFields(transaction), ttl: ttlSeconds(transaction.timestamp) + TRADE_KEY_RETENTION_S },
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': 'id' },
        },
      },
      // Exact: the amount goes over the wire as the decimal string, DynamoDB adds decimals exactly.
      this.count({ transactions: 1, [`${transaction.type}Volume`]: NumberValue.from(transaction.amount) }),
    ];
  }

  /** Another writer moved the portfolio on: back off before re-reading, or give up after many tries. */
  private async lostVersionRace(attempt: number, what: string): Promise<void> {
    if (attempt + 1 >= VERSION_ATTEMPTS) throw new Error(`${what} lost the race ${VERSION_ATTEMPTS} times; try again`);
    await sleep(backoffDelay(attempt, TRADE_BACKOFF));
  }

  private async latestTradeAt(username: string): Promise<number> {
    const [latest] = (await this.listTransactions(username, { limit: 1 })).items;
    return latest?.timestamp ?? 0;
  }

  async listTransactions(username: string, page: PageRequest): Promise<Page<Transaction>> {
    const limit = pageLimit(page);
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, { username: 'string', sk: 'string' }, { username });
    const items = await this.queryPage(
      {
        TableName: this.t.transactions,
        KeyConditionExpression: '#u = :u',
        ExpressionAttributeNames: { '#u': 'username' },
        ExpressionAttributeValues: { ':u': username },
        ScanIndexForward: false,
        ExclusiveStartKey: start,
      },
      limit,
    );
    return toPage(items, limit, toTransaction, (i) => ({ username, sk: i.sk as string }));
  }

  /**
   * The feed index is split into TRANSACTION_FEED_SHARDS partitions; each page queries every shard
   * for its newest `limit + 1` entries before the cursor and merges them.
   */
  async listAllTransactions(page: PageRequest): Promise<Page<Transaction>> {
    const limit = pageLimit(page);
    const before = page.cursor === undefined ? undefined : (decodeCursor(page.cursor, { feedSk: 'string' }).feedSk as string);
    const shards = await Promise.all(
      Array.from({ length: TRANSACTION_FEED_SHARDS }, (_, n) =>
        this.queryPage(
          {
            TableName: this.t.transactions,
            IndexName: 'feed-index',
            KeyConditionExpression: before === undefined ? '#s = :s' : '#s = :s AND #f < :before',
            ExpressionAttributeNames: { '#s': 'feedShard', ...(before === undefined ? {} : { '#f': 'feedSk' }) },
            ExpressionAttributeValues: { ':s': feedShardKey(n), ...(before === undefined ? {} : { ':before': before }) },
            ScanIndexForward: false,
          },
          limit,
        ),
      ),
    );
    const merged = shards
      .flat()
      .sort((a, b) => ((a.feedSk as string) < (b.feedSk as string) ? 1 : -1))
      .slice(0, limit + 1);
    return toPage(merged, limit, toTransaction, (i) => ({ feedSk: i.feedSk as string }));
  }

  // ---- alerts (alerts.ts), outbox and chat states (outbox.ts) ---------------------------------------

  createAlert(alert: PriceAlert, limit: number): Promise<'created' | 'limit'> {
    return this.alerts.createAlert(alert, limit);
  }
  listAlerts(username: string): Promise<PriceAlert[]> {
    return this.alerts.listAlerts(username);
  }
  getAlert(username: string, alertId: string): Promise<PriceAlert | null> {
    return this.alerts.getAlert(username, alertId);
  }
  deleteAlert(username: string, alertId: string): Promise<boolean> {
    return this.alerts.deleteAlert(username, alertId);
  }
  listLiveAlerts(page: PageRequest): Promise<Page<PriceAlert>> {
    return this.alerts.listLiveAlerts(page);
  }
  alertChangeCursor(): Promise<string> {
    return this.alerts.alertChangeCursor();
  }
  listAlertChanges(cursor: string, now?: number): Promise<AlertChanges> {
    return this.alerts.listAlertChanges(cursor, now);
  }
  fireAlerts(firings: AlertFiring[]): Promise<Set<string>> {
    return this.alerts.fireAlerts(firings);
  }
  setAlertState(username: string, alertId: string, version: number, state: 'armed' | 'expired', at: number): Promise<boolean> {
    return this.alerts.setAlertState(username, alertId, version, state, at);
  }
  pruneAlerts(before: number): Promise<number> {
    return this.alerts.pruneAlerts(before);
  }

  enqueueMessages(messages: OutboxMessage[]): Promise<void> {
    return this.outbox.enqueueMessages(messages);
  }
  leaseOutbox(now: number, limit: number, leaseMs: number): Promise<OutboxMessage[]> {
    return this.outbox.leaseOutbox(now, limit, leaseMs);
  }
  settleOutbox(id: string, outcome: OutboxSettlement): Promise<void> {
    return this.outbox.settleOutbox(id, outcome);
  }
  getOutboxMessage(id: string): Promise<OutboxMessage | null> {
    return this.outbox.getOutboxMessage(id);
  }
  pruneOutbox(before: number): Promise<number> {
    return this.outbox.pruneOutbox(before);
  }
  getChatStates(addresses: string[]): Promise<Map<string, ChatState>> {
    return this.outbox.getChatStates(addresses);
  }
  markUnreachable(address: string, reason: string, at: number): Promise<void> {
    return this.outbox.markUnreachable(address, reason, at);
  }
  clearUnreachable(address: string): Promise<void> {
    return this.outbox.clearUnreachable(address);
  }
  setBroadcastsPaused(chatAddress: string, paused: boolean): Promise<void> {
    return this.outbox.setBroadcastsPaused(chatAddress, paused);
  }

  // ---- coins, claims, activity ------------------------------------------------------------------

  async listCoins(): Promise<Coin[]> {
    const items = await this.queryAll(this.trackedCoinsQuery());
    return items.map((i) => ({ id: i.coinId as string, symbol: i.symbol as string, name: i.name as string }));
  }

  async addCoin(coin: Coin): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.t.trackedCoins,
          Item: { scope: TRACKED_COINS_PARTITION, coinId: coin.id, symbol: coin.symbol, name: coin.name },
          ConditionExpression: 'attribute_not_exists(#c)',
          ExpressionAttributeNames: { '#c': 'coinId' },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ConflictError('coin');
      throw error;
    }
  }

  async removeCoin(coinId: string): Promise<boolean> {
    // Conditional, so that of two racing removals exactly one reports true (see consumeLinkCode).
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.t.trackedCoins,
          Key: { scope: TRACKED_COINS_PARTITION, coinId },
          ConditionExpression: 'attribute_exists(#c)',
          ExpressionAttributeNames: { '#c': 'coinId' },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** On the account item (see watchlist.ts). */
  async addToWatchlist(username: string, coinId: string, limit: number): Promise<'added' | 'exists' | 'limit'> {
    return this.watchlist.add(username, coinId, limit);
  }

  async removeFromWatchlist(username: string, coinId: string): Promise<boolean> {
    return this.watchlist.remove(username, coinId);
  }

  async getWatchlist(username: string): Promise<string[]> {
    return this.watchlist.list(username);
  }

  /** Snapshots and chat members: see snapshots.ts. */
  savePortfolioSnapshots(snapshots: PortfolioSnapshot[]): Promise<void> {
    return this.snapshots.save(snapshots);
  }

  listPortfolioSnapshots(username: string, fromDay: string): Promise<PortfolioSnapshot[]> {
    return this.snapshots.list(username, fromDay);
  }

  recordChatMember(chatAddress: string, username: string, at: number): Promise<void> {
    return this.snapshots.recordMember(chatAddress, username, at);
  }

  listChatMembers(chatAddress: string): Promise<string[]> {
    return this.snapshots.members(chatAddress);
  }

  async claimOnce(key: string, expiresAt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.t.idempotency,
          Item: { id: claimId(key), expiresAt, ttl: ttlSeconds(expiresAt) },
          // A claim long past its expiry (which TTL may not have removed yet) is free again.
          ConditionExpression: 'attribute_not_exists(#id) OR #exp < :sweep',
          ExpressionAttributeNames: { '#id': 'id', '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':sweep': expiresAt - CLAIM_SWEEP_MS },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async releaseOnce(key: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.t.idempotency, Key: { id: claimId(key) } }));
  }

  /** One conditional put, as claimOnce: of racing instances only one write finds the lease free,
   *  expired or its own. TTL may sweep a long-expired lease; that changes nothing, it was free. */
  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const expiresAt = now + ttlMs;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.t.idempotency,
          Item: { id: leaseId(name), holder, expiresAt, ttl: ttlSeconds(expiresAt) + LEASE_TTL_SLACK_S },
          ConditionExpression: 'attribute_not_exists(#id) OR #holder = :holder OR #exp <= :now',
          ExpressionAttributeNames: { '#id': 'id', '#holder': 'holder', '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':holder': holder, ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.t.idempotency,
          Key: { id: leaseId(name) },
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
    } catch (error) {
      // Someone else holds it by now (or nobody does): nothing of ours to give up.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** One item, rewritten each poll: a few hundred coins make tens of KB, far inside the 400 KB
   *  item limit. No TTL: the newest snapshot is always wanted, however old. */
  async publishQuotes(snapshot: PriceSnapshot): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.t.idempotency,
        Item: { id: PRICE_SNAPSHOT_ID, quotes: snapshot.quotes, rates: snapshot.rates, source: snapshot.source, at: snapshot.at },
      }),
    );
  }

  async readQuotes(): Promise<PriceSnapshot | null> {
    // Eventually consistent, at half the read units: every follower reads this every few seconds,
    // and a snapshot a moment old is as good as the newest.
    const { Item: item } = await this.doc.send(new GetCommand({ TableName: this.t.idempotency, Key: { id: PRICE_SNAPSHOT_ID } }));
    if (!item) return null;
    return { quotes: item.quotes as Quote[], rates: item.rates as FiatRates, source: item.source as PriceSourceStatus, at: item.at as number };
  }

  /**
   * Two conditional writes, so that counting stays atomic across processes: ADD to the open
   * window, or, when there is none (or it has passed), start one, unless another caller just did,
   * in which case ADD again.
   */
  async recordAttempt(key: string, now: number, windowMs: number): Promise<Attempts> {
    const id = attemptsId(key);
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.t.idempotency,
            Key: { id },
            UpdateExpression: 'ADD #n :one SET #last = :now',
            ConditionExpression: '#exp > :now',
            ExpressionAttributeNames: { '#n': 'count', '#last': 'lastAt', '#exp': 'expiresAt' },
            ExpressionAttributeValues: { ':one': 1, ':now': now },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toAttempts(out.Attributes!);
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const expiresAt = now + windowMs;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.t.idempotency,
            Item: { id, count: 1, firstAt: now, lastAt: now, expiresAt, ttl: ttlSeconds(expiresAt) },
            ConditionExpression: 'attribute_not_exists(#id) OR #exp <= :now',
            ExpressionAttributeNames: { '#id': 'id', '#exp': 'expiresAt' },
            ExpressionAttributeValues: { ':now': now },
          }),
        );
        return { count: 1, firstAt: now, lastAt: now };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    throw new Error(`Attempts under ${key} kept changing; not recorded`);
  }

  async getAttempts(key: string, now: number): Promise<Attempts | null> {
    // TTL may not have removed a passed window yet: the expiry is checked here.
    const item = await this.get(this.t.idempotency, { id: attemptsId(key) });
    return item && (item.expiresAt as number) > now ? toAttempts(item) : null;
  }

  async clearAttempts(key: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.t.idempotency, Key: { id: attemptsId(key) } }));
  }

  async saveButtons(id: string, set: ButtonSet, expiresAt: number): Promise<void> {
    // TTL only sweeps (it can lag by days): getButtons and takeButtons check the expiry themselves.
    await this.doc.send(new PutCommand({ TableName: this.t.idempotency, Item: buttonsItem(id, set, expiresAt) }));
  }

  async getButtons(id: string, now: number): Promise<StoredButtons | null> {
    const item = await this.get(this.t.idempotency, { id: buttonsId(id) });
    return item && (item.expiresAt as number) > now ? toStoredButtons(item) : null;
  }

  async takeButtons(id: string, now: number): Promise<boolean> {
    // One conditional update: of racing presses on any number of instances only one finds them unused.
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.t.idempotency,
          Key: { id: buttonsId(id) },
          UpdateExpression: 'SET #used = :true',
          ConditionExpression: '#used = :false AND #exp > :now',
          ExpressionAttributeNames: { '#used': 'used', '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':true': true, ':false': false, ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async recordActivity(entry: ActivityEntry): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.t.activity,
        Item: {
          owner: activityOwner(entry),
          sk: activitySortKey(entry.at),
          ...entry,
          timeShard: randomActivityShard(),
          ttl: ttlSeconds(entry.at) + this.activityRetentionDays * 24 * 60 * 60,
        },
      }),
    );
  }

  async listActivity(username: string, page: PageRequest): Promise<Page<ActivityEntry>> {
    const limit = pageLimit(page);
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, { owner: 'string', sk: 'string' }, { owner: username });
    const items = await this.queryPage(
      {
        TableName: this.t.activity,
        KeyConditionExpression: '#o = :o',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':o': username },
        ScanIndexForward: false,
        ExclusiveStartKey: start,
      },
      limit,
    );
    return toPage(items, limit, toActivity, (i) => ({ owner: username, sk: i.sk as string }));
  }

  /** Finds old entries through the time index (no scan) and deletes them in batches of 25. */
  async pruneActivity(before: number): Promise<number> {
    const perShard = await Promise.all(
      Array.from({ length: ACTIVITY_SHARDS }, async (_, n) => {
        let deleted = 0;
        let start: Record<string, unknown> | undefined;
        do {
          const out = await this.doc.send(
            new QueryCommand({
              TableName: this.t.activity,
              IndexName: 'time-index',
              KeyConditionExpression: '#s = :s AND #at < :before',
              ExpressionAttributeNames: { '#s': 'timeShard', '#at': 'at' },
              ExpressionAttributeValues: { ':s': activityShardKey(n), ':before': before },
              ExclusiveStartKey: start,
            }),
          );
          const keys = (out.Items ?? []).map((i) => ({ owner: i.owner, sk: i.sk }));
          await this.deleteBatch(this.t.activity, keys);
          deleted += keys.length;
          start = out.LastEvaluatedKey;
        } while (start);
        return deleted;
      }),
    );
    return perShard.reduce((a, b) => a + b, 0);
  }

  /** Link codes, buttons, claims and attempt windows carry a TTL: DynamoDB deletes them itself (and
   *  every read checks the expiry meanwhile), so there is nothing to do here. */
  async pruneExpired(_now: number): Promise<number> {
    return 0;
  }

  async stats(): Promise<SystemStats> {
    const [shards, trackedCoins] = await Promise.all([this.readCounters(), this.countTrackedCoins()]);
    const accountsByRole = Object.fromEntries(ROLES.map((r) => [r, 0])) as Record<Role, number>;
    const totals = { identities: 0, transactions: 0, activeAlerts: 0 };
    let buyVolume = new Dec(0);
    let sellVolume = new Dec(0);
    // A shard that never saw a counter lacks it.
    const value = (v: string | undefined) => v ?? '0';
    for (const shard of shards) {
      for (const role of ROLES) accountsByRole[role] += Number(value(shard[`accounts_${role}`]));
      for (const name of Object.keys(totals) as (keyof typeof totals)[]) totals[name] += Number(value(shard[name]));
      buyVolume = buyVolume.plus(value(shard.buyVolume));
      sellVolume = sellVolume.plus(value(shard.sellVolume));
    }
    return {
      accounts: ROLES.reduce((sum, r) => sum + accountsByRole[r], 0),
      accountsByRole,
      ...totals,
      buyVolume: toStored(buyVolume),
      sellVolume: toStored(sellVolume),
      trackedCoins,
    };
  }

  /** Tables this store needs that do not exist (or are not ACTIVE yet): for a clear start-up error. */
  async missingTables(): Promise<string[]> {
    const missing = await Promise.all(
      STORE_TABLES.map(async (key) => {
        try {
          const { Table } = await this.clients.raw.send(new DescribeTableCommand({ TableName: this.t[key] }));
          return Table?.TableStatus === 'ACTIVE' || Table?.TableStatus === 'UPDATING' ? [] : [this.t[key]];
        } catch (error) {
          if (error instanceof ResourceNotFoundException) return [this.t[key]];
          throw error;
        }
      }),
    );
    return missing.flat();
  }

  /** One eventually consistent GetItem of a key no account has (half a read unit): it proves the
   *  endpoint answers, the credentials work and the table exists. GetItem is an action the role
   *  grants already, where DescribeTable on every table would need more. */
  async ping(): Promise<void> {
    await this.doc.send(new GetCommand({ TableName: this.t.users, Key: { username: '#ping' } }));
  }

  async close(): Promise<void> {
    this.clients.raw.destroy();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** The calls the alert and outbox modules make (see io.ts for why they go through here). */
  private io(): StoreIo {
    const conditional = async <T>(send: () => Promise<T>): Promise<T | null> => {
      try {
        return await send();
      } catch (error) {
        if (isConditionalCheckFailed(error)) return null;
        throw error;
      }
    };
    return {
      get: (table, key) => this.get(table, key),
      batchGet: (table, keys) => this.batchGet(table, keys),
      put: async (input) => (await conditional(() => this.doc.send(new PutCommand(input)))) !== null,
      update: async (input) => {
        const out = await conditional(() => this.doc.send(new UpdateCommand(input)));
        return out === null ? null : (out.Attributes ?? {});
      },
      delete: async (input) => (await conditional(() => this.doc.send(new DeleteCommand(input)))) !== null,
      query: async (input) => {
        const out = await this.doc.send(new QueryCommand(input));
        return { items: out.Items ?? [], ...(out.LastEvaluatedKey ? { last: out.LastEvaluatedKey } : {}) };
      },
      queryAll: (input) => this.queryAll(input),
      queryPage: (input, limit) => this.queryPage(input, limit),
      transact: (actions) => this.transact(actions),
      deleteBatch: (table, keys) => this.deleteBatch(table, keys),
      putBatch: (table, items) => this.writeBatch(table, items.map((Item) => ({ PutRequest: { Item } }))),
      count: (deltas, shard) => this.count(deltas, shard),
    };
  }

  /** Any number of keys, 100 per request, unprocessed keys retried with backoff; consistent reads. */
  private async batchGet(table: string, keys: Item[]): Promise<Item[]> {
    const items: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] = keys.slice(i, i + 100);
      for (let retry = 0; pending.length; retry++) {
        if (retry) await sleep(backoffDelay(retry, DEFAULT_BACKOFF));
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
        items.push(...(out.Responses?.[table] ?? []));
        pending = (out.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
      }
    }
    return items;
  }

  private async get(table: string, key: Item): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
  }

  /**
   * Runs a transaction, retrying conflicts and throttling with backoff. Returns undefined when it
   * committed, or the cancellation when a condition failed (for the caller to interpret).
   */
  private async transact(actions: WriteAction[]): Promise<Cancellation | undefined> {
    return retryTransient(async () => {
      try {
        // A fresh token per attempt: if the SDK resends this request after a lost response, DynamoDB
        // recognises it and does not apply it twice.
        await this.doc.send(new TransactWriteCommand({ TransactItems: actions, ClientRequestToken: randomUUID() }));
        return undefined;
      } catch (error) {
        const cancelled = cancellation(error);
        if (cancelled?.codes.includes('ConditionalCheckFailed')) return cancelled;
        throw error;
      }
    }, TRANSIENT_ATTEMPTS);
  }

  /** ADDs to one counter shard (random unless given): no single counters item becomes every
   *  write's hot spot. */
  private count(deltas: Record<string, number | NumberValue>, shard?: number): WriteAction {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const parts = Object.entries(deltas).map(([name, delta], i) => {
      names[`#c${i}`] = name;
      values[`:c${i}`] = delta;
      return `#c${i} :c${i}`;
    });
    return {
      Update: {
        TableName: this.t.counters,
        Key: { shard: shard === undefined ? randomCounterShard() : counterShardKey(shard) },
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  /** Every counter shard as attribute name -> exact decimal string (read raw: no float on the way). */
  private async readCounters(): Promise<Record<string, string>[]> {
    let keys: Record<string, AttributeValue>[] = Array.from({ length: COUNTER_SHARDS }, (_, n) => ({ shard: { S: counterShardKey(n) } }));
    const shards: Record<string, string>[] = [];
    for (let retry = 0; keys.length; retry++) {
      if (retry) await sleep(backoffDelay(retry, DEFAULT_BACKOFF));
      const out = await this.clients.raw.send(new BatchGetItemCommand({ RequestItems: { [this.t.counters]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of out.Responses?.[this.t.counters] ?? []) {
        shards.push(Object.fromEntries(Object.entries(item).flatMap(([name, v]) => (v.N === undefined ? [] : [[name, v.N]]))));
      }
      keys = out.UnprocessedKeys?.[this.t.counters]?.Keys ?? [];
    }
    return shards;
  }

  private trackedCoinsQuery(): QueryCommandInput {
    return {
      TableName: this.t.trackedCoins,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'scope' },
      ExpressionAttributeValues: { ':s': TRACKED_COINS_PARTITION },
      ConsistentRead: true,
    };
  }

  private async countTrackedCoins(): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...this.trackedCoinsQuery(), Select: 'COUNT', ExclusiveStartKey: start }));
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  private deleteBatch(table: string, keys: Item[]): Promise<void> {
    return this.writeBatch(table, keys.map((Key) => ({ DeleteRequest: { Key } })));
  }

  /** BatchWriteItem, 25 requests at a time, unprocessed ones retried with backoff. */
  private async writeBatch(table: string, all: Array<{ DeleteRequest: { Key: Item } } | { PutRequest: { Item: Item } }>): Promise<void> {
    for (let i = 0; i < all.length; i += 25) {
      let requests = all.slice(i, i + 25);
      for (let retry = 0; requests.length; retry++) {
        if (retry) await sleep(backoffDelay(retry, DEFAULT_BACKOFF));
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    }
  }

  /** Up to `limit + 1` items (the extra one tells whether there is a next page). */
  private async queryPage(input: QueryCommandInput, limit: number): Promise<Item[]> {
    const items: Item[] = [];
    let start = input.ExclusiveStartKey;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, Limit: limit + 1 - items.length, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && items.length <= limit);
    return items;
  }

  /** Every page of a query whose result is small by design (one user's alerts, one coin's). */
  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** The portfolio as getPortfolio reads it back (reservedCash '0' when the plan left it out). */
const stored = (portfolio: Portfolio): Portfolio => toPortfolio(portfolioItem(portfolio));

/**
 * When only messages starting at `at` failed their condition (already queued: their ids are
 * deterministic), adds them to `queued` and says so, for the caller to go again without them.
 * A failed portfolio condition (index 0) means a re-plan instead.
 */
function addQueued(failed: Cancellation, messages: OutboxMessage[], at: number, queued: Set<string>): boolean {
  const already = messages.filter((_, i) => conditionFailed(failed, at + i));
  if (!already.length || conditionFailed(failed, 0)) return false;
  for (const m of already) queued.add(m.id);
  return true;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function toPage<T>(items: Item[], limit: number, map: (item: Item) => T, keyOf: (item: Item) => CursorKey): Page<T> {
  const next = nextCursor(items, limit, keyOf);
  const page: Page<T> = { items: items.slice(0, limit).map(map) };
  if (next !== undefined) page.next = next;
  return page;
}

/** Drops keys explicitly set to undefined, so a patch cannot blank a required field. */
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
