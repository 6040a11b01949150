/**
 * The embedded store: one SQLite file through better-sqlite3.
 *
 * better-sqlite3 is synchronous, so every method does its work before returning and the async
 * signatures just wrap the result. Within one process that alone serializes trades; across
 * processes sharing the file, trades run in BEGIN IMMEDIATE transactions, which take the write lock
 * before reading the portfolio, and busy_timeout makes the loser wait instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  Account,
  ActivityEntry,
  ChatState,
  Coin,
  LinkedIdentity,
  OutboxMessage,
  Portfolio,
  PortfolioSnapshot,
  PriceAlert,
  Role,
  SystemStats,
  Transaction,
} from '../../core/domain';
import { ROLES, isLiveAlert, orderOwner } from '../../core/domain';
import { Dec, toStored } from '../../core/money';
import {
  ConflictError,
  type AccountPatch,
  type AlertChanges,
  type AlertFiring,
  type Attempts,
  type ButtonSet,
  type OrderChange,
  type OrderOutcome,
  type OutboxSettlement,
  type Page,
  type PageRequest,
  type PriceSnapshot,
  type Store,
  type StoredButtons,
  type TradeOutcome,
  type TradePlan,
} from '../../core/ports';
import { migrate } from './migrations';
import { applyPlan, applyPortfolioPlan } from '../../core/trading';
import { SqliteAlerts } from './alerts';
import { SqliteChatStates } from './chat-states';
import { SqliteWatchlist } from './watchlist';
import { SqliteSnapshots } from './snapshots';
import { SqliteOutbox } from './outbox';
import { jsonChunks } from './many-keys';
import { decodeCursor, pageLimit, toPage } from './paging';

/** Claim keys and buttons this far past their expiry are swept; the store has no clock of its own. */
const SWEEP_MS = 7 * 24 * 60 * 60 * 1000;

interface AccountRow {
  username: string;
  email: string;
  password_hash: string | null;
  role: string;
  created_at: number;
  currency: string;
  email_notifications: number;
  alert_delivery: string | null;
  alert_chat: string | null;
  timezone: string | null;
  digest_hour: number | null;
  leaderboard: number | null;
}

interface PortfolioRow {
  username: string;
  cash: string;
  holdings: string;
  realized_pnl: string;
  reserved_cash: string;
  version: number;
  created_at: number;
  last_trade_at: number;
}

interface TransactionRow {
  seq: number;
  transaction_id: string;
  username: string;
  type: string;
  coin_id: string;
  quantity: string;
  price: string;
  amount: string;
  fee: string;
  timestamp: number;
  platform: string;
  order_id: string | null;
  market_price: string | null;
}

interface IdentityRow {
  key: string;
  platform: string;
  username: string;
  linked_at: number;
  unreachable_since: number | null;
}

interface AttemptsRow {
  count: number;
  first_at: number;
  last_at: number;
}

interface ActivityRow {
  seq: number;
  at: number;
  identity_key: string;
  platform: string;
  username: string | null;
  command: string;
  detail: string;
  outcome: string;
}

/** Activity entries are written in batches of up to this many, or this often. */
const ACTIVITY_BATCH = 200;
const ACTIVITY_FLUSH_MS = 250;

export class SqliteStore implements Store {
  /** `now` stamps the one change whose port method brings no time (deleteAlert's updatedAt). */
  static open(options: { file: string; now?: () => number }): SqliteStore {
    const { file } = options;
    if (file !== ':memory:' && file !== '') mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    // busy_timeout first: switching to WAL needs a lock another process may be holding.
    db.pragma('busy_timeout = 5000');
    // Small pages: a trade dirties about eight pages of small rows, and every dirty page is
    // written to the WAL whole, so 1 KiB pages write a quarter of the bytes (new files only).
    db.pragma('page_size = 1024');
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits, an
    // accepted trade-off for a paper-trading ledger that needs thousands of commits a second.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Checkpoint (the only fsync in NORMAL mode) every 8 MiB of WAL rather than every 1,000 pages.
    db.pragma('wal_autocheckpoint = 8000');
    migrate(db);
    return new SqliteStore(db, options.now ?? Date.now);
  }

  private readonly s: Statements;
  /** The trade as a better-sqlite3 transaction function, built once. */
  private readonly tradeTx: Database.Transaction<SqliteStore['tradeInTransaction']>;
  private readonly orderTx: Database.Transaction<SqliteStore['orderInTransaction']>;
  private readonly insertActivityBatch: Database.Transaction<(batch: ActivityEntry[]) => void>;
  private pendingActivity: ActivityEntry[] = [];
  private activityTimer: NodeJS.Timeout | undefined;
  private readonly outbox: SqliteOutbox;
  private readonly alerts: SqliteAlerts;
  private readonly chatStates: SqliteChatStates;
  private readonly watchlist: SqliteWatchlist;
  private readonly snapshots: SqliteSnapshots;

