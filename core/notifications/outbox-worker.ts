/**
 * Delivers the outbox: every pushed message (fired alerts, group broadcasts, trade confirmation
 * emails, digests, notices) is a row in the store, written in the same atomic step as what caused
 * it; this worker takes due rows, sends them, and records how that ended.
 *
 * Leasing. runOnce() leases a batch (Store.leaseOutbox): no other worker, here or on another
 * instance, gets those rows until the lease ends. A worker that dies holding rows only delays
 * them: after the lease they are leased again and delivered. Delivery is therefore at least once;
 * a worker that dies after the platform took a message but before settling it sends it again.
 *
 * Outcomes (ChatDelivery / Notifier.deliver):
 *   sent    settled delivered;
 *   failed  retried with exponential backoff (backoffMs × 2^attempts, capped) by moving dueAt,
 *           until maxAttempts, then settled failed with the last reason;
 *   gone    the bot cannot write there (blocked, removed from the group): the address is marked
 *           unreachable in the store, the row settled failed ('unreachable: <reason>'), and the
 *           user is told once, in another linked chat or by email (a 'notice' row).
 * A row whose destination is already unreachable is settled failed without trying; a broadcast
 * to a chat whose broadcasts are paused is settled failed ('paused').
 *
 * The per-minute cap. At most config.alertsPerMinute alert and broadcast messages go to one
 * destination per minute. The count lives in the store (recordAttempt on `push:<destination>`,
 * a 60 s window opened by the first push), so every instance shares it. A message over the cap
 * is not dropped: it is deferred to the window's end (settled 'retry' with dueAt = window end
 * and error 'capped'). Every message capped in one window therefore comes due at the same
 * moment; when they do, the worker sends them as ONE summary ('🔔 5 more alerts fired: …') that
 * counts as one push in the new window, and settles them all with its outcome. All of that is
 * store state (the rows, their dueAt and marker, the counter), so it survives a restart and works
 * across instances. Two instances that lease halves of one window's deferred rows each send a
 * summary of their half: rare (it needs the rows split across leases) and still bounded.
 * Deferrals count as attempts in the store; a message is capped at most once per window, so this
 * only matters for a destination flooded for several minutes in a row.
 *
 * runOnce never throws: a failing store call or adapter affects the rows it concerns, which stay
 * leased and come back after the lease. Destinations are worked on in parallel (bounded); one
 * destination's rows go in order, so a chat reads its alerts in the order they fired.
 */
import type { Services } from '../context';
import { eachLimited } from '../each-limited';
import type { ChatState, LinkedIdentity, OutboxMessage } from '../domain';
import type { ChatDelivery, Delivery, OutboxSettlement } from '../ports';
import { parseDestination, platformOfAddress, unreachableMark, withTheirGroups } from './destinations';
import { capSummaryEmail, capSummaryMessage, unreachableNotice, unreachableText } from './views';

export interface OutboxWorkerOptions {
  /** Rows leased per run. Default 100. */
  batch?: number;
  /** How long a lease holds: longer than a batch takes to send. Default 5 min. */
  leaseMs?: number;
  /** Delivery attempts before a row is given up. Default 8. */
  maxAttempts?: number;
  /** The first retry waits this long, doubling after each failure. Default 5 s. */
  backoffMs?: number;
  /** The longest wait between two attempts. Default 10 min. */
  maxBackoffMs?: number;
  /** Destinations sent to at the same time. Default 8. */
  concurrency?: number;
}

export interface OutboxRun {
  /** Rows delivered on their own. */
  delivered: number;
  /** Rows put back for later: a failed attempt, or deferred by the per-minute cap. */
  retried: number;
  /** Rows given up (attempts exhausted, unreachable, paused, nothing to send to). */
  failed: number;
  /** Rows delivered inside a cap summary. */
  summarised: number;
}

/** The marker of a row the per-minute cap deferred (OutboxMessage.error). */
export const CAPPED = 'capped';
const CAP_WINDOW_MS = 60_000;
/** The unreachable notice is sent at most once per chat and user in this time. */
const NOTICE_EVERY_MS = 24 * 3_600_000;

const isCapped = (m: OutboxMessage) => m.error?.startsWith(CAPPED) === true;
const isCappedKind = (m: OutboxMessage) => m.kind === 'alert' || m.kind === 'broadcast';

/** What one run knows about destinations, shared by its parallel parts. */
interface RunState {
  now: number;
  states: Map<string, ChatState>;
  report: OutboxRun;
}

export class OutboxWorker {
  private readonly batch: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly concurrency: number;

