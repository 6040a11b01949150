/**
 * The outbound sender every chat adapter can share: it keeps within a platform's published limits
 * instead of discovering them as rate-limit answers. Three sliding windows:
 *   - global: N requests per window for the whole bot,
 *   - per chat: N per window for one chat (channel, conversation),
 *   - per group: N per window for a chat the platform counts as a group (optional).
 * A limit of N per window W admits a new request only while fewer than N requests either are in
 * flight or finished less than W ago. Counting from the *answer* (not the start) of a request
 * means the server, which counts arrivals, can never see N + 1 arrivals inside one window,
 * whatever the network latency, at the cost of one round trip per window.
 *
 * Messages to one chat go out in order, one at a time; chats take turns. A rate-limit answer
 * pauses the chat for its retry-after (and everything, when several chats get one at once: a
 * storm), transient errors (5xx, network) are retried with backoff, and a chat the bot can no
 * longer write to is marked dead: its queue is dropped and later sends there return at once,
 * until `revive`. A chat that moved to another id (Telegram's group → supergroup) is followed.
 *
 * It knows nothing of any platform: an adapter gives it the limits, how to call the platform with
 * one payload (`call`), how to read the platform's errors (`classify`), how to read a message id
 * from an answer, which chat ids are groups, and its name for log lines (adapters/telegram/sender.ts
 * is one).
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
  /** Only for chats `isGroup` says are groups; none when absent. */
  perGroup?: RateWindow;
}

/** What a platform's error means to the sender (the adapter's `classify` says which). */
export type SendFailure =
  /** Too many requests: wait this long before trying that chat again. */
  | { kind: 'rate'; retryAfterMs: number }
  /** The bot cannot write there (blocked, kicked, chat gone). */
  | { kind: 'dead'; reason: string }
  /** The chat has a new id: this message and everything queued go there. */
  | { kind: 'migrate'; to: ChatId }
  /** An edit that would not change anything: as good as sent. */
  | { kind: 'unchanged' }
  /** Worth retrying with backoff (5xx, network errors). */
  | { kind: 'transient'; reason: string; code?: number }
  /** Refused for good (a bad request): not retried. */
  | { kind: 'fatal'; reason: string; code?: number };

/** Options every send takes; a platform adds its own (a thread, a topic). */
export interface BaseSendOptions {
  /** Counts against the per-group limit. Default: what the sender's `isGroup` says. */
  group?: boolean;
  /** Added to this message's log lines (e.g. the update id it answers). */
  log?: Record<string, unknown>;
  /**
   * Try even when this process remembers the chat as dead. Pushes (the outbox's deliveries) set
   * it: the store is their memory of unreachable chats, and it is cleared when the user writes
   * again, possibly to another instance, which this process's memory would never learn. A push
   * that finds the chat still closed marks it dead again.
   */
  evenIfDead?: boolean;
}

export type SendOutcome<MessageId = number | string> =
  | { status: 'sent'; chatId: ChatId; messageId?: MessageId; attempts: number }
  /** An edit that would not change anything. */
  | { status: 'unchanged'; chatId: ChatId; attempts: number }
  /** The bot cannot write there (blocked, kicked, chat gone); nothing more is sent until revived. */
  | { status: 'dead'; chatId: ChatId; reason: string }
  | { status: 'failed'; chatId: ChatId; reason: string; code?: number };

/** One chat of a broadcast, with the send options for it (a thread, say). */
export type BroadcastTarget<Options extends BaseSendOptions = BaseSendOptions> = { chatId: ChatId } & Options;

export interface BroadcastReport<MessageId = number | string> {
  sent: number;
  dead: number;
  failed: number;
  outcomes: Array<SendOutcome<MessageId>>;
}

/** What the sender's own behaviour can be tuned with (the same for every platform). */
export interface SenderTuning {
  /** Milliseconds; the sender only measures intervals with it. Default Date.now. */
  now?: () => number;
  /** Default setTimeout / clearTimeout (so fake timers work). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Requests in flight at once (different chats). Default 8. */
  maxInFlight?: number;
  /** Attempts per message when the platform answers "rate limited". Default 8. */
  maxRateLimitedAttempts?: number;
  /** Attempts per message on transient errors. Default 4. */
  maxTransientAttempts?: number;
  /** First backoff after a transient error; doubles each time. Default 500 ms. */
  backoffMs?: number;
  /** Rate-limit answers from this many different chats within `withinMs` pause every send.
   *  Default 3 chats within 1000 ms. */
  storm?: { chats: number; withinMs: number };
}

