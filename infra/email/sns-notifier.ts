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
 * deliver() publishes one message now, with one attempt, and says how it went. The outbox worker
 * (core/notifications/outbox-worker.ts) is its only caller: it keeps each email in the store,
 * retries a 'failed' one with backoff and gives up after its own attempt limit, so no email waits
 * in this process and a restart loses nothing. Trades only queue their email in the store, so
 * nothing here can fail or slow a trade. What is left here is pacing: one user's emails go out at
 * least `perUserIntervalMs` apart, under SNS's per-address email rate.
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
  /** Waits for pacing, between the retries of subscribe() and unsubscribe(), and stop()'s grace
   *  period; injectable so tests run instantly. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds clock for pacing; Date.now by default. */
  now?: () => number;
  /** [0, 1) for jitter; Math.random by default. */
  random?: () => number;
  /** The first retry of subscribe()'s and unsubscribe()'s calls waits about this long, doubling
   *  each time (with jitter, at most 2 s). Default 500 ms. */
  baseDelayMs?: number;
  /** Attempts for the calls behind subscribe() and unsubscribe(), which a user waits for. Default 3. */
  controlAttempts?: number;
  /** Least time between two emails to one user: SNS may suspend an email endpoint sent more than
   *  about 10 messages a second. Default 250 ms (4 a second). */
  perUserIntervalMs?: number;
  /** The topics' DisplayName: the sender name of the emails. Default 'CryptoPulse'. */
  displayName?: string;
  /** Per HTTP request, for the client this creates. Default 10 s. */
  requestTimeoutMs?: number;
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

/** Why deliver() fails once stop() was called. */
const STOPPING = 'the email notifier is stopping';

export class SnsNotifier implements Notifier {
  readonly enabled = true;

  private readonly client: SNSClient;
  private readonly ownsClient: boolean;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly sleepFor: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly baseDelayMs: number;
  private readonly controlAttempts: number;
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

  /** The earliest time of each user's next publish (see deliverOnce). */
  private readonly nextSendAt = new Map<string, number>();
  /** deliver() calls under way, for stop()'s grace period. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** stop() was called: deliver() says 'failed' (the outbox keeps the email), waits end. */
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
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.controlAttempts = Math.max(1, options.controlAttempts ?? 3);
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

  /** Deletes the user's topic and with it every subscription; later deliveries are skipped. */
  async unsubscribe(username: string): Promise<void> {
    const name = this.topicName(username);
    await this.exclusive(username, async () => {
      this.off.add(username);
      const arn = this.arns.get(username) ?? (this.arnPrefix ? this.arnPrefix + name : await this.ensureTopic(username, name, false));
      await this.control('DeleteTopic', () => this.client.send(new DeleteTopicCommand({ TopicArn: arn })));
      this.arns.delete(username);
    });
  }

  /**
   * Publishes one email now, for the outbox worker, which keeps the message and retries it:
   * 'sent' when SNS took it; 'skipped' when there is nobody to send it to (email turned off, no
   * topic) or SNS refused the request itself (retrying the same request cannot help; the reason
   * says so); 'failed' for throttling, server and network errors and timeouts, worth another try
   * later. One attempt, no waiting beyond the user's pacing interval. Never throws.
   */
  deliver(username: string, message: { subject: string; body: string }): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason?: string }> {
    const call = this.deliverOnce(username, message);
    this.inFlight.add(call);
    void call.finally(() => this.inFlight.delete(call));
    return call;
  }

  /**
   * Refuses further deliveries (they say 'failed', so the outbox keeps them for the next start)
   * and ends pacing and retry waits; waits up to `graceMs` for publishes in flight, so that one
   * SNS has nearly taken is not cut off and sent again; then closes the client it created.
   */
  async stop(graceMs = 0): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeStopped();
    if (graceMs > 0 && this.inFlight.size > 0) await Promise.race([Promise.allSettled([...this.inFlight]), this.sleepFor(graceMs)]);
    if (this.ownsClient) this.client.destroy();
  }

  // -- publishing -------------------------------------------------------------------------------

  /**
   * One publish, in the user's next pacing slot. The slot is taken before waiting for it, so
   * deliveries to one user that overlap (two outbox runs at once) are spaced too.
   */
  private async deliverOnce(username: string, message: { subject: string; body: string }): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason?: string }> {
    try {
      if (this.stopped) return { status: 'failed', reason: STOPPING };
      const subject = sanitizeSubject(String(message.subject ?? ''));
      const body = sanitizeBody(String(message.body ?? ''), subject);
      const now = this.now();
      const slot = Math.max(now, this.nextSendAt.get(username) ?? 0);
      this.nextSendAt.set(username, slot + this.perUserIntervalMs);
      if (slot > now) await this.pause(slot - now);
      if (this.stopped) return { status: 'failed', reason: STOPPING };
      if (this.off.has(username)) return { status: 'skipped', reason: 'email turned off' };
      return await this.publish(username, subject, body);
    } catch (error) {
      // Not SNS's answer (publish() classifies those): a bug or a failing logger. The outbox
      // retries it a bounded number of times.
      return { status: 'failed', reason: describeError(error).message };
    }
  }

  /** The Publish call, and what SNS's answer means for the outbox. */
  private async publish(username: string, subject: string, body: string): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason?: string }> {
    try {
      const arn = await this.topicArn(username);
      await this.client.send(new PublishCommand({
        TopicArn: arn,
        Subject: subject,
        Message: body,
        MessageAttributes: { username: { DataType: 'String', StringValue: username } },
      }));
      return { status: 'sent' };
    } catch (error) {
      if (isNotFound(error)) {
        // The topic is gone: the user turned email off (perhaps on another instance).
        this.arns.delete(username);
        this.log('info', { username, subject }, 'email: user has no email topic, message not sent');
        return { status: 'skipped', reason: 'no email subscription' };
      }
      const err = describeError(error);
      const reason = `${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}`;
      if (!isRetryable(error)) {
        // Retrying the same request cannot help.
        this.log('warn', { username, subject, err }, 'email: SNS refused the message');
        return { status: 'skipped', reason: `SNS refused it: ${reason}` };
      }
      return { status: 'failed', reason };
    }
  }

  /** Logs without ever throwing: a failing logger must not turn a sent email into a retried one. */
  private log(level: 'info' | 'warn', obj: object, msg: string): void {
    try {
      this.logger[level](obj, msg);
    } catch {
      // nothing to do
    }
  }

  private backoff(attempt: number, cap: number): number {
    return backoffDelay(attempt - 1, { baseMs: this.baseDelayMs, maxMs: cap, jitter: 'equal' }, this.random);
  }

  /** Sleeps, but wakes when the notifier stops. */
  private pause(ms: number): Promise<void> {
    return Promise.race([this.sleepFor(ms), this.stoppedSignal]);
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