  constructor(private readonly services: Services, private readonly chats: ChatDelivery, options: OutboxWorkerOptions = {}) {
    this.batch = Math.max(1, options.batch ?? 100);
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 8);
    this.backoffMs = options.backoffMs ?? 5_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 10 * 60_000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  async runOnce(): Promise<OutboxRun> {
    const report: OutboxRun = { delivered: 0, retried: 0, failed: 0, summarised: 0 };
    try {
      const now = this.services.clock.now();
      const leased = await this.services.store.leaseOutbox(now, this.batch, this.leaseMs);
      if (!leased.length) return report;
      const byDestination = new Map<string, OutboxMessage[]>();
      for (const m of leased) {
        const list = byDestination.get(m.destination);
        if (list) list.push(m);
        else byDestination.set(m.destination, [m]);
      }
      const run: RunState = { now, states: await this.statesOf([...byDestination.keys()]), report };
      await eachLimited([...byDestination], this.concurrency, ([destination, messages]) => this.runDestination(destination, messages, run));
    } catch (error) {
      this.log('error', { err: describe(error) }, 'outbox: run failed');
    }
    return report;
  }

  /** Unreachable and paused marks of the batch's chats and direct chats, in one read. */
  private async statesOf(destinations: string[]): Promise<Map<string, ChatState>> {
    const addresses = withTheirGroups(destinations.map(parseDestination).filter((d) => d && d.type !== 'email').map((d) => d!.address));
    if (!addresses.length) return new Map();
    try {
      return await this.services.store.getChatStates(addresses);
    } catch (error) {
      // Without them the adapters still say 'gone' where the bot cannot write.
      this.log('warn', { err: describe(error) }, 'outbox: could not read chat states');
      return new Map();
    }
  }

  private async runDestination(destination: string, messages: OutboxMessage[], run: RunState): Promise<void> {
    // Rows the cap deferred in one window go out as one summary; they are the oldest due, so
    // sending them first keeps the order.
    const deferred = messages.filter((m) => isCapped(m) && isCappedKind(m));
    const units: OutboxMessage[][] = deferred.length > 1 ? [deferred, ...messages.filter((m) => !deferred.includes(m)).map((m) => [m])] : messages.map((m) => [m]);
    for (const unit of units) {
      try {
        await this.runUnit(destination, unit, run);
      } catch (error) {
        // Left leased: it comes back after the lease. The destination's next rows still go.
        this.log('error', { destination, ids: unit.map((m) => m.id), err: describe(error) }, 'outbox: delivery failed unexpectedly');
      }
    }
  }

