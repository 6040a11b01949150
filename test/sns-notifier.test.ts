/**
 * The SNS notifier against the real @aws-sdk/client-sns, over HTTP, talking to a loopback
 * stand-in that speaks SNS's Query protocol and records what each address would receive.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../core/ports';
import { createSnsClient, createSnsNotifier, SnsNotifier, type SnsNotifierOptions } from '../infra/email/sns-notifier';
import { sanitizeBody, sanitizeSubject, SUBJECT_MAX, TOPIC_NAME, topicNameFor } from '../infra/email/sns-text';
import { startSnsStandin, type SnsStandin, type SnsStandinOptions } from './support/sns-standin';

const PREFIX = 'cryptopulse-user-';
const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

let sns: SnsStandin;
let notifier: SnsNotifier;
let logger: ReturnType<typeof recordingLogger>;
/** Every wait the notifier asked for (retries, pacing); they return at once. */
let sleeps: number[];

async function start(standin: SnsStandinOptions = {}, options: Partial<SnsNotifierOptions> = {}): Promise<void> {
  sns = await startSnsStandin(standin);
  notifier = makeNotifier(options);
}

function makeNotifier(options: Partial<SnsNotifierOptions> = {}): SnsNotifier {
  logger = recordingLogger();
  sleeps = [];
  return createSnsNotifier({
    region: 'us-east-1',
    topicPrefix: PREFIX,
    logger,
    client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
}

/** Turns email on for a user and clicks the confirmation link. */
async function emailOn(username: string, email = `${username}@example.com`): Promise<void> {
  await notifier.subscribe(username, email);
  expect(sns.confirm(email)).toBe(1);
}

const trade = (what: string) => ({ subject: `CryptoPulse: ${what}`, body: `You ${what}.\nThis is paper trading with virtual money.` });
const subjects = (email: string) => sns.inbox(email).map((d) => d.subject);

afterEach(async () => {
  await notifier?.stop();
  await sns?.close();
  notifier = undefined as never;
  sns = undefined as never;
});

describe('the wire protocol', () => {
  beforeEach(() => start());

  it('is the Query protocol: form-encoded POSTs with Action and Version, signed with SigV4, answered in XML', async () => {
    await notifier.subscribe('alice', 'alice@example.com');
    const create = sns.callsOf('CreateTopic')[0]!;
    expect(create.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(create.headers['x-amz-target']).toBeUndefined();
    expect(create.body).toBe(`Action=CreateTopic&Version=2010-03-31&Name=${PREFIX}alice`);
    expect(create.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/sns\/aws4_request/);
    expect(sns.callsOf('Subscribe')[0]!.params).toMatchObject({ Protocol: 'email', Endpoint: 'alice@example.com', TopicArn: `arn:aws:sns:us-east-1:123456789012:${PREFIX}alice` });

    sns.confirm('alice@example.com');
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(sns.callsOf('Publish')[0]!.params).toMatchObject({
      Action: 'Publish',
      Subject: 'CryptoPulse: bought 1 BTC',
      'MessageAttributes.entry.1.Name': 'username',
      'MessageAttributes.entry.1.Value.DataType': 'String',
      'MessageAttributes.entry.1.Value.StringValue': 'alice',
    });
  });

  it('the SDK reads the stand-in\'s XML errors as SNS errors', async () => {
    const client = createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS });
    const { PublishCommand } = await import('@aws-sdk/client-sns');
    const error = await client.send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:nope', Message: 'x' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NotFoundException', Code: 'NotFound', $metadata: { httpStatusCode: 404 } });
    client.destroy();
  });
});