  private constructor(private readonly db: Database.Database, private readonly now: () => number) {
    this.s = prepareStatements(db);
    this.outbox = new SqliteOutbox(db);
    this.alerts = new SqliteAlerts(db, (messages) => this.outbox.insert(messages));
    this.chatStates = new SqliteChatStates(db);
    this.watchlist = new SqliteWatchlist(db);
    this.snapshots = new SqliteSnapshots(db);
    this.tradeTx = db.transaction(this.tradeInTransaction.bind(this));
    this.orderTx = db.transaction(this.orderInTransaction.bind(this));
    this.insertActivityBatch = db.transaction((batch: ActivityEntry[]) => {
      for (const entry of batch) this.s.insertActivity.run(entry);
    });
  }

  // ---- accounts -------------------------------------------------------------------------------

  async createAccount(account: Account, startCash: string, identity?: LinkedIdentity): Promise<void> {
    this.db
      .transaction(() => {
        // Explicit checks rather than catching the constraint error, to report which one clashed.
        if (this.s.accountByName.get(account.username)) throw new ConflictError('username');
        if (this.s.accountByEmail.get(normEmail(account.email))) throw new ConflictError('email');
        if (identity && this.s.identity.get(identity.key)) throw new ConflictError('identity');
        this.s.insertAccount.run(accountParams(account));
        this.s.insertPortfolio.run(account.username, startCash, account.createdAt);
        if (identity) this.insertIdentity(identity);
      })
      .immediate();
  }

