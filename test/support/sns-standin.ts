/**
 * A loopback stand-in for Amazon SNS, so tests drive the real @aws-sdk/client-sns over real HTTP
 * without AWS. It speaks the protocol that client speaks: the awsQuery protocol (a form-encoded
 * POST to `/` with `Action=...&Version=2010-03-31`, answered in XML; errors as `<ErrorResponse>`
 * with SNS's codes and HTTP statuses).
 *
 * It models what the notifier's correctness depends on:
 * - topics by name (CreateTopic is idempotent; different attributes on an existing name fail),
 *   the 1-256 [A-Za-z0-9_-] name rule and an optional topic quota;
 * - email subscriptions that stay "PendingConfirmation" until the address clicks the link in the
 *   confirmation email: `confirm(email)` clicks every link that address received. A link only
 *   confirms the subscription it was sent for, so after a topic is deleted (and recreated under
 *   the same name) the old links confirm nothing, as on SNS;
 * - pending subscriptions cannot be unsubscribed (their ARN is the literal "PendingConfirmation");
 * - Publish delivers to confirmed email subscriptions only (and applies exact-match filter
 *   policies), recorded per address so a test asserts who received each message;
 * - Subject and Message constraints, so a publish a real SNS would refuse is refused here.
 *
 * failNext() queues error answers for an action; hold() parks the next request of an action until
 * released (for publishes in flight while email goes off or the notifier stops, and timeouts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
export const PENDING = 'PendingConfirmation';

export interface SnsStandinOptions {
  region?: string;
  accountId?: string;
  /** Standard topics the account may hold (SNS's default is 100,000). */
  topicLimit?: number;
  /** Filter policies per topic (SNS default 200) and per account (10,000). */
  filterPoliciesPerTopic?: number;
  filterPoliciesPerAccount?: number;
  /** ListSubscriptionsByTopic page size (SNS: 100). */
  pageSize?: number;
}

export interface RecordedCall {
  action: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
  /** The HTTP status the stand-in answered with. */
  status?: number;
}

export interface Delivery {
  email: string;
  topicArn: string;
  subject: string | undefined;
  message: string;
  messageId: string;
  attributes: Record<string, { DataType: string; StringValue?: string }>;
}

export interface StandinSubscription {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  confirmed: boolean;
  attributes: Record<string, string>;
}

export interface StandinTopic {
  name: string;
  arn: string;
  attributes: Record<string, string>;
  subscriptions: StandinSubscription[];
}

/** A confirmation email SNS sent: clicking it confirms `subscriptionArn` if it still exists. */
export interface ConfirmationMail {
  email: string;
  topicArn: string;
  subscriptionArn: string;
}

export interface SnsStandin {
  /** For the client's `endpoint`. */
  endpoint: string;
  region: string;
  accountId: string;
  calls: RecordedCall[];
  deliveries: Delivery[];
  confirmationMails: ConfirmationMail[];
  /** Messages delivered to one address, oldest first. */
  inbox(email: string): Delivery[];
  /** Clicks every confirmation link `email` received; returns how many subscriptions it confirmed. */
  confirm(email: string): number;
  topic(name: string): StandinTopic | undefined;
  topics(): StandinTopic[];
  /** Calls of one action, oldest first. */
  callsOf(action: string): RecordedCall[];
  /** The next `times` requests of `action` fail with this code and status. */
  failNext(action: string, code: string, status?: number, times?: number, message?: string): void;
  /** The next request of `action` waits until the returned function is called. */
  hold(action: string): () => void;
  close(): Promise<void>;
}

interface Failure {
  code: string;
  status: number;
  message: string;
  remaining: number;
}

class SnsError extends Error {
  constructor(readonly code: string, readonly status: number, message: string) {
    super(message);
  }
}