describe('who receives what', () => {
  beforeEach(() => start());

  it('gives each user a topic of their own: a publish reaches only that user', async () => {
    await emailOn('alice');
    await emailOn('bob');
    notifier.send('alice', trade('bought 0.5 BTC'));
    notifier.send('bob', trade('sold 10 ETH'));
    notifier.send('alice', trade('sold 0.1 BTC'));
    await notifier.flush();

    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 0.5 BTC', 'CryptoPulse: sold 0.1 BTC']);
    expect(subjects('bob@example.com')).toEqual(['CryptoPulse: sold 10 ETH']);
    expect(sns.deliveries).toHaveLength(3);
    expect(sns.topics().map((t) => ({ name: t.name, endpoints: t.subscriptions.map((s) => s.endpoint) }))).toEqual([
      { name: `${PREFIX}alice`, endpoints: ['alice@example.com'] },
      { name: `${PREFIX}bob`, endpoints: ['bob@example.com'] },
    ]);
    // No filter policies: nothing counts against their quotas.
    expect(sns.topics().flatMap((t) => t.subscriptions).filter((s) => s.attributes.FilterPolicy)).toEqual([]);
    expect(sns.topic(`${PREFIX}alice`)!.attributes.DisplayName).toBe('CryptoPulse');
  });

  it('delivers nothing until the address confirms', async () => {
    await notifier.subscribe('alice', 'alice@example.com');
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(sns.deliveries).toEqual([]);
    expect(sns.confirmationMails).toEqual([expect.objectContaining({ email: 'alice@example.com' })]);

    sns.confirm('alice@example.com');
    notifier.send('alice', trade('bought 2 BTC'));
    await notifier.flush();
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 2 BTC']);
  });

  it('changing a confirmed address unsubscribes the old one; the new one waits for its confirmation', async () => {
    await emailOn('alice', 'alice@old.example');
    await notifier.subscribe('alice', 'alice@new.example');

    expect(sns.callsOf('Unsubscribe')).toHaveLength(1);
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions.map((s) => [s.endpoint, s.confirmed])).toEqual([['alice@new.example', false]]);
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(sns.deliveries).toEqual([]);

    sns.confirm('alice@new.example');
    notifier.send('alice', trade('bought 2 BTC'));
    await notifier.flush();
    expect(subjects('alice@new.example')).toEqual(['CryptoPulse: bought 2 BTC']);
    expect(sns.inbox('alice@old.example')).toEqual([]);
  });

  it('changing an unconfirmed address recreates the topic, so the old confirmation link confirms nothing', async () => {
    await notifier.subscribe('alice', 'typo@example.com');
    await notifier.subscribe('alice', 'alice@example.com');

    expect(sns.callsOf('Unsubscribe')).toEqual([]); // a pending subscription cannot be unsubscribed
    expect(sns.callsOf('DeleteTopic')).toHaveLength(1);
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions.map((s) => s.endpoint)).toEqual(['alice@example.com']);
    expect(sns.confirm('typo@example.com')).toBe(0);
    expect(sns.confirm('alice@example.com')).toBe(1);

    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(sns.deliveries.map((d) => d.email)).toEqual(['alice@example.com']);
  });

  it('turning email on again keeps a confirmed subscription, and resends a pending confirmation', async () => {
    await emailOn('alice');
    await notifier.subscribe('alice', 'alice@example.com');
    expect(sns.callsOf('Subscribe')).toHaveLength(1);
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions).toHaveLength(1);

    await notifier.subscribe('bob', 'bob@example.com');
    await notifier.subscribe('bob', 'bob@example.com');
    expect(sns.confirmationMails.filter((m) => m.email === 'bob@example.com')).toHaveLength(2);
    expect(sns.topic(`${PREFIX}bob`)!.subscriptions).toHaveLength(1);
  });

  it('turning email off deletes the topic: nothing is delivered and no topic comes back', async () => {
    await emailOn('alice');
    await emailOn('bob');
    await notifier.unsubscribe('alice');

    expect(sns.topic(`${PREFIX}alice`)).toBeUndefined();
    notifier.send('alice', trade('bought 1 BTC'));
    notifier.send('bob', trade('bought 1 ETH'));
    await notifier.flush();
    expect(sns.deliveries.map((d) => d.email)).toEqual(['bob@example.com']);
    expect(sns.topics().map((t) => t.name)).toEqual([`${PREFIX}bob`]);
    // Off for a user who never had email is fine too (DeleteTopic is idempotent).
    await notifier.unsubscribe('carol');
    expect(sns.topic(`${PREFIX}carol`)).toBeUndefined();
  });

  it('messages waiting when email goes off are discarded', async () => {
    await emailOn('alice');
    const release = sns.hold('Publish');
    notifier.send('alice', trade('first'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    notifier.send('alice', trade('second'));
    notifier.send('alice', trade('third'));
    await notifier.unsubscribe('alice');
    release();
    await notifier.flush();
    // The publish in flight meets a deleted topic; the two behind it are never published.
    expect(sns.deliveries).toEqual([]);
    expect(sns.callsOf('Publish')).toHaveLength(1);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', obj: { username: 'alice', dropped: 2 } }));
  });

  it('a notifier started later (after a restart) finds existing topics without creating any', async () => {
    await emailOn('alice');
    await emailOn('bob');
    await notifier.stop();

    notifier = makeNotifier();
    const created = sns.callsOf('CreateTopic').length;
    notifier.send('alice', trade('bought 1 BTC')); // first message: one CreateTopic (idempotent) learns the ARN prefix
    await notifier.flush();
    notifier.send('bob', trade('bought 1 ETH')); // then ARNs are built, no call
    await notifier.flush();
    expect(sns.callsOf('CreateTopic').length - created).toBe(1);
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(subjects('bob@example.com')).toEqual(['CryptoPulse: bought 1 ETH']);

    // bob turned email off on another instance: his topic is gone, and a late message recreates nothing.
    await notifier.stop();
    await sns.close();
    sns = await startSnsStandin();
    notifier = makeNotifier();
    await emailOn('alice');
    notifier.send('bob', trade('late'));
    await notifier.flush();
    expect(sns.topics().map((t) => t.name)).toEqual([`${PREFIX}alice`]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/no email topic/) }));
  });
});

