/**
 * Every message the bot sends (replies, edits, alerts, broadcasts) goes through one sender that
 * keeps within Telegram's limits instead of discovering them as 429s:
 *   - about 30 messages per second overall,
 *   - 1 per second per chat,
 *   - 20 per minute per group.
 * A limit of N per window W admits a new request only while fewer than N requests either are in
 * flight or finished less than W ago. Counting from the *answer* (not the start) of a request
 * means the server, which counts arrivals, can never see N + 1 arrivals inside one window,
 * whatever the network latency, at the cost of one round trip per window.
 *
 * Messages to one chat go out in order, one at a time; chats take turns. telegraf does not retry:
 * here a 429 pauses the chat for `retry_after` (and everything, when several chats get 429s at
 * once), 5xx and network errors are retried with backoff, and a chat where the bot was blocked,
 * kicked or that no longer exists is marked dead: its queue is dropped and later sends there
 * return at once, until `revive` (the chat wrote to the bot again).
 *
 * `send` and `broadcast` never reject: they resolve with what happened.
 */
import type { Logger } from '../../core/ports';

export type ChatId = number | string;

export interface RateWindow {
  limit: number;
  windowMs: number;
}

export interface SenderLimits {
  global: RateWindow;
  perChat: RateWindow;
  perGroup: RateWindow;
}

export const TELEGRAM_LIMITS: SenderLimits = {
  global: { limit: 30, windowMs: 1000 },
  perChat: { limit: 1, windowMs: 1000 },
  perGroup: { limit: 20, windowMs: 60_000 },
};

/** A Bot API method and its parameters, without chat_id and message_thread_id (the sender adds them). */
export interface OutboundPayload {
  method: 'sendMessage' | 'sendPhoto' | 'editMessageText' | 'editMessageReplyMarkup' | 'editMessageCaption';
  params: Record<string, unknown>;
}

export interface SendOptions {
  /** Forum topic (message_thread_id). */
  threadId?: number;
  /** Counts against the 20/min group limit. Default: chats with a negative id (groups, supergroups). */
  group?: boolean;
  /** Added to this message's log lines (e.g. the update id it answers). */
  log?: Record<string, unknown>;
}

export type SendOutcome =
  | { status: 'sent'; chatId: ChatId; messageId?: number; attempts: number }
  /** An edit that would not change anything (Telegram's "message is not modified"). */
  | { status: 'unchanged'; chatId: ChatId; attempts: number }
  /** The bot cannot write there (blocked, kicked, chat gone); nothing more is sent until revived. */
  | { status: 'dead'; chatId: ChatId; reason: string }
  | { status: 'failed'; chatId: ChatId; reason: string; code?: number };

export interface BroadcastTarget {
  chatId: ChatId;
  threadId?: number;
}

export interface BroadcastReport {
  sent: number;
  dead: number;
  failed: number;
  outcomes: SendOutcome[];
}

/** Calls the Bot API (telegraf's `telegram.callApi`); throws telegraf's TelegramError on failure. */
export type TelegramCall = (method: string, params: Record<string, unknown>) => Promise<unknown>;

export interface SenderOptions {
  call: TelegramCall;
  logger: Logger;
  limits?: Partial<SenderLimits>;
  /** Milliseconds; the sender only measures intervals with it. Default Date.now. */
  now?: () => number;
  /** Default setTimeout / clearTimeout (so fake timers work). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Requests in flight at once (different chats). Default 8. */
  maxInFlight?: number;
  /** Attempts per message when Telegram answers 429. Default 8. */
  maxRateLimitedAttempts?: number;
  /** Attempts per message on 5xx or network errors. Default 4. */
  maxTransientAttempts?: number;
  /** First backoff after a 5xx or network error; doubles each time. Default 500 ms. */
  backoffMs?: number;
}

/**
 * N per window, counted from when requests finish. `wait` is how long until one more may start
 * (Infinity while only in-flight requests could free a place).
 */
export class SlidingWindow {
  private open = 0;
  private readonly done: number[] = [];

  constructor(readonly limit: number, readonly windowMs: number) {}

  wait(now: number): number {
    while (this.done.length && this.done[0]! + this.windowMs <= now) this.done.shift();
    const used = this.open + this.done.length;
    if (used < this.limit) return 0;
    const index = used - this.limit;
    return index < this.done.length ? this.done[index]! + this.windowMs - now : Infinity;
  }

  begin(): void {
    this.open++;
  }

  end(now: number): void {
    this.open--;
    let i = this.done.length;
    while (i > 0 && this.done[i - 1]! > now) i--;
    this.done.splice(i, 0, now);
  }

  get idle(): boolean {
    return this.open === 0 && this.done.length === 0;
  }
}