  async getAccount(username: string): Promise<Account | null> {
    const row = this.s.accountByName.get(username) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  async getAccounts(usernames: string[]): Promise<Map<string, Account>> {
    const accounts = new Map<string, Account>();
    for (const chunk of jsonChunks(usernames)) {
      for (const row of this.s.accountsByName.all(chunk) as AccountRow[]) accounts.set(row.username, toAccount(row));
    }
    return accounts;
  }

  async getAccountByEmail(email: string): Promise<Account | null> {
    const row = this.s.accountByEmail.get(normEmail(email)) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  async updateAccount(username: string, patch: AccountPatch): Promise<Account | null> {
    return this.db
      .transaction((): Account | null => {
        const row = this.s.accountByName.get(username) as AccountRow | undefined;
        if (!row) return null;
        const updated: Account = { ...toAccount(row), ...definedOnly(patch) };
        const owner = this.s.accountByEmail.get(normEmail(updated.email)) as AccountRow | undefined;
        if (owner && owner.username !== username) throw new ConflictError('email');
        this.s.updateAccount.run(accountParams(updated));
        // Read back, so that a field cleared with null (digestHour) comes back absent, as getAccount has it.
        return toAccount(this.s.accountByName.get(username) as AccountRow);
      })
      .immediate();
  }

  async listAccounts(page: PageRequest): Promise<Page<Account>> {
    const limit = pageLimit(page);
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, ['string'])[0];
    const rows = (
      after === undefined ? this.s.accountsFirst.all(limit + 1) : this.s.accountsAfter.all(after, limit + 1)
    ) as AccountRow[];
    return toPage(rows, limit, toAccount, (r) => [r.username]);
  }

  // ---- identities and link codes --------------------------------------------------------------

  async findIdentity(key: string): Promise<LinkedIdentity | null> {
    const row = this.s.identity.get(key) as IdentityRow | undefined;
    return row ? toIdentity(row) : null;
  }

  async linkIdentity(identity: LinkedIdentity): Promise<void> {
    this.insertIdentity(identity);
  }

  private insertIdentity(identity: LinkedIdentity): void {
    // The new identity takes over an unreachable mark its direct chat already has (see chat-states.ts).
    const { changes } = this.s.insertIdentity.run(identity.key, identity.platform, identity.username, identity.linkedAt, identity.key);
    if (changes === 0) throw new ConflictError('identity');
  }

  async unlinkIdentity(key: string): Promise<boolean> {
    return this.s.deleteIdentity.run(key).changes === 1;
  }

  async listIdentities(username: string): Promise<LinkedIdentity[]> {
    return (this.s.identitiesOf.all(username) as IdentityRow[]).map(toIdentity);
  }

  async listIdentitiesOf(usernames: string[]): Promise<Map<string, LinkedIdentity[]>> {
    const lists = new Map<string, LinkedIdentity[]>(usernames.map((u) => [u, []]));
    for (const chunk of jsonChunks(usernames)) {
      // Ordered per user as identitiesOf orders them, so each list comes out as listIdentities has it.
      for (const row of this.s.identitiesOfMany.all(chunk) as IdentityRow[]) lists.get(row.username)!.push(toIdentity(row));
    }
    return lists;
  }

  async saveLinkCode(codeHash: string, username: string, expiresAt: number): Promise<void> {
    this.s.saveLinkCode.run(codeHash, username, expiresAt);
  }

  async consumeLinkCode(codeHash: string, now: number): Promise<string | null> {
    // DELETE ... RETURNING makes take-and-check one step: a second consumer finds nothing.
    return this.db.transaction((): string | null => {
      const row = this.s.takeLinkCode.get(codeHash) as { username: string; expires_at: number } | undefined;
      this.s.deleteExpiredLinkCodes.run(now);
      return row && row.expires_at > now ? row.username : null;
    })();
  }

  // ---- portfolios and trades ------------------------------------------------------------------

  async getPortfolio(username: string): Promise<Portfolio | null> {
    const row = this.s.portfolio.get(username) as PortfolioRow | undefined;
    return row ? toPortfolio(row) : null;
  }

  async executeTrade(
    username: string,
    idempotencyKey: string,
    plan: (current: Portfolio) => TradePlan,
  ): Promise<TradeOutcome> {
    // IMMEDIATE takes the write lock before the portfolio is read, so no other process can change
    // it between the read and our write.
    return this.tradeTx.immediate(username, idempotencyKey, plan);
  }

  private tradeInTransaction(
    username: string,
    idempotencyKey: string,
    plan: (current: Portfolio) => TradePlan,
  ): TradeOutcome {
    const earlier = this.s.idempotentTx.get(username, idempotencyKey) as TransactionRow | undefined;
    if (earlier) return { status: 'duplicate', transaction: toTransaction(earlier) };

    const row = this.s.portfolio.get(username) as PortfolioRow | undefined;
    if (!row) return { status: 'rejected', reason: 'No portfolio for this account.' };
    const current = toPortfolio(row);

    const decision = applyPlan(username, current, plan);
    if (!decision.ok) return { status: 'rejected', reason: decision.reason };
    return { status: 'done', portfolio: this.writeApplied(username, decision, idempotencyKey), transaction: decision.transaction };
  }

  /**
   * Writes what an applied plan decided, inside the caller's write transaction: the portfolio
   * (its reservations too), and for a trade its ledger row, the idempotency record and the volume
   * totals; then the plan's messages (a confirmation email, a fill's notices), committed with it
   * or not at all. Returns the portfolio as getPortfolio will read it back.
   */
  private writeApplied(
    username: string,
    applied: { portfolio: Portfolio; transaction?: Transaction; messages: OutboxMessage[] },
    idempotencyKey: string,
  ): Portfolio {
    const { transaction, messages } = applied;
    const portfolio = { ...applied.portfolio, reservedCash: applied.portfolio.reservedCash ?? '0' };
    this.s.updatePortfolio.run(
      portfolio.cash, portfolio.reservedCash, JSON.stringify(portfolio.holdings), portfolio.realizedPnl, portfolio.version, portfolio.lastTradeAt, username,
    );
    if (transaction) {
      this.s.insertTransaction.run(transactionParams(transaction));
      this.s.insertIdempotency.run(username, idempotencyKey, transaction.transactionId);
      const total = `${transaction.type}_volume`;
      const sum = new Dec((this.s.total.get(total) as string | undefined) ?? '0').plus(transaction.amount);
      this.s.setTotal.run(toStored(sum), total);
    }
    this.outbox.insert(messages);
    return portfolio;
  }

  async changeOrder(username: string, change: OrderChange): Promise<OrderOutcome> {
    // As executeTrade: the write lock is taken before the order and portfolio are read.
    return this.orderTx.immediate(username, change);
  }

  private orderInTransaction(username: string, change: OrderChange): OrderOutcome {
    const { order, expectedVersion } = change;
    // Someone else's record, or an alert passed as an order, is the caller's bug: refuse loudly.
    if (order.username !== orderOwner(username) || !order.order) throw new Error(`changeOrder for ${username} was given ${order.username}'s record ${order.alertId}`);

    const stored = this.alerts.get(order.username, order.alertId);
    if (expectedVersion === undefined) {
      if (stored) return { status: 'stale', current: stored }; // the same order placed twice
      if (change.limit !== undefined && this.alerts.countLiveOf(order.username) >= change.limit) return { status: 'limit' };
    } else if (!stored || !isLiveAlert(stored.state) || stored.version !== expectedVersion) {
      return { status: 'stale', current: stored };
    }

    const row = this.s.portfolio.get(username) as PortfolioRow | undefined;
    if (!row) return { status: 'rejected', reason: 'No portfolio for this account.' };
    const decision = applyPortfolioPlan(username, toPortfolio(row), change.plan);
    if (!decision.ok) return { status: 'rejected', reason: decision.reason };
    // A fill's key: a later trade with it is the same fill. Already used means already filled.
    const key = `order:${order.alertId}`;
    if (decision.transaction && this.s.idempotentTx.get(username, key)) return { status: 'stale', current: stored };

    // Under the write lock the checks above still hold, so the record is written.
    if (expectedVersion === undefined) this.alerts.insertOrder(order);
    else if (!this.alerts.replaceOrder(order, expectedVersion)) throw new Error(`Order ${order.alertId} changed under the write lock`);
    const portfolio = this.writeApplied(username, decision, key);
    return decision.transaction ? { status: 'done', portfolio, transaction: decision.transaction } : { status: 'done', portfolio };
  }

  async listTransactions(username: string, page: PageRequest): Promise<Page<Transaction>> {
    return newestFirst<TransactionRow, Transaction>(page, this.s.userTxFirst, this.s.userTxAfter, [username], (r) => r.timestamp, toTransaction);
  }

  async listAllTransactions(page: PageRequest): Promise<Page<Transaction>> {
    return newestFirst<TransactionRow, Transaction>(page, this.s.allTxFirst, this.s.allTxAfter, [], (r) => r.timestamp, toTransaction);
  }

  // ---- alerts (see alerts.ts) ------------------------------------------------------------------

  async createAlert(alert: PriceAlert, limit: number): Promise<'created' | 'limit'> {
    return this.alerts.create(alert, limit);
  }

  async listAlerts(username: string): Promise<PriceAlert[]> {
    return this.alerts.list(username);
  }

  async getAlert(username: string, alertId: string): Promise<PriceAlert | null> {
    return this.alerts.get(username, alertId);
  }

  async deleteAlert(username: string, alertId: string): Promise<boolean> {
    return this.alerts.remove(username, alertId, this.now());
  }

  async listLiveAlerts(page: PageRequest): Promise<Page<PriceAlert>> {
    return this.alerts.listLive(page);
  }

  async alertChangeCursor(): Promise<string> {
    return this.alerts.changeCursor();
  }

  async listAlertChanges(cursor: string): Promise<AlertChanges> {
    return this.alerts.changes(cursor);
  }

  async fireAlerts(firings: AlertFiring[]): Promise<Set<string>> {
    return this.alerts.fire(firings);
  }

  async setAlertState(username: string, alertId: string, version: number, state: 'armed' | 'expired', at: number): Promise<boolean> {
    return this.alerts.setState(username, alertId, version, state, at);
  }

  async pruneAlerts(before: number): Promise<number> {
    return this.alerts.prune(before);
  }

  // ---- outbox (see outbox.ts) and chat states (see chat-states.ts) -----------------------------

  async enqueueMessages(messages: OutboxMessage[]): Promise<void> {
    this.outbox.enqueue(messages);
  }

  async leaseOutbox(now: number, limit: number, leaseMs: number): Promise<OutboxMessage[]> {
    return this.outbox.lease(now, limit, leaseMs);
  }

  async settleOutbox(id: string, outcome: OutboxSettlement): Promise<void> {
    this.outbox.settle(id, outcome);
  }

  async getOutboxMessage(id: string): Promise<OutboxMessage | null> {
    return this.outbox.get(id);
  }

  async pruneOutbox(before: number): Promise<number> {
    return this.outbox.prune(before);
  }

  async getChatStates(addresses: string[]): Promise<Map<string, ChatState>> {
    return this.chatStates.get(addresses);
  }

  async markUnreachable(address: string, reason: string, at: number): Promise<void> {
    this.chatStates.markUnreachable(address, reason, at);
  }

  async clearUnreachable(address: string): Promise<void> {
    this.chatStates.clearUnreachable(address);
  }

  async setBroadcastsPaused(chatAddress: string, paused: boolean): Promise<void> {
    this.chatStates.setBroadcastsPaused(chatAddress, paused);
  }

  // ---- coins, claims, activity ----------------------------------------------------------------

  async listCoins(): Promise<Coin[]> {
    return this.s.coins.all() as Coin[];
  }

  async addCoin(coin: Coin): Promise<void> {
    if (this.s.insertCoin.run(coin.id, coin.symbol, coin.name).changes === 0) throw new ConflictError('coin');
  }

  async removeCoin(coinId: string): Promise<boolean> {
    return this.s.deleteCoin.run(coinId).changes === 1;
  }

  async addToWatchlist(username: string, coinId: string, limit: number): Promise<'added' | 'exists' | 'limit'> {
    return this.watchlist.add(username, coinId, limit);
  }

  async removeFromWatchlist(username: string, coinId: string): Promise<boolean> {
    return this.watchlist.remove(username, coinId);
  }

  async getWatchlist(username: string): Promise<string[]> {
    return this.watchlist.list(username);
  }

  async savePortfolioSnapshots(snapshots: PortfolioSnapshot[]): Promise<void> {
    this.snapshots.save(snapshots);
  }

  async listPortfolioSnapshots(username: string, fromDay: string): Promise<PortfolioSnapshot[]> {
    return this.snapshots.list(username, fromDay);
  }

  async recordChatMember(chatAddress: string, username: string, at: number): Promise<void> {
    this.snapshots.recordMember(chatAddress, username, at);
  }

  async listChatMembers(chatAddress: string): Promise<string[]> {
    return this.snapshots.members(chatAddress);
  }

  async claimOnce(key: string, expiresAt: number): Promise<boolean> {
    return this.db.transaction((): boolean => {
      // The store has no clock; keys whose expiry is a week before this new key's are surely dead.
      this.s.sweepClaims.run(expiresAt - SWEEP_MS);
      return this.s.insertClaim.run(key, expiresAt).changes === 1;
    })();
  }

  async releaseOnce(key: string): Promise<void> {
    this.s.deleteClaim.run(key);
  }

  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    // One statement: the upsert's WHERE lets only a free, expired or own lease change hands.
    return this.s.acquireLease.run({ name, holder, now, expiresAt: now + ttlMs }).changes === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.s.releaseLease.run(name, holder);
  }