describe('publishing off the trade\'s path', () => {
  beforeEach(() => start({}, { maxAttempts: 4 }));

  it('send() returns before the publish completes', async () => {
    await emailOn('alice');
    const release = sns.hold('Publish');
    notifier.send('alice', trade('bought 1 BTC'));
    // send() has returned while the publish is still waiting on SNS.
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    expect(sns.deliveries).toEqual([]);
    let flushed = false;
    const flushing = notifier.flush().then(() => (flushed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
  });

  it('retries a failing publish with growing, jittered waits and delivers it once', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InternalError', 500);
    sns.failNext('Publish', 'Throttling', 400, 1, 'Rate exceeded');
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();

    expect(sns.callsOf('Publish').map((c) => c.status)).toEqual([500, 400, 200]);
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    // base 500 ms, doubling, "equal jitter" with random() = 0.5: 375, 750.
    expect(sleeps).toEqual([375, 750]);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('drops a message after maxAttempts with a warning; send() never throws', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InternalError', 500, Infinity);
    expect(() => notifier.send('alice', trade('bought 1 BTC'))).not.toThrow();
    await notifier.flush();

    expect(sns.callsOf('Publish')).toHaveLength(4);
    expect(sns.deliveries).toEqual([]);
    expect(sleeps).toEqual([375, 750, 1500]);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      obj: expect.objectContaining({ username: 'alice', attempts: 4, err: expect.objectContaining({ code: 'InternalError', status: 500 }) }),
      msg: 'email: publish failed, message dropped',
    });
  });

  it('does not retry what SNS refused as invalid', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InvalidParameter', 400);
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(sns.callsOf('Publish')).toHaveLength(1);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'email: publish failed, message dropped' }));
  });

  it('a hung SNS times out and the publish is retried', async () => {
    await notifier.stop();
    notifier = createSnsNotifier({
      region: 'us-east-1', topicPrefix: PREFIX, logger: (logger = recordingLogger()), sleep: async () => {},
      client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS, requestTimeoutMs: 200 }),
    });
    await emailOn('alice');
    const release = sns.hold('Publish');
    notifier.send('alice', trade('bought 1 BTC'));
    await notifier.flush();
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(sns.callsOf('Publish')).toHaveLength(2);
    release();
  });

  it('one failing user does not hold up the others', async () => {
    await emailOn('alice');
    await emailOn('bob');
    const release = sns.hold('Publish');
    notifier.send('alice', trade('stuck'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    notifier.send('bob', trade('bought 1 ETH'));
    await vi.waitFor(() => expect(subjects('bob@example.com')).toEqual(['CryptoPulse: bought 1 ETH']));
    release();
    await notifier.flush();
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: stuck']);
  });

  it('paces messages to one address (SNS may suspend an email endpoint above ~10/s)', async () => {
    await notifier.stop();
    const clock = 1_000_000;
    notifier = makeNotifier({ now: () => clock, perUserIntervalMs: 250 });
    await emailOn('alice');
    for (let i = 1; i <= 3; i++) notifier.send('alice', trade(`trade ${i}`));
    notifier.send('bob', trade('other user'));
    await notifier.flush();
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: trade 1', 'CryptoPulse: trade 2', 'CryptoPulse: trade 3']);
    expect(sleeps).toEqual([250, 250]); // the clock stood still, so each later message waited a full interval
  });

  it('never throws from send(), whatever it is given or whatever the logger does', async () => {
    await notifier.stop();
    const throwing: Logger = { info: () => { throw new Error('log down'); }, warn: () => { throw new Error('log down'); }, error: () => { throw new Error('log down'); } };
    notifier = createSnsNotifier({ region: 'us-east-1', topicPrefix: PREFIX, logger: throwing, client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS }), sleep: async () => {} });
    expect(() => notifier.send('alice', undefined as never)).not.toThrow();
    expect(() => notifier.send('alice', { subject: null, body: 42 } as never)).not.toThrow();
    await notifier.flush();
  });

  it('stop() drops what is waiting, ends retry waits, and refuses new messages without throwing', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InternalError', 500, Infinity);
    let wake!: () => void;
    await notifier.stop();
    notifier = makeNotifier({ sleep: () => new Promise<void>((resolve) => (wake = resolve)) });
    notifier.send('alice', trade('one'));
    notifier.send('alice', trade('two'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    await vi.waitFor(() => expect(wake).toBeTypeOf('function')); // waiting to retry
    await notifier.stop();
    expect(sns.callsOf('Publish')).toHaveLength(1);
    expect(() => notifier.send('alice', trade('three'))).not.toThrow();
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'email: notifier stopped, waiting messages discarded',
      'email: notifier stopped, message dropped',
      'email: notifier stopped, message not sent',
    ]);
  });

  it('stop(graceMs) first lets the queue drain', async () => {
    await notifier.stop();
    notifier = makeNotifier({ sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()), perUserIntervalMs: 0 });
    await emailOn('alice');
    notifier.send('alice', trade('one'));
    notifier.send('alice', trade('two'));
    await notifier.stop(5_000);
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: one', 'CryptoPulse: two']);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });
});

