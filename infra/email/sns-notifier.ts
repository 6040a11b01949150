/**
 * Email through Amazon SNS, one topic per user.
 *
 * Each user who turns email on gets the topic `${topicPrefix}${username}` with exactly one
 * subscription: their address, by the `email` protocol. A publish to that topic can reach nobody
 * else, with no filter policies (whose quotas, 200 per topic and 10,000 per account, would cap the
 * bot far below its users). Turning email off deletes the topic with its subscriptions, so topics
 * exist only for users with email on: 100,000 per account by default. See docs/email.md.
 *
 * CreateTopic is idempotent (a name always yields the same ARN), so ARNs are not stored: they are
 * cached in memory, and after the first CreateTopic the account's ARN prefix is known and any
 * user's ARN is built without a call.
 *
 * send() only enqueues. A small in-process worker publishes, a few users at a time and one
 * message at a time per user (in order, paced under SNS's per-address email rate), retrying
 * throttling, server and network errors with exponential backoff and jitter, and dropping a
 * message with a warning after `maxAttempts`. Nothing here can fail or slow a trade.
 */
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
  UnsubscribeCommand,
  type Subscription,
} from '@aws-sdk/client-sns';
import type { Logger, Notifier } from '../../core/ports';
import { sanitizeBody, sanitizeSubject, topicNameFor } from './sns-text';
import { backoffDelay } from '../support/backoff';

/** What ListSubscriptionsByTopic says in place of the ARN of an unconfirmed subscription. */
export const PENDING_CONFIRMATION = 'PendingConfirmation';

export interface SnsClientOptions {
  region: string;
  /** e.g. a local stand-in; AWS's regional endpoint when absent. */
  endpoint?: string;
  /** Explicit credentials (tests); otherwise the standard AWS chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per HTTP request; default 10 s. */
  requestTimeoutMs?: number;
}

/**
 * An SNS client for the notifier: one attempt per call (the notifier retries, with its own
 * backoff, and knows when giving up is right) and timeouts, so a hung connection is an error the
 * notifier retries rather than a worker stuck forever.
 */
export function createSnsClient(options: SnsClientOptions): SNSClient {
  return new SNSClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: options.requestTimeoutMs ?? 10_000, throwOnRequestTimeout: true },
  });
}

export interface SnsNotifierOptions {
  region: string;
  endpoint?: string;
  /** Topic names are `${topicPrefix}${username}`. */
  topicPrefix: string;
  logger: Logger;
  /** Use this client instead of creating one (it should have maxAttempts: 1; see createSnsClient). */
  client?: SNSClient;
  /** Waits between retries and for pacing; injectable so tests run instantly. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds clock for pacing; Date.now by default. */
  now?: () => number;
  /** [0, 1) for jitter; Math.random by default. */
  random?: () => number;
  /** Publish attempts before a message is dropped. Default 6 (about 15 s of backoff). */
  maxAttempts?: number;
  /** First retry waits about this long, doubling each time (with jitter). Default 500 ms. */
  baseDelayMs?: number;
  /** Longest wait between publish attempts. Default 8 s. */
  maxDelayMs?: number;
  /** Attempts for the calls behind subscribe() and unsubscribe(), which a user waits for. Default 3. */
  controlAttempts?: number;
  /** Users published to at the same time. Default 8. */
  concurrency?: number;
  /** Messages waiting beyond this are dropped with a warning. Default 10,000. */
  maxQueued?: number;
  /** Least time between two emails to one user: SNS may suspend an email endpoint sent more than
   *  about 10 messages a second. Default 250 ms (4 a second). */
  perUserIntervalMs?: number;
  /** The topics' DisplayName: the sender name of the emails. Default 'CryptoPulse'. */
  displayName?: string;
  /** Per HTTP request, for the client this creates. Default 10 s. */
  requestTimeoutMs?: number;
}

interface Job {
  username: string;
  subject: string;
  body: string;
}