  async publishQuotes(snapshot: PriceSnapshot): Promise<void> {
    this.s.publishQuotes.run(JSON.stringify(snapshot));
  }

  async readQuotes(): Promise<PriceSnapshot | null> {
    const body = this.s.readQuotes.get() as string | undefined;
    return body === undefined ? null : (JSON.parse(body) as PriceSnapshot);
  }

  async recordAttempt(key: string, now: number, windowMs: number): Promise<Attempts> {
    return this.db.transaction((): Attempts => {
      // Sweeping first also ends this key's window if it has passed: the upsert then opens a new one.
      this.s.sweepAttempts.run(now);
      return toAttempts(this.s.recordAttempt.get({ key, now, expiresAt: now + windowMs }) as AttemptsRow);
    }).immediate();
  }

  async getAttempts(key: string, now: number): Promise<Attempts | null> {
    const row = this.s.attempts.get(key, now) as AttemptsRow | undefined;
    return row ? toAttempts(row) : null;
  }

  async clearAttempts(key: string): Promise<void> {
    this.s.deleteAttempts.run(key);
  }

  async saveButtons(id: string, set: ButtonSet, expiresAt: number): Promise<void> {
    this.db.transaction(() => {
      // As for claims: buttons live minutes, so those that expired a week before these are dead.
      this.s.sweepButtons.run(expiresAt - SWEEP_MS);
      this.s.insertButtons.run(id, JSON.stringify(set), expiresAt);
    })();
  }