const invalid = (message: string) => new SnsError('InvalidParameter', 400, `Invalid parameter: ${message}`);
const notFound = (message: string) => new SnsError('NotFound', 404, message);

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function tag(name: string, value: string | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(value)}</${name}>`;
}

/** Attributes.entry.N.key/value (CreateTopic, Subscribe) as an object. */
function entries(params: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = 1; params[`${prefix}.entry.${n}.key`] !== undefined; n++) {
    out[params[`${prefix}.entry.${n}.key`]!] = params[`${prefix}.entry.${n}.value`] ?? '';
  }
  return out;
}

/** MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue (Publish). */
function messageAttributes(params: Record<string, string>): Delivery['attributes'] {
  const out: Delivery['attributes'] = {};
  for (let n = 1; params[`MessageAttributes.entry.${n}.Name`] !== undefined; n++) {
    const name = params[`MessageAttributes.entry.${n}.Name`]!;
    const dataType = params[`MessageAttributes.entry.${n}.Value.DataType`];
    const value = params[`MessageAttributes.entry.${n}.Value.StringValue`];
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || /^(aws\.|amazon\.)/i.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      throw invalid(`MessageAttributes name ${name} is invalid`);
    }
    if (!dataType || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) throw invalid(`The message attribute '${name}' has an invalid message attribute type`);
    if (dataType.startsWith('String') && (value === undefined || value === '')) throw invalid(`The message attribute '${name}' must contain non-empty message attribute value`);
    out[name] = value === undefined ? { DataType: dataType } : { DataType: dataType, StringValue: value };
  }
  return out;
}

/** Exact-string filter policies ({"key": ["a", "b"]}), the only kind this stand-in evaluates. */
function matchesFilter(policy: string | undefined, attributes: Delivery['attributes']): boolean {
  if (!policy) return true;
  const parsed = JSON.parse(policy) as Record<string, unknown[]>;
  return Object.entries(parsed).every(([key, allowed]) => allowed.includes(attributes[key]?.StringValue));
}

export async function startSnsStandin(options: SnsStandinOptions = {}): Promise<SnsStandin> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const topicLimit = options.topicLimit ?? 100_000;
  const perTopicPolicies = options.filterPoliciesPerTopic ?? 200;
  const perAccountPolicies = options.filterPoliciesPerAccount ?? 10_000;
  const pageSize = options.pageSize ?? 100;

  const topics = new Map<string, StandinTopic>(); // by ARN
  const calls: RecordedCall[] = [];
  const deliveries: Delivery[] = [];
  const confirmationMails: ConfirmationMail[] = [];
  const failures = new Map<string, Failure[]>();
  const holds = new Map<string, Array<Promise<void>>>();

  const topicArnFor = (name: string) => `arn:aws:sns:${region}:${accountId}:${name}`;
  const allSubscriptions = () => [...topics.values()].flatMap((t) => t.subscriptions);
  const findSubscription = (arn: string) => allSubscriptions().find((s) => s.arn === arn);

  function requireTopic(arn: string | undefined): StandinTopic {
    if (!arn) throw invalid('TopicArn');
    const topic = topics.get(arn);
    if (!topic) throw notFound('Topic does not exist');
    return topic;
  }

  function checkFilterPolicy(topic: StandinTopic, policy: string | undefined, replacing?: StandinSubscription): void {
    if (policy === undefined) return;
    try {
      const parsed: unknown = JSON.parse(policy);
      if (typeof parsed !== 'object' || parsed === null || Object.values(parsed).some((v) => !Array.isArray(v))) throw new Error();
    } catch {
      throw invalid('FilterPolicy: failed to parse JSON');
    }
    const others = (subs: StandinSubscription[]) => subs.filter((s) => s !== replacing && s.attributes.FilterPolicy !== undefined).length;
    if (others(topic.subscriptions) >= perTopicPolicies || others(allSubscriptions()) >= perAccountPolicies) {
      throw new SnsError('FilterPolicyLimitExceeded', 403, 'Filter policy limit exceeded');
    }
  }

  const handlers: Record<string, (p: Record<string, string>) => string> = {
    CreateTopic(p) {
      const name = p.Name ?? '';
      if (!/^[A-Za-z0-9_-]{1,256}$/.test(name)) {
        throw invalid('Topic Name: must be 1-256 characters long and contain only letters, numbers, underscores and hyphens');
      }
      const attributes = entries(p, 'Attributes');
      if (attributes.DisplayName !== undefined && attributes.DisplayName.length > 100) throw invalid('DisplayName: too long');
      const arn = topicArnFor(name);
      const existing = topics.get(arn);
      if (existing) {
        const differs = Object.entries(attributes).some(([k, v]) => existing.attributes[k] !== v);
        if (differs) throw invalid('Attributes Reason: Topic already exists with different attributes');
      } else {
        if (topics.size >= topicLimit) throw new SnsError('TopicLimitExceeded', 403, 'Topic limit exceeded');
        topics.set(arn, { name, arn, attributes, subscriptions: [] });
      }
      return `<CreateTopicResult>${tag('TopicArn', arn)}</CreateTopicResult>`;
    },

    DeleteTopic(p) {
      if (!p.TopicArn) throw invalid('TopicArn');
      // Idempotent on SNS: deleting a topic that does not exist is not an error. Its
      // subscriptions go with it (and their confirmation links stop working).
      topics.delete(p.TopicArn);
      return '';
    },

    SetTopicAttributes(p) {
      const topic = requireTopic(p.TopicArn);
      const name = p.AttributeName;
      if (!name || !['DisplayName', 'Policy', 'DeliveryPolicy', 'KmsMasterKeyId', 'TracingConfig', 'SignatureVersion'].includes(name)) {
        throw invalid('AttributeName');
      }
      if (name === 'DisplayName' && (p.AttributeValue ?? '').length > 100) throw invalid('DisplayName: too long');
      topic.attributes[name] = p.AttributeValue ?? '';
      return '';
    },

    Subscribe(p) {
      const topic = requireTopic(p.TopicArn);
      const protocol = p.Protocol ?? '';
      const endpoint = p.Endpoint ?? '';
      if (!['email', 'email-json'].includes(protocol)) throw invalid(`Invalid protocol type: ${protocol}`);
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(endpoint)) throw invalid('Email address');
      const attributes = entries(p, 'Attributes');
      const existing = topic.subscriptions.find((s) => s.protocol === protocol && s.endpoint === endpoint);
      checkFilterPolicy(topic, attributes.FilterPolicy, existing);
      const returnArn = p.ReturnSubscriptionArn === 'true';
      if (existing) {
        Object.assign(existing.attributes, attributes);
        if (existing.confirmed) return `<SubscribeResult>${tag('SubscriptionArn', existing.arn)}</SubscribeResult>`;
        // Subscribing a pending endpoint again sends the confirmation email again.
        confirmationMails.push({ email: endpoint, topicArn: topic.arn, subscriptionArn: existing.arn });
        return `<SubscribeResult>${tag('SubscriptionArn', returnArn ? existing.arn : 'pending confirmation')}</SubscribeResult>`;
      }
      const subscription: StandinSubscription = { arn: `${topic.arn}:${randomUUID()}`, topicArn: topic.arn, protocol, endpoint, confirmed: false, attributes };
      topic.subscriptions.push(subscription);
      confirmationMails.push({ email: endpoint, topicArn: topic.arn, subscriptionArn: subscription.arn });
      return `<SubscribeResult>${tag('SubscriptionArn', returnArn ? subscription.arn : 'pending confirmation')}</SubscribeResult>`;
    },

    Unsubscribe(p) {
      const arn = p.SubscriptionArn ?? '';
      const parts = arn.split(':').length;
      if (parts < 6) throw invalid(`SubscriptionArn Reason: An ARN must have at least 6 elements, not ${parts}`);
      const subscription = findSubscription(arn);
      if (!subscription) throw notFound('Subscription does not exist');
      const topic = topics.get(subscription.topicArn)!;
      topic.subscriptions = topic.subscriptions.filter((s) => s !== subscription);
      return '';
    },

    ListSubscriptionsByTopic(p) {
      const topic = requireTopic(p.TopicArn);
      const start = p.NextToken ? Number(Buffer.from(p.NextToken, 'base64url').toString()) : 0;
      if (!Number.isInteger(start) || start < 0) throw invalid('NextToken');
      const page = topic.subscriptions.slice(start, start + pageSize);
      const next = start + pageSize < topic.subscriptions.length ? Buffer.from(String(start + pageSize)).toString('base64url') : undefined;
      const members = page.map((s) => `<member>${tag('TopicArn', s.topicArn)}${tag('Protocol', s.protocol)}${tag('SubscriptionArn', s.confirmed ? s.arn : PENDING)}${tag('Owner', accountId)}${tag('Endpoint', s.endpoint)}</member>`).join('');
      return `<ListSubscriptionsByTopicResult><Subscriptions>${members}</Subscriptions>${tag('NextToken', next)}</ListSubscriptionsByTopicResult>`;
    },

    Publish(p) {
      if (p.PhoneNumber) throw invalid('PhoneNumber: this stand-in only publishes to topics');
      const topic = requireTopic(p.TopicArn ?? p.TargetArn);
      const message = p.Message;
      if (message === undefined || message === '') throw invalid('Empty message');
      if (Buffer.byteLength(message, 'utf8') > 262_144) throw invalid('Message too long');
      const subject = p.Subject;
      if (subject !== undefined) {
        // "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters long."
        if (subject.length === 0 || subject.length >= 100) throw invalid('Subject: must be less than 100 characters long');
        if (/[\u0000-\u001f\u007f-\u009f]/.test(subject)) throw invalid('Subject: must not contain line breaks or control characters');
        if (/^\s/.test(subject)) throw invalid('Subject: must begin with a letter, number or punctuation mark');
      }
      const attributes = messageAttributes(p);
      const messageId = randomUUID();
      for (const s of topic.subscriptions) {
        if (!s.confirmed || !matchesFilter(s.attributes.FilterPolicy, attributes)) continue;
        deliveries.push({ email: s.endpoint, topicArn: topic.arn, subject, message, messageId, attributes });
      }
      return `<PublishResult>${tag('MessageId', messageId)}</PublishResult>`;
    },
  };

  function answer(res: ServerResponse, status: number, xml: string, requestId: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  }

  function errorXml(code: string, status: number, message: string, requestId: string): string {
    const type = status >= 500 ? 'Receiver' : 'Sender';
    return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  }

  async function handle(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    const call: RecordedCall = { action, params, headers: req.headers, body };
    calls.push(call);
    const fail = (e: SnsError) => {
      call.status = e.status;
      answer(res, e.status, errorXml(e.code, e.status, e.message, requestId), requestId);
    };

    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return fail(new SnsError('InvalidAction', 400, 'SNS speaks the Query protocol: a form-encoded POST'));
    }
    const auth = String(req.headers.authorization ?? '');
    if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/sns\/aws4_request, SignedHeaders=.+, Signature=[0-9a-f]{64}$/.test(auth)) {
      return fail(new SnsError('MissingAuthenticationToken', 403, 'Request is missing Authentication Token'));
    }
    if (params.Version !== '2010-03-31') return fail(new SnsError('InvalidParameterValue', 400, 'Version'));

    const parked = holds.get(action)?.shift();
    if (parked) await parked;

    const queued = failures.get(action)?.[0];
    if (queued) {
      if (--queued.remaining <= 0) failures.get(action)!.shift();
      return fail(new SnsError(queued.code, queued.status, queued.message));
    }
    const handler = handlers[action];
    if (!handler) return fail(new SnsError('InvalidAction', 400, `The action ${action} is not valid for this endpoint.`));
    try {
      const result = handler(params);
      call.status = 200;
      answer(res, 200, `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`, requestId);
    } catch (error) {
      if (error instanceof SnsError) return fail(error);
      fail(new SnsError('InternalError', 500, String(error)));
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void handle(req, Buffer.concat(chunks).toString('utf8'), res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const releases: Array<() => void> = [];

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    accountId,
    calls,
    deliveries,
    confirmationMails,
    inbox: (email) => deliveries.filter((d) => d.email === email),
    confirm(email) {
      let confirmed = 0;
      for (const mail of confirmationMails.filter((m) => m.email === email)) {
        const subscription = findSubscription(mail.subscriptionArn);
        if (subscription && !subscription.confirmed) {
          subscription.confirmed = true;
          confirmed++;
        }
      }
      return confirmed;
    },
    topic: (name) => topics.get(topicArnFor(name)),
    topics: () => [...topics.values()],
    callsOf: (action) => calls.filter((c) => c.action === action),
    failNext(action, code, status = 400, times = 1, message = `${code} (injected)`) {
      const list = failures.get(action) ?? [];
      list.push({ code, status, message, remaining: times });
      failures.set(action, list);
    },
    hold(action) {
      let release!: () => void;
      const parked = new Promise<void>((resolve) => (release = resolve));
      holds.set(action, [...(holds.get(action) ?? []), parked]);
      releases.push(release);
      return release;
    },
    async close() {
      releases.forEach((release) => release());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