const RETRYABLE_CODES = new Set([
  'Throttling', 'ThrottlingException', 'Throttled', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded',
  'RequestThrottled', 'SlowDown', 'InternalError', 'InternalErrorException', 'InternalFailure', 'ServiceUnavailable',
  'KMSThrottling', 'KMSThrottlingException', 'ExpiredToken', 'ExpiredTokenException', 'RequestTimeout', 'TimeoutError',
  'RequestTimeoutException', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function describeError(error: unknown): { code: string; status?: number; message: string } {
  const e = (error ?? {}) as AwsLikeError;
  return { code: e.Code ?? e.name ?? e.code ?? 'Error', status: e.$metadata?.httpStatusCode, message: String(e.message ?? error) };
}

/** Worth another attempt: throttling, server errors and transport failures; not a request SNS refused. */
export function isRetryable(error: unknown): boolean {
  const e = (error ?? {}) as AwsLikeError;
  const status = e.$metadata?.httpStatusCode;
  if ([e.Code, e.name, e.code].some((c) => c !== undefined && RETRYABLE_CODES.has(c))) return true;
  if (e.$retryable) return true;
  if (status !== undefined) return status >= 500 || status === 429;
  // No HTTP answer at all: a network error.
  return !(error instanceof TypeError);
}

function isNotFound(error: unknown): boolean {
  const e = (error ?? {}) as AwsLikeError;
  return e.Code === 'NotFound' || e.name === 'NotFoundException' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class SnsNotifier implements Notifier {
  readonly enabled = true;

  private readonly client: SNSClient;
  private readonly ownsClient: boolean;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly sleepFor: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly controlAttempts: number;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly perUserIntervalMs: number;
  private readonly displayName: string;

  /** Topic ARNs by username; ARNs are derivable, so this is only a cache. */
  private readonly arns = new Map<string, string>();
  /** `arn:aws:sns:<region>:<account>:`, learned from the first CreateTopic. */
  private arnPrefix: string | undefined;
  /** Users who turned email off in this process: their late messages are not sent. */
  private readonly off = new Set<string>();
  /** subscribe/unsubscribe of one user run one at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();

  private readonly queues = new Map<string, Job[]>();
  private readonly ready: string[] = [];
  private readonly active = new Set<string>();
  private readonly nextSendAt = new Map<string, number>();
  private queued = 0;
  private running = 0;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];
  /** stop() was called: no new messages. */
  private closing = false;
  /** The grace period is over: waiting messages are dropped, retries end. */
  private stopped = false;
  private wakeStopped!: () => void;
  private readonly stoppedSignal = new Promise<void>((resolve) => (this.wakeStopped = resolve));

  constructor(options: SnsNotifierOptions) {
    this.ownsClient = !options.client;
    this.client = options.client ?? createSnsClient({ region: options.region, endpoint: options.endpoint, requestTimeoutMs: options.requestTimeoutMs });
    this.logger = options.logger;
    this.prefix = options.topicPrefix;
    topicNameFor(this.prefix, 'check'); // a bad prefix fails at start, not at the first user
    this.sleepFor = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8_000;
    this.controlAttempts = Math.max(1, options.controlAttempts ?? 3);
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.maxQueued = options.maxQueued ?? 10_000;
    this.perUserIntervalMs = options.perUserIntervalMs ?? 250;
    this.displayName = options.displayName ?? 'CryptoPulse';
  }

  topicName(username: string): string {
    return topicNameFor(this.prefix, username);
  }

  /**
   * Makes `email` the only address on the user's topic. A confirmed other address is
   * unsubscribed. An unconfirmed one cannot be (SNS has no ARN for it until it is confirmed, and
   * its link would still work for 48 hours), so then the topic is deleted and recreated: that
   * removes every subscription and voids the old confirmation links. A new or still unconfirmed
   * `email` is (re)subscribed, which makes SNS send it a confirmation email.
   */
  async subscribe(username: string, email: string): Promise<void> {
    const address = email.trim();
    const name = this.topicName(username);
    await this.exclusive(username, async () => {
      this.off.delete(username);
      let arn = await this.ensureTopic(username, name);
      let subscriptions = await this.listSubscriptions(arn);
      const isTarget = (s: Subscription) => s.Protocol === 'email' && (s.Endpoint ?? '').toLowerCase() === address.toLowerCase();
      const others = subscriptions.filter((s) => !isTarget(s));
      if (others.some((s) => s.SubscriptionArn === PENDING_CONFIRMATION)) {
        this.logger.info({ username }, 'email: an unconfirmed old address cannot be unsubscribed; recreating the topic');
        await this.control('DeleteTopic', () => this.client.send(new DeleteTopicCommand({ TopicArn: arn })));
        arn = await this.ensureTopic(username, name);
        subscriptions = [];
      } else {
        for (const s of others) await this.removeSubscription(s.SubscriptionArn!);
      }
      const current = subscriptions.find(isTarget);
      if (current && current.SubscriptionArn !== PENDING_CONFIRMATION) return;
      await this.control('Subscribe', () => this.client.send(new SubscribeCommand({ TopicArn: arn, Protocol: 'email', Endpoint: address })));
      this.logger.info({ username, resent: Boolean(current) }, 'email: confirmation requested');
    });
  }

  /** Deletes the user's topic and with it every subscription; waiting messages are discarded. */
  async unsubscribe(username: string): Promise<void> {
    const name = this.topicName(username);
    await this.exclusive(username, async () => {
      this.off.add(username);
      this.discardQueued(username, 'email turned off');
      const arn = this.arns.get(username) ?? (this.arnPrefix ? this.arnPrefix + name : await this.ensureTopic(username, name, false));
      await this.control('DeleteTopic', () => this.client.send(new DeleteTopicCommand({ TopicArn: arn })));
      this.arns.delete(username);
    });
  }

  /** Enqueues the message and returns at once; never throws. */
  send(username: string, message: { subject: string; body: string }): void {
    try {
      if (this.closing) {
        this.logger.warn({ username }, 'email: notifier stopped, message not sent');
        return;
      }
      if (this.off.has(username)) return;
      if (this.queued >= this.maxQueued) {
        this.logger.warn({ username, queued: this.queued }, 'email: queue full, message dropped');
        return;
      }
      const subject = sanitizeSubject(String(message.subject ?? ''));
      const job: Job = { username, subject, body: sanitizeBody(String(message.body ?? ''), subject) };
      const queue = this.queues.get(username);
      if (queue) queue.push(job);
      else this.queues.set(username, [job]);
      this.queued++;
      if (!this.active.has(username) && !this.ready.includes(username)) this.ready.push(username);
      this.schedulePump();
    } catch (error) {
      try {
        this.logger.error({ username, err: describeError(error) }, 'email: could not enqueue message');
      } catch {
        // A failing logger must not fail a trade either.
      }
    }
  }

  /** Resolves when every queued message has been published or dropped. */
  flush(): Promise<void> {
    if (this.queued === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting messages. Waits up to `graceMs` for the queue to drain, then drops what is
   * left (with a warning), ends retry waits early and waits for publishes in flight.
   */
  async stop(graceMs = 0): Promise<void> {
    if (this.closing) return this.flush();
    this.closing = true;
    if (graceMs > 0) await Promise.race([this.flush(), this.sleepFor(graceMs)]);
    this.stopped = true;
    this.wakeStopped();
    for (const username of [...this.queues.keys()]) this.discardQueued(username, 'notifier stopped');
    await this.flush();
    if (this.ownsClient) this.client.destroy();
  }

  // -- worker -----------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // The trade that called send() carries on first; the worker starts on the next turn.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0) {
      const username = this.ready.shift()!;
      const job = this.queues.get(username)?.shift();
      if (!job) continue;
      this.active.add(username);
      this.running++;
      void this.publishWithRetries(job)
        .catch((error) => this.logger.error({ username, err: describeError(error) }, 'email: worker failed'))
        .finally(() => {
          this.running--;
          this.queued--;
          this.active.delete(username);
          if (this.queues.get(username)?.length) this.ready.push(username);
          else this.queues.delete(username);
          this.pump();
          this.resolveIdle();
        });
    }
    this.resolveIdle();
  }

  private resolveIdle(): void {
    if (this.queued !== 0 || this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }

  private async publishWithRetries(job: Job): Promise<void> {
    const { username } = job;
    const wait = (this.nextSendAt.get(username) ?? 0) - this.now();
    if (wait > 0) await this.pause(wait);
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) {
        this.logger.warn({ username, subject: job.subject, attempts: attempt - 1 }, 'email: notifier stopped, message dropped');
        return;
      }
      if (this.off.has(username)) return;
      try {
        const arn = await this.topicArn(username);
        await this.client.send(new PublishCommand({
          TopicArn: arn,
          Subject: job.subject,
          Message: job.body,
          MessageAttributes: { username: { DataType: 'String', StringValue: username } },
        }));
        this.nextSendAt.set(username, this.now() + this.perUserIntervalMs);
        return;
      } catch (error) {
        const err = describeError(error);
        if (isNotFound(error)) {
          // The topic is gone: the user turned email off (perhaps on another instance).
          this.arns.delete(username);
          this.logger.info({ username, subject: job.subject }, 'email: user has no email topic, message not sent');
          return;
        }
        if (!isRetryable(error) || attempt >= this.maxAttempts) {
          this.logger.warn({ username, subject: job.subject, attempts: attempt, err }, 'email: publish failed, message dropped');
          return;
        }
        const delay = this.backoff(attempt, this.maxDelayMs);
        this.logger.info({ username, attempt, retryInMs: delay, err: { code: err.code, status: err.status } }, 'email: publish failed, retrying');
        await this.pause(delay);
      }
    }
  }

  private backoff(attempt: number, cap: number): number {
    return backoffDelay(attempt - 1, { baseMs: this.baseDelayMs, maxMs: cap, jitter: 'equal' }, this.random);
  }

  /** Sleeps, but wakes when the notifier stops. */
  private pause(ms: number): Promise<void> {
    return Promise.race([this.sleepFor(ms), this.stoppedSignal]);
  }

  private discardQueued(username: string, reason: string): void {
    const queue = this.queues.get(username);
    if (!queue?.length) return;
    const dropped = queue.length;
    this.queued -= dropped;
    this.queues.delete(username);
    const at = this.ready.indexOf(username);
    if (at >= 0) this.ready.splice(at, 1);
    this.logger.warn({ username, dropped }, `email: ${reason}, waiting messages discarded`);
    this.resolveIdle();
  }

  // -- topics -----------------------------------------------------------------------------------

  /** The user's topic ARN: cached, built from the account's ARN prefix, or from CreateTopic. */
  private async topicArn(username: string): Promise<string> {
    const cached = this.arns.get(username);
    if (cached) return cached;
    const name = this.topicName(username);
    if (this.arnPrefix) return this.arnPrefix + name;
    // Only the first message after a restart, before any CreateTopic taught us the prefix: the
    // user has email on, so the topic exists and CreateTopic just returns its ARN.
    return this.ensureTopic(username, name, false);
  }

  /** CreateTopic (idempotent); with `named`, also sets the sender name. */
  private async ensureTopic(username: string, name: string, named = true): Promise<string> {
    const out = await this.control('CreateTopic', () => this.client.send(new CreateTopicCommand({ Name: name })));
    const arn = out.TopicArn;
    if (!arn) throw new Error('SNS CreateTopic returned no TopicArn');
    this.arns.set(username, arn);
    this.arnPrefix ??= arn.slice(0, arn.length - name.length);
    if (named && this.displayName) {
      // Set separately: CreateTopic with attributes fails on an existing topic whose attributes differ.
      await this.control('SetTopicAttributes', () =>
        this.client.send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: 'DisplayName', AttributeValue: this.displayName })));
    }
    return arn;
  }

  private async listSubscriptions(topicArn: string): Promise<Subscription[]> {
    const all: Subscription[] = [];
    let token: string | undefined;
    do {
      const page = await this.control('ListSubscriptionsByTopic', () =>
        this.client.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token })));
      all.push(...(page.Subscriptions ?? []));
      token = page.NextToken;
    } while (token);
    return all;
  }

  private async removeSubscription(subscriptionArn: string): Promise<void> {
    try {
      await this.control('Unsubscribe', () => this.client.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn })));
    } catch (error) {
      if (!isNotFound(error)) throw error; // already gone (the recipient used the email's unsubscribe link)
    }
  }

  /** A call the user is waiting for: a few quick retries, then the error. */
  private async control<T>(action: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!isRetryable(error) || attempt >= this.controlAttempts || this.stopped) {
          this.logger.warn({ action, attempts: attempt, err: describeError(error) }, 'email: SNS call failed');
          throw error;
        }
        await this.pause(this.backoff(attempt, 2_000));
      }
    }
  }

  private async exclusive<T>(username: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(username) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(task);
    const settled = run.catch(() => undefined);
    this.locks.set(username, settled);
    void settled.then(() => {
      if (this.locks.get(username) === settled) this.locks.delete(username);
    });
    return run;
  }
}

export type CreateSnsNotifierOptions = SnsNotifierOptions;

/** The email notifier for `SNS_ENABLED=true`; credentials come from the standard AWS chain. */
export function createSnsNotifier(options: CreateSnsNotifierOptions): SnsNotifier {
  return new SnsNotifier(options);
}