  async getButtons(id: string, now: number): Promise<StoredButtons | null> {
    const row = this.s.buttons.get(id, now) as { body: string; used: number } | undefined;
    return row ? { ...(JSON.parse(row.body) as ButtonSet), used: row.used === 1 } : null;
  }

  async takeButtons(id: string, now: number): Promise<boolean> {
    // Conditional on used = 0: of racing presses, on any connection, only the first changes the row.
    return this.s.takeButtons.run(id, now).changes === 1;
  }

  /**
   * Every command writes an activity entry; one write transaction each would cost as much as the
   * trade itself. Entries are buffered and written together, at most ACTIVITY_FLUSH_MS later (a
   * crash loses that much activity log, never a trade), and before anything reads them.
   */
  async recordActivity(entry: ActivityEntry): Promise<void> {
    this.pendingActivity.push(entry);
    if (this.pendingActivity.length >= ACTIVITY_BATCH) this.flushActivity();
    else this.activityTimer ??= setTimeout(() => this.flushActivity(), ACTIVITY_FLUSH_MS).unref();
  }

  private flushActivity(): void {
    if (this.activityTimer) clearTimeout(this.activityTimer);
    this.activityTimer = undefined;
    if (!this.pendingActivity.length || !this.db.open) return;
    const batch = this.pendingActivity;
    this.pendingActivity = [];
    this.insertActivityBatch(batch);
  }