interface Job {
  payload: OutboundPayload;
  threadId?: number;
  log?: Record<string, unknown>;
  attempts: number;
  rateLimited: number;
  resolve: (outcome: SendOutcome) => void;
}

interface Lane {
  key: string;
  chatId: ChatId;
  group: boolean;
  jobs: Job[];
  busy: boolean;
  pausedUntil: number;
  chat: SlidingWindow;
  groupWindow?: SlidingWindow;
}

type Failure =
  | { kind: 'rate'; retryAfterMs: number }
  | { kind: 'dead'; reason: string }
  | { kind: 'migrate'; to: number }
  | { kind: 'unchanged' }
  | { kind: 'transient'; reason: string; code?: number }
  | { kind: 'fatal'; reason: string; code?: number };

const DEAD_400 = /chat not found|group chat was (deactivated|upgraded)|have no rights to send|not enough rights to send|need administrator rights|CHAT_WRITE_FORBIDDEN|PEER_ID_INVALID|user not found/i;

/** Reads telegraf's TelegramError (or anything shaped like the Bot API's error answer). */
export function classifyTelegramError(error: unknown): Failure {
  const response = (error as { response?: { error_code?: unknown; description?: unknown; parameters?: { retry_after?: unknown; migrate_to_chat_id?: unknown } } } | null)?.response;
  if (!response || typeof response.error_code !== 'number') {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { kind: 'transient', reason };
  }
  const code = response.error_code;
  const reason = typeof response.description === 'string' ? response.description : `error ${code}`;
  const retryAfter = Number(response.parameters?.retry_after);
  const migrateTo = Number(response.parameters?.migrate_to_chat_id);
  if (code === 429) return { kind: 'rate', retryAfterMs: (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1) * 1000 };
  if (Number.isFinite(migrateTo) && migrateTo !== 0) return { kind: 'migrate', to: migrateTo };
  if (code === 403) return { kind: 'dead', reason };
  if (code === 400 && /message is not modified/i.test(reason)) return { kind: 'unchanged' };
  if (code === 400 && DEAD_400.test(reason)) return { kind: 'dead', reason };
  if (code >= 500) return { kind: 'transient', reason, code };
  return { kind: 'fatal', reason, code };
}

/** 429s from this many different chats within a second mean a bot-wide flood: pause everything. */
const STORM_CHATS = 3;

export class TelegramSender {
  private readonly limits: SenderLimits;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly global: SlidingWindow;
  private readonly lanes = new Map<string, Lane>();
  /** Lanes with queued jobs, in turn order. */
  private readonly turns = new Map<string, Lane>();
  private readonly dead = new Map<string, string>();
  private readonly migrated = new Map<string, ChatId>();
  private readonly recent429: Array<{ at: number; key: string }> = [];
  private globalPausedUntil = 0;
  private inFlight = 0;
  private timer: { handle: unknown; at: number } | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  /** Counters for logs, tests and benchmarks. */
  readonly stats = { sent: 0, rateLimited: 0, retried: 0, dead: 0, failed: 0 };

