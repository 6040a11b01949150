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
/** Every wait the notifier asked for (pacing, retries of subscribe and unsubscribe); they return
 *  at once and move `clock` on. */
let sleeps: number[];
/** The notifier's clock: it moves only by the waits it asks for. */
let clock: number;

async function start(standin: SnsStandinOptions = {}, options: Partial<SnsNotifierOptions> = {}): Promise<void> {
  sns = await startSnsStandin(standin);
  notifier = makeNotifier(options);
}

function makeNotifier(options: Partial<SnsNotifierOptions> = {}): SnsNotifier {
  logger = recordingLogger();
  sleeps = [];
  clock = 1_000_000;
  return createSnsNotifier({
    region: 'us-east-1',
    topicPrefix: PREFIX,
    logger,
    client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS }),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
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
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'sent' });
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
    expect(await notifier.deliver('alice', trade('bought 0.5 BTC'))).toEqual({ status: 'sent' });
    expect(await notifier.deliver('bob', trade('sold 10 ETH'))).toEqual({ status: 'sent' });
    expect(await notifier.deliver('alice', trade('sold 0.1 BTC'))).toEqual({ status: 'sent' });

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
    // SNS takes the publish (so the outbox settles it) but has no confirmed address to send it to.
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'sent' });
    expect(sns.deliveries).toEqual([]);
    expect(sns.confirmationMails).toEqual([expect.objectContaining({ email: 'alice@example.com' })]);

    sns.confirm('alice@example.com');
    await notifier.deliver('alice', trade('bought 2 BTC'));
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 2 BTC']);
  });

  it('changing a confirmed address unsubscribes the old one; the new one waits for its confirmation', async () => {
    await emailOn('alice', 'alice@old.example');
    await notifier.subscribe('alice', 'alice@new.example');

    expect(sns.callsOf('Unsubscribe')).toHaveLength(1);
    expect(sns.topic(`${PREFIX}alice`)!.subscriptions.map((s) => [s.endpoint, s.confirmed])).toEqual([['alice@new.example', false]]);
    await notifier.deliver('alice', trade('bought 1 BTC'));
    expect(sns.deliveries).toEqual([]);

    sns.confirm('alice@new.example');
    await notifier.deliver('alice', trade('bought 2 BTC'));
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

    await notifier.deliver('alice', trade('bought 1 BTC'));
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

  it('turning email off deletes the topic: later emails are skipped, nothing is delivered and no topic comes back', async () => {
    await emailOn('alice');
    await emailOn('bob');
    await notifier.unsubscribe('alice');

    expect(sns.topic(`${PREFIX}alice`)).toBeUndefined();
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'skipped', reason: 'email turned off' });
    expect(await notifier.deliver('bob', trade('bought 1 ETH'))).toEqual({ status: 'sent' });
    expect(sns.deliveries.map((d) => d.email)).toEqual(['bob@example.com']);
    expect(sns.callsOf('Publish')).toHaveLength(1); // alice's was not even tried
    expect(sns.topics().map((t) => t.name)).toEqual([`${PREFIX}bob`]);
    // Off for a user who never had email is fine too (DeleteTopic is idempotent).
    await notifier.unsubscribe('carol');
    expect(sns.topic(`${PREFIX}carol`)).toBeUndefined();
  });

  it('a publish in flight when email goes off reaches nobody, and later ones are not published', async () => {
    await emailOn('alice');
    const release = sns.hold('Publish');
    const inFlight = notifier.deliver('alice', trade('first'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    await notifier.unsubscribe('alice');
    release();
    // The publish in flight meets a deleted topic; the one after it is never published.
    expect(await inFlight).toEqual({ status: 'skipped', reason: 'no email subscription' });
    expect(await notifier.deliver('alice', trade('second'))).toEqual({ status: 'skipped', reason: 'email turned off' });
    expect(sns.deliveries).toEqual([]);
    expect(sns.callsOf('Publish')).toHaveLength(1);
  });

  it('a notifier started later (after a restart) finds existing topics without creating any', async () => {
    await emailOn('alice');
    await emailOn('bob');
    await notifier.stop();

    notifier = makeNotifier();
    const created = sns.callsOf('CreateTopic').length;
    await notifier.deliver('alice', trade('bought 1 BTC')); // first message: one CreateTopic (idempotent) learns the ARN prefix
    await notifier.deliver('bob', trade('bought 1 ETH')); // then ARNs are built, no call
    expect(sns.callsOf('CreateTopic').length - created).toBe(1);
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(subjects('bob@example.com')).toEqual(['CryptoPulse: bought 1 ETH']);

    // bob turned email off on another instance: his topic is gone, and a late message recreates nothing.
    await notifier.stop();
    await sns.close();
    sns = await startSnsStandin();
    notifier = makeNotifier();
    await emailOn('alice');
    expect(await notifier.deliver('bob', trade('late'))).toEqual({ status: 'skipped', reason: 'no email subscription' });
    expect(sns.topics().map((t) => t.name)).toEqual([`${PREFIX}alice`]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/no email topic/) }));
  });
});