  async listActivity(username: string, page: PageRequest): Promise<Page<ActivityEntry>> {
    this.flushActivity();
    return newestFirst<ActivityRow, ActivityEntry>(page, this.s.activityFirst, this.s.activityAfter, [username], (r) => r.at, toActivity);
  }

  async pruneActivity(before: number): Promise<number> {
    this.flushActivity();
    return this.s.pruneActivity.run(before).changes;
  }

  async pruneExpired(now: number): Promise<number> {
    // Each check matches how its reader treats expiry: valid while expires_at > now.
    return this.db.transaction((): number =>
      this.s.deleteExpiredLinkCodes.run(now).changes
      + this.s.pruneButtons.run(now).changes
      + this.s.pruneClaims.run(now).changes
      + this.s.sweepAttempts.run(now).changes,
    ).immediate();
  }

  async stats(): Promise<SystemStats> {
    // One read transaction, so the figures are from a single snapshot.
    return this.db.transaction((): SystemStats => {
      const accountsByRole = Object.fromEntries(ROLES.map((r) => [r, 0])) as Record<Role, number>;
      let accounts = 0;
      for (const { role, n } of this.s.countByRole.all() as { role: Role; n: number }[]) {
        accountsByRole[role] = n;
        accounts += n;
      }
      const count = (stmt: Database.Statement) => stmt.get() as number;
      return {
        accounts,
        accountsByRole,
        identities: count(this.s.countIdentities),
        transactions: count(this.s.countTransactions),
        buyVolume: this.s.total.get('buy_volume') as string,
        sellVolume: this.s.total.get('sell_volume') as string,
        activeAlerts: this.alerts.countLive(),
        trackedCoins: count(this.s.countCoins),
      };
    })();
  }

  async ping(): Promise<void> {
    // Throws once the database is closed (or its file unreadable): then the store is not ready.
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.flushActivity();
    if (this.db.open) this.db.close();
  }
}

// ---- statements -------------------------------------------------------------------------------

type Statements = ReturnType<typeof prepareStatements>;