describe('subscribe and unsubscribe', () => {
  beforeEach(() => start());

  it('retry throttling briefly, then give the error to the caller', async () => {
    sns.failNext('CreateTopic', 'Throttled', 429);
    await notifier.subscribe('alice', 'alice@example.com');
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions).toHaveLength(1);

    sns.failNext('Subscribe', 'InternalError', 500, Infinity);
    await expect(notifier.subscribe('bob', 'bob@example.com')).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    expect(sns.callsOf('Subscribe').filter((c) => c.params.Endpoint === 'bob@example.com')).toHaveLength(3);

    sns.failNext('DeleteTopic', 'AuthorizationError', 403);
    await expect(notifier.unsubscribe('alice')).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });

  it('an old address that already unsubscribed through the email link is fine', async () => {
    await emailOn('alice', 'alice@old.example');
    // Listed, then gone before our Unsubscribe (the recipient clicked the email's unsubscribe link).
    sns.failNext('Unsubscribe', 'NotFound', 404);
    await notifier.subscribe('alice', 'alice@new.example');
    expect(sns.callsOf('Unsubscribe').map((c) => c.status)).toEqual([404]);
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions.map((s) => [s.endpoint, s.confirmed])).toContainEqual(['alice@new.example', false]);
  });

  it('reads every page of subscriptions', async () => {
    await notifier.stop();
    await sns.close();
    sns = await startSnsStandin({ pageSize: 1 });
    notifier = makeNotifier();
    await emailOn('alice', 'a1@example.com');
    // Put extra confirmed subscriptions on the topic behind the notifier's back.
    const { SubscribeCommand } = await import('@aws-sdk/client-sns');
    const client = createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS });
    for (const extra of ['a2@example.com', 'a3@example.com']) {
      await client.send(new SubscribeCommand({ TopicArn: sns.topic(`${PREFIX}alice`)!.arn, Protocol: 'email', Endpoint: extra }));
      sns.confirm(extra);
    }
    client.destroy();
    await notifier.subscribe('alice', 'a1@example.com');
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions.map((s) => s.endpoint)).toEqual(['a1@example.com']);
    expect(sns.callsOf('ListSubscriptionsByTopic').length).toBeGreaterThanOrEqual(4);
  });

  it('concurrent on/off for one user run one after the other', async () => {
    await Promise.all([
      notifier.subscribe('alice', 'alice@one.example'),
      notifier.subscribe('alice', 'alice@two.example'),
      notifier.unsubscribe('alice'),
      notifier.subscribe('alice', 'alice@three.example'),
    ]);
    expect(sns.topics().map((t) => t.subscriptions.map((s) => s.endpoint))).toEqual([['alice@three.example']]);
  });

  it('the factory builds its own client from region and endpoint (credentials from the AWS chain)', async () => {
    await notifier.stop();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDENV');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'env-secret');
    try {
      notifier = createSnsNotifier({ region: 'eu-west-1', endpoint: sns.endpoint, topicPrefix: PREFIX, logger: recordingLogger() });
      expect(notifier.enabled).toBe(true);
      await notifier.subscribe('alice', 'alice@example.com');
      expect(sns.callsOf('Subscribe')[0]!.headers.authorization).toMatch(/Credential=AKIDENV\/\d{8}\/eu-west-1\/sns\//);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('subjects and bodies SNS accepts', () => {
  beforeEach(() => start());

  it('subjects lose line breaks and control characters and stay under 100 characters', async () => {
    await emailOn('alice');
    const long = `CryptoPulse: alert\r\nBTC\tabove ${'very '.repeat(40)}high`;
    notifier.send('alice', { subject: long, body: 'body' });
    notifier.send('alice', { subject: '  \n ', body: '' });
    notifier.send('alice', { subject: 'Alerte : BTC au-dessus de 50 000 € — “prix” 🚀 CN¥7 résumé', body: 'body' });
    await notifier.flush();

    const [first, second, third] = sns.inbox('alice@example.com');
    expect(first!.subject).toMatch(/^CryptoPulse: alert BTC above very .*\.\.\.$/);
    expect(first!.subject!.length).toBeLessThanOrEqual(SUBJECT_MAX);
    expect(second).toMatchObject({ subject: 'CryptoPulse notification', message: 'CryptoPulse notification' });
    expect(third!.subject).toBe('Alerte : BTC au-dessus de 50 000 EUR - "prix" CNY 7 resume');
  });

  it('sanitizeSubject: always one line of printable ASCII, 1 to 99 characters, not starting with a space', () => {
    const codePoint = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0x10ffff }));
    const anyText = fc.array(codePoint, { maxLength: 300 }).map((cps) => String.fromCodePoint(...cps));
    fc.assert(fc.property(anyText, (input) => {
      const subject = sanitizeSubject(input);
      return /^[\x21-\x7e][\x20-\x7e]*$/.test(subject) && subject.length <= SUBJECT_MAX;
    }));
    expect(sanitizeSubject('x'.repeat(150))).toBe(`${'x'.repeat(96)}...`);
  });

  it('sanitizeBody: never empty, at most 256 KiB of UTF-8', () => {
    expect(sanitizeBody('', 'Subject')).toBe('Subject');
    expect(sanitizeBody('a\u0000b\r\nc', 'S')).toBe('ab\nc');
    const huge = sanitizeBody('€'.repeat(100_000), 'S');
    expect(Buffer.byteLength(huge, 'utf8')).toBeLessThanOrEqual(262_144);
    expect(huge).toMatch(/€\n\[message shortened\]$/);
  });
});

