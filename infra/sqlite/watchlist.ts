/**
 * Personal watchlists (Store.addToWatchlist and co.): one row per watched coin. The count and the
 * insert share an IMMEDIATE transaction, so two processes adding at once cannot both pass the
 * limit check.
 */
import type Database from 'better-sqlite3';

export class SqliteWatchlist {
  private readonly s: ReturnType<typeof prepare>;
  private readonly addTx: Database.Transaction<(username: string, coinId: string, limit: number) => 'added' | 'exists' | 'limit'>;

  constructor(db: Database.Database) {
    this.s = prepare(db);
    this.addTx = db.transaction((username: string, coinId: string, limit: number) => {
      if (this.s.has.get(username, coinId)) return 'exists';
      if ((this.s.count.get(username) as { n: number }).n >= limit) return 'limit';
      this.s.insert.run(username, coinId);
      return 'added';
    });
  }

  add(username: string, coinId: string, limit: number): 'added' | 'exists' | 'limit' {
    return this.addTx.immediate(username, coinId, limit);
  }

  remove(username: string, coinId: string): boolean {
    return this.s.remove.run(username, coinId).changes === 1;
  }

  list(username: string): string[] {
    return (this.s.list.all(username) as { coin_id: string }[]).map((row) => row.coin_id);
  }
}

function prepare(db: Database.Database) {
  return {
    has: db.prepare('SELECT 1 FROM watchlist WHERE username = ? AND coin_id = ?'),
    count: db.prepare('SELECT COUNT(*) AS n FROM watchlist WHERE username = ?'),
    insert: db.prepare('INSERT INTO watchlist (username, coin_id) VALUES (?, ?)'),
    remove: db.prepare('DELETE FROM watchlist WHERE username = ? AND coin_id = ?'),
    list: db.prepare('SELECT coin_id FROM watchlist WHERE username = ? ORDER BY coin_id'),
  };
}