/** Every statement is prepared once per connection; the hot paths then only bind and step. */
function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  /** For single-value queries (counts, totals). */
  const value = (sql: string) => db.prepare(sql).pluck();
  return {
    accountByName: p('SELECT * FROM accounts WHERE username = ?'),
    // The many-key lookups take their keys as one JSON array (one bound variable, so SQLite's limit
    // on variables never applies), in chunks (see many-keys.ts).
    accountsByName: p('SELECT * FROM accounts WHERE username IN (SELECT value FROM json_each(?))'),
    accountByEmail: p('SELECT * FROM accounts WHERE email_norm = ?'),
    accountsFirst: p('SELECT * FROM accounts ORDER BY username LIMIT ?'),
    accountsAfter: p('SELECT * FROM accounts WHERE username > ? ORDER BY username LIMIT ?'),
    insertAccount: p(`INSERT INTO accounts
      (username, email, email_norm, password_hash, role, created_at, currency, email_notifications,
       alert_delivery, alert_chat, timezone, digest_hour, leaderboard)
      VALUES (@username, @email, @emailNorm, @passwordHash, @role, @createdAt, @currency, @emailNotifications,
       @alertDelivery, @alertChat, @timezone, @digestHour, @leaderboard)`),
    updateAccount: p(`UPDATE accounts SET email = @email, email_norm = @emailNorm,
      password_hash = @passwordHash, role = @role, currency = @currency,
      email_notifications = @emailNotifications, alert_delivery = @alertDelivery, alert_chat = @alertChat,
      timezone = @timezone, digest_hour = @digestHour, leaderboard = @leaderboard WHERE username = @username`),
    countByRole: p('SELECT role, COUNT(*) AS n FROM accounts GROUP BY role'),

    identity: p('SELECT * FROM identities WHERE key = ?'),
    insertIdentity: p(`INSERT INTO identities (key, platform, username, linked_at, unreachable_since)
      VALUES (?, ?, ?, ?, (SELECT unreachable_since FROM chat_states WHERE address = ?)) ON CONFLICT (key) DO NOTHING`),
    deleteIdentity: p('DELETE FROM identities WHERE key = ?'),
    identitiesOf: p('SELECT * FROM identities WHERE username = ? ORDER BY linked_at, key'),
    identitiesOfMany: p('SELECT * FROM identities WHERE username IN (SELECT value FROM json_each(?)) ORDER BY username, linked_at, key'),
    countIdentities: value('SELECT COUNT(*) FROM identities'),

    saveLinkCode: p('INSERT OR REPLACE INTO link_codes (code_hash, username, expires_at) VALUES (?, ?, ?)'),
    takeLinkCode: p('DELETE FROM link_codes WHERE code_hash = ? RETURNING username, expires_at'),
    deleteExpiredLinkCodes: p('DELETE FROM link_codes WHERE expires_at <= ?'),

    portfolio: p('SELECT * FROM portfolios WHERE username = ?'),
    insertPortfolio: p(`INSERT INTO portfolios (username, cash, holdings, realized_pnl, version, created_at)
      VALUES (?, ?, '{}', '0', 0, ?)`),
    updatePortfolio: p(`UPDATE portfolios SET cash = ?, reserved_cash = ?, holdings = ?, realized_pnl = ?, version = ?,
      last_trade_at = ? WHERE username = ?`),

    idempotentTx: p(`SELECT t.* FROM idempotency i JOIN transactions t USING (transaction_id)
      WHERE i.username = ? AND i.key = ?`),
    insertIdempotency: p('INSERT INTO idempotency (username, key, transaction_id) VALUES (?, ?, ?)'),
    insertTransaction: p(`INSERT INTO transactions
      (transaction_id, username, type, coin_id, quantity, price, amount, fee, timestamp, platform, order_id, market_price)
      VALUES (@transactionId, @username, @type, @coinId, @quantity, @price, @amount, @fee, @timestamp, @platform, @orderId, @marketPrice)`),
    userTxFirst: p(`SELECT * FROM transactions WHERE username = ?
      ORDER BY timestamp DESC, seq DESC LIMIT ?`),
    userTxAfter: p(`SELECT * FROM transactions WHERE username = ? AND (timestamp, seq) < (?, ?)
      ORDER BY timestamp DESC, seq DESC LIMIT ?`),
    allTxFirst: p('SELECT * FROM transactions ORDER BY timestamp DESC, seq DESC LIMIT ?'),
    allTxAfter: p(`SELECT * FROM transactions WHERE (timestamp, seq) < (?, ?)
      ORDER BY timestamp DESC, seq DESC LIMIT ?`),
    countTransactions: value('SELECT COUNT(*) FROM transactions'),
    total: value('SELECT value FROM totals WHERE name = ?'),
    setTotal: p('UPDATE totals SET value = ? WHERE name = ?'),

    coins: p('SELECT id, symbol, name FROM coins ORDER BY rowid'),
    insertCoin: p('INSERT INTO coins (id, symbol, name) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING'),
    deleteCoin: p('DELETE FROM coins WHERE id = ?'),
    countCoins: value('SELECT COUNT(*) FROM coins'),

    sweepClaims: p('DELETE FROM claims WHERE expires_at < ?'),
    pruneClaims: p('DELETE FROM claims WHERE expires_at <= ?'),
    insertClaim: p('INSERT INTO claims (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
    deleteClaim: p('DELETE FROM claims WHERE key = ?'),

    acquireLease: p(`INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`),
    releaseLease: p('DELETE FROM leases WHERE name = ? AND holder = ?'),
    publishQuotes: p('INSERT INTO price_snapshot (id, body) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body'),
    readQuotes: value('SELECT body FROM price_snapshot WHERE id = 1'),

    sweepButtons: p('DELETE FROM buttons WHERE expires_at < ?'),
    pruneButtons: p('DELETE FROM buttons WHERE expires_at <= ?'),
    insertButtons: p('INSERT INTO buttons (id, body, expires_at) VALUES (?, ?, ?)'),
    buttons: p('SELECT body, used FROM buttons WHERE id = ? AND expires_at > ?'),
    takeButtons: p('UPDATE buttons SET used = 1 WHERE id = ? AND used = 0 AND expires_at > ?'),

    sweepAttempts: p('DELETE FROM attempts WHERE expires_at <= ?'),
    recordAttempt: p(`INSERT INTO attempts (key, count, first_at, last_at, expires_at) VALUES (@key, 1, @now, @now, @expiresAt)
      ON CONFLICT (key) DO UPDATE SET count = count + 1, last_at = excluded.last_at
      RETURNING count, first_at, last_at`),
    attempts: p('SELECT count, first_at, last_at FROM attempts WHERE key = ? AND expires_at > ?'),
    deleteAttempts: p('DELETE FROM attempts WHERE key = ?'),

    insertActivity: p(`INSERT INTO activity (at, identity_key, platform, username, command, detail, outcome)
      VALUES (@at, @identityKey, @platform, @username, @command, @detail, @outcome)`),
    activityFirst: p(`SELECT * FROM activity WHERE username = ?
      ORDER BY at DESC, seq DESC LIMIT ?`),
    activityAfter: p(`SELECT * FROM activity WHERE username = ? AND (at, seq) < (?, ?)
      ORDER BY at DESC, seq DESC LIMIT ?`),
    pruneActivity: p('DELETE FROM activity WHERE at < ?'),
  };
}