  constructor(private readonly options: SenderOptions) {
    this.limits = { ...TELEGRAM_LIMITS, ...options.limits };
    this.now = options.now ?? (() => Date.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
    this.global = new SlidingWindow(this.limits.global.limit, this.limits.global.windowMs);
  }

  /** Queues one message for a chat; resolves when it was sent or given up on. */
  send(chatId: ChatId, payload: OutboundPayload, options: SendOptions = {}): Promise<SendOutcome> {
    return new Promise<SendOutcome>((resolve) => {
      const target = this.resolveChat(chatId);
      const key = String(target);
      const reason = this.dead.get(key);
      if (reason !== undefined) return resolve({ status: 'dead', chatId: target, reason });
      if (this.closed) return resolve({ status: 'failed', chatId: target, reason: 'sender closed' });
      const lane = this.laneOf(target, options.group);
      lane.jobs.push({ payload, threadId: options.threadId, log: options.log, attempts: 0, rateLimited: 0, resolve });
      if (!this.turns.has(key)) this.turns.set(key, lane);
      this.pump();
    });
  }

  /** Sends one message to many chats (or forum topics), as fast as the limits allow. */
  async broadcast(targets: Array<BroadcastTarget | ChatId>, payload: OutboundPayload): Promise<BroadcastReport> {
    const outcomes = await Promise.all(targets.map((t) =>
      typeof t === 'object' ? this.send(t.chatId, payload, { threadId: t.threadId }) : this.send(t, payload)));
    const count = (status: SendOutcome['status'][]) => outcomes.filter((o) => status.includes(o.status)).length;
    return { sent: count(['sent', 'unchanged']), dead: count(['dead']), failed: count(['failed']), outcomes };
  }

  isDead(chatId: ChatId): boolean {
    return this.dead.has(String(this.resolveChat(chatId)));
  }

  /** Stops sending to a chat (the bot learnt it was blocked or removed) and drops its queue. */
  markDead(chatId: ChatId, reason: string): void {
    const key = String(this.resolveChat(chatId));
    if (!this.dead.has(key)) {
      this.dead.set(key, reason);
      this.stats.dead++;
      this.options.logger.warn({ chatId: key, reason }, 'telegram chat unreachable: stopped sending there');
    }
    const lane = this.lanes.get(key);
    if (lane) {
      // The job in flight (if any) settles itself; the rest go now.
      const queued = lane.busy ? lane.jobs.splice(1) : lane.jobs.splice(0);
      for (const job of queued) job.resolve({ status: 'dead', chatId: lane.chatId, reason });
      if (!lane.jobs.length) this.turns.delete(key);
    }
    this.checkIdle();
  }

  /** The chat can be written to again (it sent the bot a message, or re-added it). */
  revive(chatId: ChatId): void {
    const key = String(this.resolveChat(chatId));
    if (this.dead.delete(key)) this.options.logger.info({ chatId: key }, 'telegram chat reachable again');
  }

  /** Waits until nothing is queued or in flight (or the timeout passes). */
  idle(timeoutMs = Infinity): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let handle: NodeJS.Timeout | undefined;
      const done = () => {
        if (handle) clearTimeout(handle);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        handle = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** Refuses new messages and gives up on queued ones (in-flight requests finish on their own). */
  close(): void {
    this.closed = true;
    for (const lane of this.turns.values()) {
      const queued = lane.busy ? lane.jobs.splice(1) : lane.jobs.splice(0);
      for (const job of queued) job.resolve({ status: 'failed', chatId: lane.chatId, reason: 'sender closed' });
    }
    this.turns.clear();
    if (this.timer) this.clearTimer(this.timer.handle);
    this.timer = undefined;
    this.checkIdle();
  }

  get pending(): number {
    let n = 0;
    for (const lane of this.turns.values()) n += lane.jobs.length;
    return n;
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.turns.size === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private resolveChat(chatId: ChatId): ChatId {
    let target = chatId;
    for (let i = 0; i < 5; i++) {
      const next = this.migrated.get(String(target));
      if (next === undefined) break;
      target = next;
    }
    return target;
  }

  private laneOf(chatId: ChatId, group?: boolean): Lane {
    const key = String(chatId);
    let lane = this.lanes.get(key);
    if (!lane) {
      const isGroup = group ?? (typeof chatId === 'number' ? chatId < 0 : /^-\d+$/.test(chatId));
      lane = {
        key, chatId, group: isGroup, jobs: [], busy: false, pausedUntil: 0,
        chat: new SlidingWindow(this.limits.perChat.limit, this.limits.perChat.windowMs),
        groupWindow: isGroup ? new SlidingWindow(this.limits.perGroup.limit, this.limits.perGroup.windowMs) : undefined,
      };
      this.lanes.set(key, lane);
      if (this.lanes.size > 20_000) this.forgetIdleLanes();
    }
    return lane;
  }

  /** Lanes hold only rate history: drop those with nothing queued and no recent sends. */
  private forgetIdleLanes(): void {
    const now = this.now();
    for (const [key, lane] of this.lanes) {
      if (!lane.busy && !lane.jobs.length && lane.pausedUntil <= now && lane.chat.wait(now) === 0 && (lane.groupWindow?.wait(now) ?? 0) === 0) {
        this.lanes.delete(key);
      }
    }
  }

  /** Starts every job the limits allow now, and sets a timer for the next one. */
  private pump(): void {
    if (this.closed) return;
    while (this.turns.size && this.inFlight < (this.options.maxInFlight ?? 8)) {
      const now = this.now();
      const globalWait = Math.max(this.global.wait(now), this.globalPausedUntil - now);
      if (globalWait > 0) {
        if (Number.isFinite(globalWait)) this.wakeAt(now + globalWait);
        return;
      }
      let chosen: Lane | undefined;
      let soonest = Infinity;
      for (const lane of this.turns.values()) {
        if (lane.busy) continue;
        const wait = Math.max(lane.pausedUntil - now, lane.chat.wait(now), lane.groupWindow?.wait(now) ?? 0);
        if (wait <= 0) {
          chosen = lane;
          break;
        }
        soonest = Math.min(soonest, wait);
      }
      if (!chosen) {
        if (Number.isFinite(soonest)) this.wakeAt(now + soonest);
        return;
      }
      // Its turn is used: it goes to the back.
      this.turns.delete(chosen.key);
      this.turns.set(chosen.key, chosen);
      void this.run(chosen, chosen.jobs[0]!);
    }
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) this.clearTimer(this.timer.handle);
    const handle = this.setTimer(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(0, Math.ceil(at - this.now())));
    this.timer = { handle, at };
  }

  private async run(lane: Lane, job: Job): Promise<void> {
    lane.busy = true;
    this.inFlight++;
    job.attempts++;
    this.global.begin();
    lane.chat.begin();
    lane.groupWindow?.begin();
    let result: unknown;
    let failure: Failure | undefined;
    try {
      const params: Record<string, unknown> = { ...job.payload.params, chat_id: lane.chatId };
      if (job.threadId !== undefined) params.message_thread_id = job.threadId;
      result = await this.options.call(job.payload.method, params);
    } catch (error) {
      failure = classifyTelegramError(error);
    }
    const now = this.now();
    this.global.end(now);
    lane.chat.end(now);
    lane.groupWindow?.end(now);
    lane.busy = false;
    this.inFlight--;
    this.settle(lane, job, result, failure, now);
    this.pump();
    this.checkIdle();
  }

  private finish(lane: Lane, outcome: SendOutcome): void {
    lane.jobs.shift()?.resolve(outcome);
    if (!lane.jobs.length) this.turns.delete(lane.key);
  }

  private settle(lane: Lane, job: Job, result: unknown, failure: Failure | undefined, now: number): void {
    const { logger } = this.options;
    const where = { ...job.log, chatId: lane.key, method: job.payload.method, attempt: job.attempts };
    if (!failure) {
      this.stats.sent++;
      const messageId = (result as { message_id?: unknown } | null)?.message_id;
      this.finish(lane, { status: 'sent', chatId: lane.chatId, messageId: typeof messageId === 'number' ? messageId : undefined, attempts: job.attempts });
      return;
    }
    switch (failure.kind) {
      case 'unchanged':
        this.finish(lane, { status: 'unchanged', chatId: lane.chatId, attempts: job.attempts });
        return;
      case 'dead':
        this.finish(lane, { status: 'dead', chatId: lane.chatId, reason: failure.reason });
        this.markDead(lane.chatId, failure.reason);
        return;
      case 'migrate': {
        // A group became a supergroup: everything queued moves to the new id.
        logger.info({ ...where, to: failure.to }, 'telegram group migrated: following it');
        this.migrated.set(lane.key, failure.to);
        const moved = lane.jobs.splice(0);
        this.turns.delete(lane.key);
        const next = this.laneOf(failure.to, true);
        next.jobs.push(...moved);
        if (next.jobs.length && !this.turns.has(next.key)) this.turns.set(next.key, next);
        return;
      }
      case 'rate': {
        this.stats.rateLimited++;
        job.rateLimited++;
        lane.pausedUntil = Math.max(lane.pausedUntil, now + failure.retryAfterMs);
        this.recent429.push({ at: now, key: lane.key });
        while (this.recent429.length && this.recent429[0]!.at <= now - 1000) this.recent429.shift();
        if (new Set(this.recent429.map((r) => r.key)).size >= STORM_CHATS && this.globalPausedUntil < now + failure.retryAfterMs) {
          this.globalPausedUntil = now + failure.retryAfterMs;
          logger.warn({ retryAfterMs: failure.retryAfterMs }, 'telegram flood control on several chats: pausing all sends');
        }
        if (job.rateLimited >= (this.options.maxRateLimitedAttempts ?? 8)) {
          this.stats.failed++;
          logger.error({ ...where }, 'telegram kept answering 429: gave up on a message');
          this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: 'rate limited', code: 429 });
          return;
        }
        this.stats.retried++;
        logger.warn({ ...where, retryAfterMs: failure.retryAfterMs }, 'telegram 429: retrying after retry_after');
        return;
      }
      case 'transient': {
        if (job.attempts - job.rateLimited >= (this.options.maxTransientAttempts ?? 4)) {
          this.stats.failed++;
          logger.error({ ...where, reason: failure.reason, code: failure.code }, 'telegram send failed: gave up');
          this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: failure.reason, code: failure.code });
          return;
        }
        const backoff = (this.options.backoffMs ?? 500) * 2 ** (job.attempts - job.rateLimited - 1);
        lane.pausedUntil = Math.max(lane.pausedUntil, now + backoff);
        this.stats.retried++;
        logger.warn({ ...where, reason: failure.reason, code: failure.code, backoffMs: backoff }, 'telegram send failed: retrying');
        return;
      }
      case 'fatal':
        this.stats.failed++;
        logger.error({ ...where, reason: failure.reason, code: failure.code }, 'telegram refused a message');
        this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: failure.reason, code: failure.code });
        return;
    }
  }
}
