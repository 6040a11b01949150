/**
 * Schema migrations for the SQLite store, applied in order. `PRAGMA user_version` records how many
 * have run, so each one runs exactly once per database file. Never edit a migration that has
 * shipped: append a new one.
 *
 * Money columns are TEXT holding decimal strings exactly as the core wrote them; SQLite's REAL
 * would round them.
 */
import type Database from 'better-sqlite3';
import { DEFAULT_COINS } from '../../core/coins';

export interface Migration {
  sql: string;
  /** Data the schema needs from the start (runs in the same transaction as `sql`). */
  seed?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    sql: `
      CREATE TABLE accounts (
        username            TEXT PRIMARY KEY,
        email               TEXT NOT NULL,
        -- Lower-cased email: uniqueness and lookups are case-insensitive, display keeps the original.
        email_norm          TEXT NOT NULL UNIQUE,
        password_hash       TEXT,
        role                TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        currency            TEXT NOT NULL,
        email_notifications INTEGER NOT NULL
      );

      CREATE TABLE identities (
        key       TEXT PRIMARY KEY,
        platform  TEXT NOT NULL,
        username  TEXT NOT NULL REFERENCES accounts(username),
        linked_at INTEGER NOT NULL
      );
      CREATE INDEX identities_by_username ON identities(username);

      CREATE TABLE link_codes (
        code_hash  TEXT PRIMARY KEY,
        username   TEXT NOT NULL REFERENCES accounts(username),
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX link_codes_by_expiry ON link_codes(expires_at);

      -- Holdings are a JSON object (coin id -> Holding with decimal-string fields): a portfolio is
      -- always read and written whole, so one row per trade keeps the hot path to a single write.
      CREATE TABLE portfolios (
        username     TEXT PRIMARY KEY REFERENCES accounts(username),
        cash         TEXT NOT NULL,
        holdings     TEXT NOT NULL,
        realized_pnl TEXT NOT NULL,
        version      INTEGER NOT NULL,
        created_at   INTEGER NOT NULL
      );

      -- seq is the rowid: a stable tie-break for trades with the same timestamp and a compact
      -- pagination key.
      CREATE TABLE transactions (
        seq            INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        username       TEXT NOT NULL REFERENCES accounts(username),
        type           TEXT NOT NULL CHECK (type IN ('buy', 'sell')),
        coin_id        TEXT NOT NULL,
        quantity       TEXT NOT NULL,
        price          TEXT NOT NULL,
        amount         TEXT NOT NULL,
        fee            TEXT NOT NULL,
        timestamp      INTEGER NOT NULL,
        platform       TEXT NOT NULL
      );
      CREATE INDEX transactions_by_user_time ON transactions(username, timestamp, seq);
      CREATE INDEX transactions_by_time ON transactions(timestamp, seq);

      -- Scoped per user so one account's key can never reveal another account's trade.
      CREATE TABLE idempotency (
        username       TEXT NOT NULL,
        key            TEXT NOT NULL,
        transaction_id TEXT NOT NULL REFERENCES transactions(transaction_id),
        PRIMARY KEY (username, key)
      ) WITHOUT ROWID;

      -- Running totals kept as exact decimal strings, updated with each trade, so stats() does
      -- not sum the whole ledger.
      CREATE TABLE totals (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO totals (name, value) VALUES ('buy_volume', '0'), ('sell_volume', '0');

      CREATE TABLE alerts (
        alert_id     TEXT PRIMARY KEY,
        username     TEXT NOT NULL REFERENCES accounts(username),
        coin_id      TEXT NOT NULL,
        condition    TEXT NOT NULL CHECK (condition IN ('above', 'below')),
        target_price TEXT NOT NULL,
        active       INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        fired_at     INTEGER
      );
      CREATE INDEX alerts_by_coin ON alerts(coin_id, active);
      CREATE INDEX alerts_by_user ON alerts(username, active, created_at);

      -- rowid keeps the order coins were added in.
      CREATE TABLE coins (
        id     TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        name   TEXT NOT NULL
      );

      CREATE TABLE claims (
        key        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX claims_by_expiry ON claims(expires_at);

      -- No foreign key on username: activity is also logged for unlinked identities and must
      -- outlive whatever it describes.
      CREATE TABLE activity (
        seq          INTEGER PRIMARY KEY,
        at           INTEGER NOT NULL,
        identity_key TEXT NOT NULL,
        platform     TEXT NOT NULL,
        username     TEXT,
        command      TEXT NOT NULL,
        detail       TEXT NOT NULL,
        outcome      TEXT NOT NULL
      );
      CREATE INDEX activity_by_user_time ON activity(username, at, seq);
      CREATE INDEX activity_by_time ON activity(at);
    `,
    seed: (db) => {
      const insert = db.prepare('INSERT INTO coins (id, symbol, name) VALUES (?, ?, ?)');
      for (const coin of DEFAULT_COINS) insert.run(coin.id, coin.symbol, coin.name);
    },
  },
  {
    // Brute-force limits (failed logins, link-code guesses, email changes) live here rather than
    // in a process's memory, so a restart or a second process does not reset them. One row per
    // key and window; rows past their window are swept when attempts are recorded.
    sql: `
      CREATE TABLE attempts (
        key        TEXT PRIMARY KEY,
        count      INTEGER NOT NULL,
        first_at   INTEGER NOT NULL,
        last_at    INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX attempts_by_expiry ON attempts(expires_at);
    `,
  },
  {
    // Each trade is stamped after the account's previous one (see applyPlan), so the ledger's
    // time order is its commit order. Existing accounts start from their latest trade.
    sql: `
      ALTER TABLE portfolios ADD COLUMN last_trade_at INTEGER NOT NULL DEFAULT 0;
      UPDATE portfolios SET last_trade_at =
        COALESCE((SELECT MAX(timestamp) FROM transactions t WHERE t.username = portfolios.username), 0);
    `,
  },
  {
    // What chat buttons do lives here rather than in a bot's memory, so a button still works after
    // a restart and when another process receives the press, and `used` is set by one conditional
    // UPDATE, so only one press of a message's buttons goes through. `body` is the ButtonSet as
    // JSON: it is only ever read and written whole. Rows are swept by expiry when buttons are saved.
    sql: `
      CREATE TABLE buttons (
        id         TEXT PRIMARY KEY,
        body       TEXT NOT NULL,
        used       INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX buttons_by_expiry ON buttons(expires_at);
    `,
  },
  {
    // Issue 10: alerts at scale, an outbox, chat states, notification settings.
    //
    // Alerts are recreated (SQLite cannot drop NOT NULL or a CHECK): every PriceAlert field has a
    // column; the owner has no foreign key, because a group's broadcast rules are owned by
    // `#chat:<address>`, which has no account. `seq` is an explicit INTEGER PRIMARY KEY so that
    // listLiveAlerts pages by a key VACUUM cannot renumber. `change_seq` is taken from the
    // `alert_changes` counter in the same transaction as every insert or update: writes to one
    // SQLite file are serialized, so a reader who has seen counter N has seen every change <= N,
    // and the change feed is simply "change_seq > cursor".
    //
    // Old rows: active → armed, otherwise fired (once), numbered in their insertion order.
    sql: `
      CREATE TABLE sequences (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE alerts_v5 (
        seq            INTEGER PRIMARY KEY,
        alert_id       TEXT NOT NULL UNIQUE,
        username       TEXT NOT NULL,
        coin_id        TEXT NOT NULL,
        condition      TEXT NOT NULL CHECK (condition IN ('above', 'below', 'move')),
        target_price   TEXT,
        move_percent   TEXT,
        move_window_ms INTEGER,
        move_direction TEXT,
        repeat_ms      INTEGER,
        expires_at     INTEGER,
        state          TEXT NOT NULL CHECK (state IN ('armed', 'cooling', 'fired', 'expired', 'removed')),
        created_at     INTEGER NOT NULL,
        fired_at       INTEGER,
        fire_count     INTEGER NOT NULL,
        version        INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        change_seq     INTEGER NOT NULL
      );
      INSERT INTO alerts_v5 (alert_id, username, coin_id, condition, target_price, state, created_at, fired_at,
          fire_count, version, updated_at, change_seq)
        SELECT alert_id, username, coin_id, condition, target_price,
          CASE WHEN active = 1 THEN 'armed' ELSE 'fired' END, created_at, fired_at,
          CASE WHEN active = 1 THEN 0 ELSE 1 END, 1, COALESCE(fired_at, created_at),
          ROW_NUMBER() OVER (ORDER BY rowid)
        FROM alerts ORDER BY rowid;
      INSERT INTO sequences (name, value) SELECT 'alert_changes', COALESCE(MAX(change_seq), 0) FROM alerts_v5;
      DROP TABLE alerts;
      ALTER TABLE alerts_v5 RENAME TO alerts;
      CREATE INDEX alerts_by_change ON alerts(change_seq);
      CREATE INDEX alerts_by_owner ON alerts(username, state);
      -- Only live alerts, in the order listLiveAlerts pages them (the partial index stays as small
      -- as the live set however many finished alerts wait to be pruned).
      CREATE INDEX alerts_live_by_coin ON alerts(coin_id, seq) WHERE state IN ('armed', 'cooling');
      CREATE INDEX alerts_finished ON alerts(updated_at) WHERE state IN ('fired', 'expired', 'removed');

      CREATE TABLE outbox (
        id          TEXT PRIMARY KEY,
        destination TEXT NOT NULL,
        username    TEXT,
        kind        TEXT NOT NULL,
        message     TEXT,
        email       TEXT,
        created_at  INTEGER NOT NULL,
        due_at      INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        lease_until INTEGER,
        error       TEXT,
        settled_at  INTEGER
      );
      -- id last: leaseOutbox's order (due_at, id) comes straight off the index, without a sort.
      CREATE INDEX outbox_due ON outbox(status, due_at, id);

      -- The source of truth for "the bot cannot write there"; identities.unreachable_since is a
      -- copy kept in the same transaction, so that a command's identity lookup sees it unasked.
      CREATE TABLE chat_states (
        address            TEXT PRIMARY KEY,
        unreachable_since  INTEGER,
        unreachable_reason TEXT,
        broadcasts_paused  INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      ALTER TABLE identities ADD COLUMN unreachable_since INTEGER;

      ALTER TABLE accounts ADD COLUMN alert_delivery TEXT;
      ALTER TABLE accounts ADD COLUMN alert_chat TEXT;
      ALTER TABLE accounts ADD COLUMN timezone TEXT;
      ALTER TABLE accounts ADD COLUMN digest_hour INTEGER;
    `,
  },
  {
    // Issue 11: paper limit and stop orders. An order is an alert record (owner `#orders:<user>`)
    // whose terms are one JSON column: they are only ever read and written whole, and NULL for
    // every alert, so the live-set read pays nothing for them. Cash held for open buy orders is
    // its own column (coin held for sell orders lives in the holdings JSON); a fill's transaction
    // says which order it filled and the market price its price was derived from.
    sql: `
      ALTER TABLE alerts ADD COLUMN order_terms TEXT;
      ALTER TABLE portfolios ADD COLUMN reserved_cash TEXT NOT NULL DEFAULT '0';
      ALTER TABLE transactions ADD COLUMN order_id TEXT;
      ALTER TABLE transactions ADD COLUMN market_price TEXT;
    `,
  },
  {
    // Issue 12: personal watchlists. One row per watched coin; the key (username first) serves
    // both the sorted read and the count addToWatchlist checks against the limit.
    sql: `
      CREATE TABLE watchlist (
        username TEXT NOT NULL REFERENCES accounts(username),
        coin_id  TEXT NOT NULL,
        PRIMARY KEY (username, coin_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Issue 12: daily portfolio snapshots (/chart portfolio, /leaderboard), one row per user and
    // UTC day (a second snapshot of the day replaces the first); the group members the
    // leaderboard ranks (platforms do not let bots list a group's members, so the bot remembers
    // who used it there); and the leaderboard opt-in (NULL: never chosen, read as absent).
    sql: `
      CREATE TABLE portfolio_snapshots (
        username TEXT NOT NULL,
        day      TEXT NOT NULL,
        value    TEXT NOT NULL,
        at       INTEGER NOT NULL,
        PRIMARY KEY (username, day)
      ) WITHOUT ROWID;
      CREATE TABLE chat_members (
        chat      TEXT NOT NULL,
        username  TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (chat, username)
      ) WITHOUT ROWID;
      ALTER TABLE accounts ADD COLUMN leaderboard INTEGER;
    `,
  },
  {
    // Issue 13: the job leader's lease and the prices it publishes. The embedded store runs one
    // process, which always leads, so neither is used by the bot itself; they keep the Store
    // contract whole (and a tool on the same file could share the snapshot).
    sql: `
      CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE price_snapshot (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        body TEXT NOT NULL
      );
    `,
  },
];

/**
 * Brings the database up to the latest schema. Each migration runs in its own IMMEDIATE
 * transaction and re-reads user_version inside it, so two processes opening a fresh file at the
 * same moment cannot both apply the same step.
 */
export function migrate(db: Database.Database): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  for (let target = version() + 1; target <= MIGRATIONS.length; target++) {
    const step = db.transaction(() => {
      if (version() >= target) return; // another process got here first
      const migration = MIGRATIONS[target - 1]!;
      db.exec(migration.sql);
      migration.seed?.(db);
      db.pragma(`user_version = ${target}`);
    });
    step.immediate();
  }
}