describe('deliver(): one attempt per call; the outbox worker keeps the message and retries it', () => {
  beforeEach(() => start({}, { perUserIntervalMs: 0 }));

  it('is sent when SNS took it, to that user only, once', async () => {
    await emailOn('alice');
    await emailOn('bob');
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'sent' });
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(sns.inbox('bob@example.com')).toEqual([]);
    expect(sns.callsOf('Publish')).toHaveLength(1);
  });

  it('throttling and server errors are failed (worth retrying), after one attempt and no waiting of its own', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InternalError', 500);
    sns.failNext('Publish', 'Throttling', 400, 1, 'Rate exceeded');
    sns.failNext('Publish', 'Throttled', 429);
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'failed', reason: expect.stringMatching(/^InternalError \(HTTP 500\)/) });
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'failed', reason: 'Throttling (HTTP 400): Rate exceeded' });
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'failed', reason: expect.stringMatching(/^Throttled \(HTTP 429\)/) });
    // Each call made exactly one attempt: the outbox decides when to try again.
    expect(sns.callsOf('Publish').map((c) => c.status)).toEqual([500, 400, 429]);
    expect(sleeps).toEqual([]);
    expect(sns.deliveries).toEqual([]);

    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'sent' });
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('is skipped when SNS refused the request itself (retrying cannot help), with a warning', async () => {
    await emailOn('alice');
    sns.failNext('Publish', 'InvalidParameter', 400);
    sns.failNext('Publish', 'AuthorizationError', 403);
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'skipped', reason: expect.stringMatching(/^SNS refused it: InvalidParameter \(HTTP 400\)/) });
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'skipped', reason: expect.stringMatching(/^SNS refused it: AuthorizationError \(HTTP 403\)/) });
    expect(sns.callsOf('Publish')).toHaveLength(2);
    expect(sns.deliveries).toEqual([]);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      obj: { username: 'alice', subject: 'CryptoPulse: bought 1 BTC', err: expect.objectContaining({ code: 'InvalidParameter', status: 400 }) },
      msg: 'email: SNS refused the message',
    });
  });

  it('a hung SNS times out: failed, and the next attempt delivers', async () => {
    await notifier.stop();
    notifier = createSnsNotifier({
      region: 'us-east-1', topicPrefix: PREFIX, logger: (logger = recordingLogger()), sleep: async () => {},
      client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS, requestTimeoutMs: 200 }),
    });
    await emailOn('alice');
    const release = sns.hold('Publish');
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'failed', reason: expect.stringMatching(/timeout|timed out/i) });
    expect(sns.deliveries).toEqual([]);
    expect(await notifier.deliver('alice', trade('bought 1 BTC'))).toEqual({ status: 'sent' });
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
    expect(sns.callsOf('Publish')).toHaveLength(2);
    release();
  });

  it('one user\'s slow publish does not hold up another user\'s', async () => {
    await emailOn('alice');
    await emailOn('bob');
    const release = sns.hold('Publish');
    const stuck = notifier.deliver('alice', trade('stuck'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    expect(await notifier.deliver('bob', trade('bought 1 ETH'))).toEqual({ status: 'sent' });
    expect(subjects('bob@example.com')).toEqual(['CryptoPulse: bought 1 ETH']);
    expect(sns.inbox('alice@example.com')).toEqual([]);
    release();
    expect(await stuck).toEqual({ status: 'sent' });
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: stuck']);
  });

  it('paces emails to one address (SNS may suspend an email endpoint above ~10/s), not across users', async () => {
    await notifier.stop();
    notifier = makeNotifier({ perUserIntervalMs: 250 });
    await emailOn('alice');
    await emailOn('bob');
    for (let i = 1; i <= 3; i++) await notifier.deliver('alice', trade(`trade ${i}`));
    await notifier.deliver('bob', trade('other user'));
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: trade 1', 'CryptoPulse: trade 2', 'CryptoPulse: trade 3']);
    expect(subjects('bob@example.com')).toEqual(['CryptoPulse: other user']);
    // The clock moves only by these waits: each later email to alice waited a full interval; bob's did not wait.
    expect(sleeps).toEqual([250, 250]);
  });

  it('paces overlapping deliveries to one address too (two outbox runs at once)', async () => {
    await notifier.stop();
    notifier = makeNotifier({ perUserIntervalMs: 250, now: () => 1_000_000 }); // a clock that stands still
    await emailOn('alice');
    const results = await Promise.all([1, 2, 3].map((i) => notifier.deliver('alice', trade(`trade ${i}`))));
    expect(results.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    // All three asked at the same moment: they got the slots now, +250 ms and +500 ms.
    expect(sleeps).toEqual([250, 500]);
    expect(subjects('alice@example.com').sort()).toEqual(['CryptoPulse: trade 1', 'CryptoPulse: trade 2', 'CryptoPulse: trade 3']);
  });

  it('never throws, whatever it is given or whatever the logger does', async () => {
    await emailOn('alice');
    const throwing: Logger = { info: () => { throw new Error('log down'); }, warn: () => { throw new Error('log down'); }, error: () => { throw new Error('log down'); } };
    const quiet = createSnsNotifier({ region: 'us-east-1', topicPrefix: PREFIX, logger: throwing, client: createSnsClient({ region: 'us-east-1', endpoint: sns.endpoint, credentials: CREDENTIALS }), sleep: async () => {} });
    try {
      await expect(quiet.deliver('alice', undefined as never)).resolves.toMatchObject({ status: 'failed' });
      expect(await quiet.deliver('alice', { subject: null, body: 42 } as never)).toEqual({ status: 'sent' });
      expect(sns.inbox('alice@example.com')).toEqual([expect.objectContaining({ subject: 'CryptoPulse notification', message: '42' })]);
      // A refusal is logged: the failing logger does not turn it into a retry.
      sns.failNext('Publish', 'InvalidParameter', 400);
      expect(await quiet.deliver('alice', trade('bought 1 BTC'))).toMatchObject({ status: 'skipped' });
    } finally {
      await quiet.stop();
    }
  });

  it('stop() ends a pacing wait and refuses new emails: they say failed, so the outbox keeps them', async () => {
    await notifier.stop();
    notifier = makeNotifier({ perUserIntervalMs: 250, now: () => 1_000_000, sleep: () => new Promise<void>(() => {}) });
    await emailOn('alice');
    expect(await notifier.deliver('alice', trade('one'))).toEqual({ status: 'sent' });
    const waiting = notifier.deliver('alice', trade('two')); // waits for its slot, on a sleep that never ends
    await notifier.stop();
    expect(await waiting).toEqual({ status: 'failed', reason: 'the email notifier is stopping' });
    expect(await notifier.deliver('alice', trade('three'))).toEqual({ status: 'failed', reason: 'the email notifier is stopping' });
    expect(sns.callsOf('Publish')).toHaveLength(1);
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: one']);
  });

  it('stop(graceMs) lets a publish in flight finish rather than cut it off', async () => {
    await notifier.stop();
    notifier = makeNotifier({ sleep: () => new Promise<void>(() => {}) }); // the grace period never runs out here
    await emailOn('alice');
    const release = sns.hold('Publish');
    const inFlight = notifier.deliver('alice', trade('bought 1 BTC'));
    await vi.waitFor(() => expect(sns.callsOf('Publish')).toHaveLength(1));
    let stopped = false;
    const stopping = notifier.stop(5_000).then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await inFlight).toEqual({ status: 'sent' });
    expect(subjects('alice@example.com')).toEqual(['CryptoPulse: bought 1 BTC']);
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
    for (const message of [
      { subject: long, body: 'body' },
      { subject: '  \n ', body: '' },
      { subject: 'Alerte : BTC au-dessus de 50 000 € — “prix” 🚀 CN¥7 résumé', body: 'body' },
    ]) expect(await notifier.deliver('alice', message)).toEqual({ status: 'sent' });

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