  /** Sends one row, or one summary of several rows, and settles them. */
  private async runUnit(destination: string, unit: OutboxMessage[], run: RunState): Promise<void> {
    const { now } = run;
    const target = parseDestination(destination);
    if (!target) return this.settleAll(unit, { status: 'failed', at: now, error: `no such destination: ${destination}` }, run);

    if (target.type === 'email') {
      // Email turned off since the row was queued: nothing goes out (and a provider is not asked
      // about an address the user withdrew).
      const account = await this.services.store.getAccount(target.address);
      if (!account?.emailNotifications) return this.settleAll(unit, { status: 'failed', at: now, error: 'skipped: email is off' }, run);
    }
    let identity: LinkedIdentity | null = null;
    if (target.type === 'user') {
      identity = await this.services.store.findIdentity(target.address);
      if (!identity) return this.settleAll(unit, { status: 'failed', at: now, error: 'the chat is no longer linked' }, run);
    }
    if (target.type !== 'email') {
      const mark = unreachableMark(run.states, target.address);
      if (mark || identity?.unreachableSince !== undefined) {
        return this.settleAll(unit, { status: 'failed', at: now, error: `unreachable: ${mark?.reason ?? 'the bot cannot write there'}` }, run);
      }
      if (target.type === 'chat' && run.states.get(target.address)?.broadcastsPaused && unit.every((m) => m.kind === 'broadcast')) {
        return this.settleAll(unit, { status: 'failed', at: now, error: 'paused' }, run);
      }
    }

    if (unit.every(isCappedKind)) {
      const window = await this.services.store.recordAttempt(`push:${destination}`, now, CAP_WINDOW_MS);
      if (window.count > this.services.config.alertsPerMinute) {
        // Over the cap: wait for the window's end with the others it held back (see top).
        return this.settleAll(unit, { status: 'retry', dueAt: window.firstAt + CAP_WINDOW_MS, error: CAPPED }, run);
      }
    }

    const summary = unit.length > 1;
    const outcome = await this.send(target, identity, unit, summary);
    this.services.metrics?.delivery(target.type === 'email' ? 'email' : platformOfAddress(target.address), outcome.status);
    if (outcome.status === 'sent') {
      await this.settleAll(unit, { status: 'delivered', at: now }, run);
      if (summary) run.report.summarised += unit.length;
      else run.report.delivered += unit.length;
      return;
    }
    if (outcome.status === 'gone') {
      await this.services.store.markUnreachable(target.address, outcome.reason, now);
      // Later rows for this address in this run are skipped like any unreachable one.
      run.states.set(target.address, { ...run.states.get(target.address), address: target.address, unreachableSince: now, unreachableReason: outcome.reason });
      await this.settleAll(unit, { status: 'failed', at: now, error: `unreachable: ${outcome.reason}` }, run);
      await this.tellOwners(target, identity, unit, outcome.reason, now);
      return;
    }
    if (outcome.status === 'skipped') {
      return this.settleAll(unit, { status: 'failed', at: now, error: `skipped: ${outcome.reason}` }, run);
    }
    const attempts = Math.max(...unit.map((m) => m.attempts)) + 1;
    if (attempts >= this.maxAttempts) {
      return this.settleAll(unit, { status: 'failed', at: now, error: `gave up after ${attempts} attempts: ${outcome.reason}` }, run);
    }
    const dueAt = now + Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempts - 1));
    // A failed summary keeps its marker, so that its rows come back together as one summary.
    return this.settleAll(unit, { status: 'retry', dueAt, error: summary ? `${CAPPED}; ${outcome.reason}` : outcome.reason }, run);
  }

  private async send(
    target: { type: 'user' | 'chat' | 'email'; address: string },
    identity: LinkedIdentity | null,
    unit: OutboxMessage[],
    summary: boolean,
  ): Promise<Delivery | { status: 'skipped'; reason: string }> {
    const perMinute = this.services.config.alertsPerMinute;
    try {
      if (target.type === 'email') {
        const email = summary ? capSummaryEmail(unit, perMinute) : unit[0]!.email;
        if (!email) return { status: 'skipped', reason: 'no email text' };
        const result = await this.services.notifier.deliver(target.address, email);
        if (result.status === 'sent') return { status: 'sent' };
        if (result.status === 'skipped') return { status: 'skipped', reason: result.reason ?? 'email is off' };
        return { status: 'failed', reason: result.reason ?? 'email failed' };
      }
      const message = summary ? capSummaryMessage(unit, perMinute) : unit[0]!.message;
      if (!message) return { status: 'skipped', reason: 'no message text' };
      return target.type === 'user' ? await this.chats.deliver(identity!, message) : await this.chats.deliverToChat(target.address, message);
    } catch (error) {
      // The ports say they never throw; if one does, it is a failure worth retrying.
      return { status: 'failed', reason: describe(error) };
    }
  }

  private async settleAll(unit: OutboxMessage[], outcome: OutboxSettlement, run: RunState): Promise<void> {
    for (const m of unit) await this.services.store.settleOutbox(m.id, outcome);
    if (outcome.status === 'retry') run.report.retried += unit.length;
    else if (outcome.status === 'failed') run.report.failed += unit.length;
  }

  /**
   * Tells each user whose row could not be delivered there, once a day per address, in their
   * most recently linked other chat the bot can still reach, or else by email when they have it
   * on. Group broadcasts have nobody to tell.
   */
  private async tellOwners(
    target: { type: 'user' | 'chat' | 'email'; address: string },
    identity: LinkedIdentity | null,
    unit: OutboxMessage[],
    reason: string,
    now: number,
  ): Promise<void> {
    const { store, notifier } = this.services;
    const owners = new Set(unit.map((m) => m.username ?? (target.type === 'user' ? identity?.username : undefined)).filter((u): u is string => !!u));
    for (const username of owners) {
      try {
        if (!(await store.claimOnce(`notice:unreachable:${target.address}:${username}`, now + NOTICE_EVERY_MS))) continue;
        const text = unreachableText(target.type === 'user' && identity ? { platform: identity.platform } : { chat: target.address }, reason);
        const others = (await store.listIdentities(username))
          .filter((i) => i.key !== target.address && i.unreachableSince === undefined)
          .sort((a, b) => b.linkedAt - a.linkedAt);
        const account = others.length ? null : await store.getAccount(username);
        const destination = others.length ? `user:${others[0]!.key}` : account?.emailNotifications && notifier.enabled ? `email:${username}` : undefined;
        if (!destination) continue;
        await store.enqueueMessages([{
          id: `notice:unreachable:${target.address}:${username}:${now}`,
          destination,
          username,
          kind: 'notice',
          ...unreachableNotice(text, destination.startsWith('email:')),
          createdAt: now,
          dueAt: now,
          attempts: 0,
          status: 'pending',
        }]);
      } catch (error) {
        this.log('warn', { username, address: target.address, err: describe(error) }, 'outbox: could not tell the user about an unreachable chat');
      }
    }
  }

  private log(level: 'warn' | 'error', obj: object, msg: string): void {
    try {
      this.services.logger[level](obj, msg);
    } catch {
      // A failing logger must not stop delivery.
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