describe('a design for 10,000 users and more', () => {
  it('topic names are valid for every username (3-32 of a-z0-9_) and configurable prefix (1-100 of A-Za-z0-9_-)', () => {
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/), fc.stringMatching(/^[a-z0-9_]{3,32}$/), (prefix, username) => {
      const name = topicNameFor(prefix, username);
      expect(name).toBe(`${prefix}${username}`);
      expect(name).toMatch(TOPIC_NAME);
    }));
    expect(topicNameFor(PREFIX, 'a'.repeat(32))).toHaveLength(PREFIX.length + 32);
  });

  it('odd usernames still get a valid topic of their own', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 300 }), fc.string({ minLength: 1, maxLength: 300 }), (a, b) => {
      const [ta, tb] = [topicNameFor(PREFIX, a), topicNameFor(PREFIX, b)];
      expect(ta).toMatch(TOPIC_NAME);
      if (a !== b) expect(ta).not.toBe(tb);
    }));
    expect(topicNameFor(PREFIX, 'a.b')).not.toBe(topicNameFor(PREFIX, 'a_b'));
    expect(() => topicNameFor('bad prefix!', 'alice')).toThrow();
  });

  it('topics exist only while email is on: churn stays within the topic quota, with no filter policies', async () => {
    // A topic quota of 30 stands in for the default 100,000.
    await start({ topicLimit: 30 });
    const users = Array.from({ length: 30 }, (_, i) => `user_${i}`);
    for (const u of users) await notifier.subscribe(u, `${u}@example.com`);
    await expect(notifier.subscribe('one_too_many', 'x@example.com')).rejects.toMatchObject({ name: 'TopicLimitExceededException' });
    for (const u of users.slice(0, 10)) await notifier.unsubscribe(u);
    for (let i = 0; i < 10; i++) await notifier.subscribe(`newcomer_${i}`, `newcomer_${i}@example.com`);
    expect(sns.topics()).toHaveLength(30);
    expect(sns.topics().every((t) => t.subscriptions.length === 1 && !t.subscriptions[0]!.attributes.FilterPolicy)).toBe(true);
  });
});