export interface RateLimitedSenderOptions<Payload, Options extends BaseSendOptions = BaseSendOptions, MessageId = number | string>
  extends SenderTuning {
  /** The platform's name, for log lines ("telegram chat unreachable: ..."). */
  platform: string;
  limits: SenderLimits;
  /** Sends one payload to one chat; resolves with the platform's answer, rejects with its error. */
  call: (chatId: ChatId, payload: Payload, options: Options) => Promise<unknown>;
  /** What a rejection from `call` means. */
  classify: (error: unknown) => SendFailure;
  /** The sent message's id in an answer, if any. Default: none. */
  messageIdOf?: (result: unknown) => MessageId | undefined;
  /** Whether a chat counts against the per-group limit (unless a send says). Default: none does. */
  isGroup?: (chatId: ChatId) => boolean;
  /** Fields describing a payload in log lines (e.g. its API method). Default: none. */
  describe?: (payload: Payload) => Record<string, unknown>;
  logger: Logger;
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

interface Job<Payload, Options, MessageId> {
  payload: Payload;
  options: Options;
  attempts: number;
  rateLimited: number;
  resolve: (outcome: SendOutcome<MessageId>) => void;
}

interface Lane<Payload, Options, MessageId> {
  key: string;
  chatId: ChatId;
  group: boolean;
  jobs: Array<Job<Payload, Options, MessageId>>;
  busy: boolean;
  pausedUntil: number;
  chat: SlidingWindow;
  groupWindow?: SlidingWindow;
}

/** Lanes kept before those with nothing queued and no recent sends are forgotten. */
const MAX_LANES = 20_000;

export class RateLimitedSender<Payload, Options extends BaseSendOptions = BaseSendOptions, MessageId = number | string> {
  private readonly limits: SenderLimits;
  private readonly platform: string;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly global: SlidingWindow;
  private readonly lanes = new Map<string, Lane<Payload, Options, MessageId>>();
  /** Lanes with queued jobs, in turn order. */
  private readonly turns = new Map<string, Lane<Payload, Options, MessageId>>();
  private readonly dead = new Map<string, string>();
  private readonly migrated = new Map<string, ChatId>();
  private readonly recentRateLimits: Array<{ at: number; key: string }> = [];
  private globalPausedUntil = 0;
  private inFlight = 0;
  private timer: { handle: unknown; at: number } | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  /** Counters for logs, tests and benchmarks. */
  readonly stats = { sent: 0, rateLimited: 0, retried: 0, dead: 0, failed: 0 };

  constructor(private readonly options: RateLimitedSenderOptions<Payload, Options, MessageId>) {
    this.limits = options.limits;
    this.platform = options.platform;
    this.now = options.now ?? (() => Date.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
    this.global = new SlidingWindow(this.limits.global.limit, this.limits.global.windowMs);
  }

  /** Queues one message for a chat; resolves when it was sent or given up on. */
  send(chatId: ChatId, payload: Payload, options: Options = {} as Options): Promise<SendOutcome<MessageId>> {
    return new Promise<SendOutcome<MessageId>>((resolve) => {
      const target = this.resolveChat(chatId);
      const key = String(target);
      const reason = this.dead.get(key);
      if (reason !== undefined && !options.evenIfDead) return resolve({ status: 'dead', chatId: target, reason });
      if (this.closed) return resolve({ status: 'failed', chatId: target, reason: 'sender closed' });
      const lane = this.laneOf(target, options.group);
      lane.jobs.push({ payload, options, attempts: 0, rateLimited: 0, resolve });
      if (!this.turns.has(key)) this.turns.set(key, lane);
      this.pump();
    });
  }

  /** Sends one message to many chats (each with its own send options), as fast as the limits allow. */
  async broadcast(targets: Array<BroadcastTarget<Options> | ChatId>, payload: Payload): Promise<BroadcastReport<MessageId>> {
    const outcomes = await Promise.all(targets.map((t) => {
      if (typeof t !== 'object') return this.send(t, payload);
      const { chatId, ...options } = t;
      return this.send(chatId, payload, options as unknown as Options);
    }));
    const count = (status: Array<SendOutcome['status']>) => outcomes.filter((o) => status.includes(o.status)).length;
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
      this.options.logger.warn({ chatId: key, reason }, `${this.platform} chat unreachable: stopped sending there`);
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
    if (this.dead.delete(key)) this.options.logger.info({ chatId: key }, `${this.platform} chat reachable again`);
  }

  /** Waits until nothing is queued or in flight (or the timeout passes). */
  idle(timeoutMs = Infinity): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let handle: unknown;
      const done = () => {
        if (handle !== undefined) this.clearTimer(handle);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        handle = this.setTimer(() => {
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

  private laneOf(chatId: ChatId, group?: boolean): Lane<Payload, Options, MessageId> {
    const key = String(chatId);
    let lane = this.lanes.get(key);
    if (!lane) {
      const isGroup = group ?? this.options.isGroup?.(chatId) ?? false;
      const perGroup = this.limits.perGroup;
      lane = {
        key, chatId, group: isGroup, jobs: [], busy: false, pausedUntil: 0,
        chat: new SlidingWindow(this.limits.perChat.limit, this.limits.perChat.windowMs),
        groupWindow: isGroup && perGroup ? new SlidingWindow(perGroup.limit, perGroup.windowMs) : undefined,
      };
      this.lanes.set(key, lane);
      if (this.lanes.size > MAX_LANES) this.forgetIdleLanes();
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
      let chosen: Lane<Payload, Options, MessageId> | undefined;
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

  private async run(lane: Lane<Payload, Options, MessageId>, job: Job<Payload, Options, MessageId>): Promise<void> {
    lane.busy = true;
    this.inFlight++;
    job.attempts++;
    this.global.begin();
    lane.chat.begin();
    lane.groupWindow?.begin();
    let result: unknown;
    let failure: SendFailure | undefined;
    try {
      result = await this.options.call(lane.chatId, job.payload, job.options);
    } catch (error) {
      failure = this.options.classify(error);
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

  private finish(lane: Lane<Payload, Options, MessageId>, outcome: SendOutcome<MessageId>): void {
    lane.jobs.shift()?.resolve(outcome);
    if (!lane.jobs.length) this.turns.delete(lane.key);
  }

  private settle(lane: Lane<Payload, Options, MessageId>, job: Job<Payload, Options, MessageId>, result: unknown, failure: SendFailure | undefined, now: number): void {
    const { logger } = this.options;
    const platform = this.platform;
    const where = { ...job.options.log, chatId: lane.key, ...this.options.describe?.(job.payload), attempt: job.attempts };
    if (!failure) {
      this.stats.sent++;
      // A push tried despite a dead mark got through: the chat is open again.
      if (this.dead.has(lane.key)) this.revive(lane.chatId);
      this.finish(lane, { status: 'sent', chatId: lane.chatId, messageId: this.options.messageIdOf?.(result), attempts: job.attempts });
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
        // The chat has a new id (a Telegram group became a supergroup): everything queued moves there.
        logger.info({ ...where, to: failure.to }, `${platform} chat migrated: following it`);
        this.migrated.set(lane.key, failure.to);
        const moved = lane.jobs.splice(0);
        this.turns.delete(lane.key);
        const next = this.laneOf(failure.to, lane.group);
        next.jobs.push(...moved);
        if (next.jobs.length && !this.turns.has(next.key)) this.turns.set(next.key, next);
        return;
      }
      case 'rate': {
        this.stats.rateLimited++;
        job.rateLimited++;
        lane.pausedUntil = Math.max(lane.pausedUntil, now + failure.retryAfterMs);
        const storm = this.options.storm ?? { chats: 3, withinMs: 1000 };
        this.recentRateLimits.push({ at: now, key: lane.key });
        while (this.recentRateLimits.length && this.recentRateLimits[0]!.at <= now - storm.withinMs) this.recentRateLimits.shift();
        if (new Set(this.recentRateLimits.map((r) => r.key)).size >= storm.chats && this.globalPausedUntil < now + failure.retryAfterMs) {
          this.globalPausedUntil = now + failure.retryAfterMs;
          logger.warn({ retryAfterMs: failure.retryAfterMs }, `${platform} rate limits on several chats: pausing all sends`);
        }
        if (job.rateLimited >= (this.options.maxRateLimitedAttempts ?? 8)) {
          this.stats.failed++;
          logger.error({ ...where }, `${platform} kept answering rate limited: gave up on a message`);
          this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: 'rate limited', code: 429 });
          return;
        }
        this.stats.retried++;
        logger.warn({ ...where, retryAfterMs: failure.retryAfterMs }, `${platform} rate limited: retrying after its retry-after`);
        return;
      }
      case 'transient': {
        if (job.attempts - job.rateLimited >= (this.options.maxTransientAttempts ?? 4)) {
          this.stats.failed++;
          logger.error({ ...where, reason: failure.reason, code: failure.code }, `${platform} send failed: gave up`);
          this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: failure.reason, code: failure.code });
          return;
        }
        const backoff = (this.options.backoffMs ?? 500) * 2 ** (job.attempts - job.rateLimited - 1);
        lane.pausedUntil = Math.max(lane.pausedUntil, now + backoff);
        this.stats.retried++;
        logger.warn({ ...where, reason: failure.reason, code: failure.code, backoffMs: backoff }, `${platform} send failed: retrying`);
        return;
      }
      case 'fatal':
        this.stats.failed++;
        logger.error({ ...where, reason: failure.reason, code: failure.code }, `${platform} refused a message`);
        this.finish(lane, { status: 'failed', chatId: lane.chatId, reason: failure.reason, code: failure.code });
        return;
    }
  }
}
