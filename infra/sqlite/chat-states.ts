/**
 * What the bot knows about the chats it pushes to (Store.getChatStates and co.). The chat_states
 * row is the source; for a direct chat (an identity key) identities.unreachable_since is a copy
 * written in the same transaction, so that the dispatcher sees it with the identity it reads
 * anyway. A row that carries no state any more is deleted: only chats with a state have one.
 */
import type Database from 'better-sqlite3';
import type { ChatState } from '../../core/domain';
import { jsonChunks } from './many-keys';

interface ChatStateRow {
  address: string;
  unreachable_since: number | null;
  unreachable_reason: string | null;
  broadcasts_paused: number;
}

export class SqliteChatStates {
  private readonly s: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.s = prepare(db);
  }

  get(addresses: string[]): Map<string, ChatState> {
    const states = new Map<string, ChatState>();
    for (const chunk of jsonChunks(addresses)) {
      for (const row of this.s.many.all(chunk) as ChatStateRow[]) states.set(row.address, toState(row));
    }
    return states;
  }

  markUnreachable(address: string, reason: string, at: number): void {
    this.db.transaction(() => {
      this.s.markUnreachable.run(address, at, reason);
      this.s.copyToIdentity.run(at, address);
    }).immediate();
  }

  clearUnreachable(address: string): void {
    this.db.transaction(() => {
      this.s.clearUnreachable.run(address);
      this.s.copyToIdentity.run(null, address);
      this.s.dropIfEmpty.run(address);
    }).immediate();
  }

  setBroadcastsPaused(address: string, paused: boolean): void {
    this.db.transaction(() => {
      this.s.setPaused.run(address, paused ? 1 : 0);
      this.s.dropIfEmpty.run(address);
    }).immediate();
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    many: p('SELECT * FROM chat_states WHERE address IN (SELECT value FROM json_each(?))'),
    markUnreachable: p(`INSERT INTO chat_states (address, unreachable_since, unreachable_reason) VALUES (?, ?, ?)
      ON CONFLICT (address) DO UPDATE SET unreachable_since = excluded.unreachable_since, unreachable_reason = excluded.unreachable_reason`),
    clearUnreachable: p('UPDATE chat_states SET unreachable_since = NULL, unreachable_reason = NULL WHERE address = ?'),
    copyToIdentity: p('UPDATE identities SET unreachable_since = ? WHERE key = ?'),
    setPaused: p(`INSERT INTO chat_states (address, broadcasts_paused) VALUES (?, ?)
      ON CONFLICT (address) DO UPDATE SET broadcasts_paused = excluded.broadcasts_paused`),
    dropIfEmpty: p('DELETE FROM chat_states WHERE address = ? AND unreachable_since IS NULL AND broadcasts_paused = 0'),
  };
}

function toState(r: ChatStateRow): ChatState {
  const state: ChatState = { address: r.address };
  if (r.unreachable_since !== null) state.unreachableSince = r.unreachable_since;
  if (r.unreachable_reason !== null) state.unreachableReason = r.unreachable_reason;
  if (r.broadcasts_paused === 1) state.broadcastsPaused = true;
  return state;
}