// ---- row mapping ------------------------------------------------------------------------------

function normEmail(email: string): string {
  return email.toLowerCase();
}

/** Drops keys explicitly set to undefined, so a patch cannot blank a required field. */
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function accountParams(a: Account) {
  return {
    username: a.username,
    email: a.email,
    emailNorm: normEmail(a.email),
    passwordHash: a.passwordHash,
    role: a.role,
    createdAt: a.createdAt,
    currency: a.currency,
    emailNotifications: a.emailNotifications ? 1 : 0,
    alertDelivery: a.alertDelivery ?? null,
    alertChat: a.alertChat ?? null,
    timezone: a.timezone ?? null,
    digestHour: a.digestHour ?? null,
    leaderboard: a.leaderboard === undefined ? null : a.leaderboard ? 1 : 0,
  };
}

/** The notification settings are left out while unset, so an account reads back as written. */
function toAccount(r: AccountRow): Account {
  const account: Account = {
    username: r.username,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role as Account['role'],
    createdAt: r.created_at,
    currency: r.currency as Account['currency'],
    emailNotifications: r.email_notifications === 1,
  };
  if (r.alert_delivery !== null) account.alertDelivery = r.alert_delivery as Account['alertDelivery'];
  if (r.alert_chat !== null) account.alertChat = r.alert_chat;
  if (r.timezone !== null) account.timezone = r.timezone;
  if (r.digest_hour !== null) account.digestHour = r.digest_hour;
  if (r.leaderboard !== null) account.leaderboard = r.leaderboard === 1;
  return account;
}

function toIdentity(r: IdentityRow): LinkedIdentity {
  const identity: LinkedIdentity = { key: r.key, platform: r.platform as LinkedIdentity['platform'], username: r.username, linkedAt: r.linked_at };
  if (r.unreachable_since !== null) identity.unreachableSince = r.unreachable_since;
  return identity;
}

function toPortfolio(r: PortfolioRow): Portfolio {
  return {
    username: r.username,
    cash: r.cash,
    holdings: JSON.parse(r.holdings) as Portfolio['holdings'],
    realizedPnl: r.realized_pnl,
    reservedCash: r.reserved_cash,
    version: r.version,
    createdAt: r.created_at,
    lastTradeAt: r.last_trade_at,
  };
}

function toAttempts(r: AttemptsRow): Attempts {
  return { count: r.count, firstAt: r.first_at, lastAt: r.last_at };
}

/** Optional fields are left out when NULL, so a transaction reads back exactly as it was written. */
function toTransaction(r: TransactionRow): Transaction {
  const transaction: Transaction = {
    transactionId: r.transaction_id,
    username: r.username,
    type: r.type as Transaction['type'],
    coinId: r.coin_id,
    quantity: r.quantity,
    price: r.price,
    amount: r.amount,
    fee: r.fee,
    timestamp: r.timestamp,
    platform: r.platform as Transaction['platform'],
  };
  if (r.order_id !== null) transaction.orderId = r.order_id;
  if (r.market_price !== null) transaction.marketPrice = r.market_price;
  return transaction;
}

/** A transaction as named statement parameters: the optional fields as NULL when absent. */
function transactionParams(t: Transaction) {
  return { ...t, orderId: t.orderId ?? null, marketPrice: t.marketPrice ?? null };
}


function toActivity(r: ActivityRow): ActivityEntry {
  return {
    at: r.at,
    identityKey: r.identity_key,
    platform: r.platform as ActivityEntry['platform'],
    username: r.username,
    command: r.command,
    detail: r.detail,
    outcome: r.outcome as ActivityEntry['outcome'],
  };
}

// ---- keyset pagination (see paging.ts) ---------------------------------------------------------

/**
 * One page of a newest-first listing ordered by (time, seq): `first` takes the scope parameters
 * and a limit, `after` also the cursor's (time, seq). One extra row tells whether more follow.
 */
function newestFirst<R extends { seq: number }, T>(
  page: PageRequest, first: Database.Statement, after: Database.Statement, scope: unknown[], time: (row: R) => number, map: (row: R) => T,
): Page<T> {
  const limit = pageLimit(page);
  const rows = (page.cursor === undefined
    ? first.all(...scope, limit + 1)
    : after.all(...scope, ...decodeCursor(page.cursor, ['number', 'number']), limit + 1)) as R[];
  return toPage(rows, limit, map, (r) => [time(r), r.seq]);
}
