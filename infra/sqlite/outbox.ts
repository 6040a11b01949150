/**
 * The outbox in the SQLite store: every pushed message is queued here in the same transaction as
 * what caused it (a firing, a trade), then leased by a delivery worker. A lease is a time, not a
 * lock: a worker that dies holding messages only delays them until the lease runs out.
 */
import type Database from 'better-sqlite3';
import type { OutboxMessage, OutboxStatus } from '../../core/domain';
import type { OutboxSettlement } from '../../core/ports';

interface OutboxRow {
  id: string;
  destination: string;
  username: string | null;
  kind: string;
  message: string | null;
  email: string | null;
  created_at: number;
  due_at: number;
  attempts: number;
  status: string;
  lease_until: number | null;
  error: string | null;
  settled_at: number | null;
}

export class SqliteOutbox {
  private readonly s: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.s = prepare(db);
  }

  /** Writes the messages, leaving any already queued as they are. Runs in the caller's
   *  transaction when there is one (a firing, a trade); on its own otherwise. */
  insert(messages: OutboxMessage[]): void {
    for (const m of messages) this.s.insert.run(messageParams(m));
  }

  enqueue(messages: OutboxMessage[]): void {
    if (messages.length) this.db.transaction(() => this.insert(messages))();
  }

  lease(now: number, limit: number, leaseMs: number): OutboxMessage[] {
    // IMMEDIATE: the write lock is taken before the read, so two processes leasing at once are
    // serialized and the second sees the first's leases.
    return this.db
      .transaction((): OutboxMessage[] => {
        const rows = this.s.due.all({ now, limit: Math.max(0, Math.floor(limit)) }) as OutboxRow[];
        const leaseUntil = now + leaseMs;
        for (const row of rows) this.s.lease.run(leaseUntil, row.id);
        return rows.map((row) => toMessage({ ...row, lease_until: leaseUntil }));
      })
      .immediate();
  }

  /** Only a pending message settles: a worker whose lease ran out while another delivered the
   *  message cannot turn it back. */
  settle(id: string, outcome: OutboxSettlement): void {
    if (outcome.status === 'retry') this.s.retry.run({ id, dueAt: outcome.dueAt, error: outcome.error });
    else this.s.settle.run({ id, status: outcome.status, at: outcome.at, error: outcome.status === 'failed' ? outcome.error : null });
  }

  get(id: string): OutboxMessage | null {
    const row = this.s.get.get(id) as OutboxRow | undefined;
    return row ? toMessage(row) : null;
  }

  prune(before: number): number {
    return this.s.prune.run(before).changes;
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(`INSERT INTO outbox
      (id, destination, username, kind, message, email, created_at, due_at, attempts, status, lease_until, error, settled_at)
      VALUES (@id, @destination, @username, @kind, @message, @email, @createdAt, @dueAt, @attempts, @status, @leaseUntil, @error, @settledAt)
      ON CONFLICT (id) DO NOTHING`),
    due: p(`SELECT * FROM outbox WHERE status = 'pending' AND due_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
      ORDER BY due_at, id LIMIT @limit`),
    lease: p('UPDATE outbox SET lease_until = ? WHERE id = ?'),
    retry: p(`UPDATE outbox SET due_at = @dueAt, attempts = attempts + 1, error = @error, lease_until = NULL
      WHERE id = @id AND status = 'pending'`),
    // A delivered message keeps the reason of its last failed attempt, if any.
    settle: p(`UPDATE outbox SET status = @status, settled_at = @at, error = COALESCE(@error, error), lease_until = NULL
      WHERE id = @id AND status = 'pending'`),
    get: p('SELECT * FROM outbox WHERE id = ?'),
    prune: p(`DELETE FROM outbox WHERE status IN ('delivered', 'failed') AND settled_at < ?`),
  };
}

function messageParams(m: OutboxMessage) {
  return {
    id: m.id,
    destination: m.destination,
    username: m.username ?? null,
    kind: m.kind,
    message: m.message === undefined ? null : JSON.stringify(m.message),
    email: m.email === undefined ? null : JSON.stringify(m.email),
    createdAt: m.createdAt,
    dueAt: m.dueAt,
    attempts: m.attempts,
    status: m.status,
    leaseUntil: m.leaseUntil ?? null,
    error: m.error ?? null,
    settledAt: m.settledAt ?? null,
  };
}

function toMessage(r: OutboxRow): OutboxMessage {
  const m: OutboxMessage = {
    id: r.id,
    destination: r.destination,
    kind: r.kind as OutboxMessage['kind'],
    createdAt: r.created_at,
    dueAt: r.due_at,
    attempts: r.attempts,
    status: r.status as OutboxStatus,
  };
  if (r.username !== null) m.username = r.username;
  if (r.message !== null) m.message = JSON.parse(r.message) as OutboxMessage['message'];
  if (r.email !== null) m.email = JSON.parse(r.email) as OutboxMessage['email'];
  if (r.lease_until !== null) m.leaseUntil = r.lease_until;
  if (r.error !== null) m.error = r.error;
  if (r.settled_at !== null) m.settledAt = r.settled_at;
  return m;
}
