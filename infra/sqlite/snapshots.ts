/**
 * Daily portfolio snapshots and the group members the leaderboard ranks (Store.savePortfolioSnapshots
 * and co.). Both are plain upserts keyed by what makes them unique: a user's day, a chat's user.
 */
import type Database from 'better-sqlite3';
import type { PortfolioSnapshot } from '../../core/domain';

interface SnapshotRow {
  username: string;
  day: string;
  value: string;
  at: number;
}

export class SqliteSnapshots {
  private readonly s: ReturnType<typeof prepare>;
  private readonly saveTx: Database.Transaction<(snapshots: PortfolioSnapshot[]) => void>;

  constructor(db: Database.Database) {
    this.s = prepare(db);
    // One transaction per batch: one fsync for a page of accounts rather than one per account.
    this.saveTx = db.transaction((snapshots: PortfolioSnapshot[]) => {
      for (const snapshot of snapshots) this.s.upsertSnapshot.run(snapshot);
    });
  }

  save(snapshots: PortfolioSnapshot[]): void {
    if (snapshots.length > 0) this.saveTx(snapshots);
  }

  list(username: string, fromDay: string): PortfolioSnapshot[] {
    return (this.s.listSnapshots.all(username, fromDay) as SnapshotRow[]).map((r) => ({ username: r.username, day: r.day, value: r.value, at: r.at }));
  }

  recordMember(chat: string, username: string, at: number): void {
    this.s.upsertMember.run(chat, username, at);
  }

  members(chat: string): string[] {
    return this.s.members.all(chat) as string[];
  }
}

function prepare(db: Database.Database) {
  return {
    upsertSnapshot: db.prepare(`INSERT INTO portfolio_snapshots (username, day, value, at) VALUES (@username, @day, @value, @at)
      ON CONFLICT (username, day) DO UPDATE SET value = excluded.value, at = excluded.at`),
    listSnapshots: db.prepare('SELECT * FROM portfolio_snapshots WHERE username = ? AND day >= ? ORDER BY day'),
    // The latest sighting wins; an older one arriving late does not move it back.
    upsertMember: db.prepare(`INSERT INTO chat_members (chat, username, last_seen) VALUES (?, ?, ?)
      ON CONFLICT (chat, username) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)`),
    members: db.prepare('SELECT username FROM chat_members WHERE chat = ? ORDER BY username').pluck(),
  };
}
