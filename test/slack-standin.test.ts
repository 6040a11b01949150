// The Slack stand-in against the real @slack/web-api WebClient and a real Bolt app over HTTP:
// Web API shapes and auth, Block Kit limits, ephemeral visibility, DMs, App Home, 429 with
// Retry-After, response_url, and user-side requests signed so that Bolt's own verification accepts
// (or refuses) them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { WebClient, WebClientEvent, ErrorCode, type WebAPIPlatformError } from '@slack/web-api';
import { App, HTTPReceiver, LogLevel, isValidSlackRequest } from '@slack/bolt';
import {
  buttons,
  startSlackStandin,
  textOf,
  validateBlocks,
  SLACK_LIMITS,
  type SlackStandin,
} from './support/slack-standin.js';

const QUIET = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => LogLevel.ERROR, setName() {} };

let slack: SlackStandin;

const client = (token = slack.botToken, extra: Record<string, unknown> = {}) =>
  new WebClient(token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 2, factor: 1, minTimeout: 0, maxTimeout: 0 },
    rejectRateLimitedCalls: false,
    logger: QUIET,
    ...extra,
  });

const section = (text: string) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text } });
const button = (text: string, action_id: string, value?: string) => ({ type: 'button' as const, text: { type: 'plain_text' as const, text }, action_id, ...(value !== undefined ? { value } : {}) });

async function platformError(p: Promise<unknown>): Promise<WebAPIPlatformError> {
  try {
    await p;
  } catch (e) {
    expect((e as WebAPIPlatformError).code).toBe(ErrorCode.PlatformError);
    return e as WebAPIPlatformError;
  }
  throw new Error('expected the call to fail');
}

describe('Web API stand-in with the real WebClient', () => {
  beforeEach(async () => {
    slack = await startSlackStandin();
    slack.user('U100ALICE', 'alice', { realName: 'Alice Doe', email: 'alice@example.com' });
    slack.user('U200BOB', 'bob');
    slack.channel('C100MARKET', 'market');
  });
  afterEach(() => slack.close());

  it('auth.test answers the bot identity; a wrong or missing token is refused', async () => {
    const me = await client().auth.test();
    expect(me).toMatchObject({ ok: true, team_id: slack.teamId, user_id: slack.botUserId, bot_id: slack.botId });
    expect(me.enterprise_id).toBeUndefined();
    expect(slack.calls[0]).toMatchObject({ method: 'auth.test', token: slack.botToken, ok: true });

    const bad = await platformError(client('xoxb-not-the-token').auth.test());
    expect(bad.data).toMatchObject({ ok: false, error: 'invalid_auth' });
    const none = await fetch(`${slack.apiUrl}auth.test`, { method: 'POST' }).then((r) => r.json());
    expect(none).toEqual({ ok: false, error: 'not_authed' });
  });

  it('auth.test carries enterprise_id on an Enterprise Grid workspace', async () => {
    const grid = await startSlackStandin({ enterpriseId: 'E0GRID' });
    try {
      const me = await new WebClient(grid.botToken, { slackApiUrl: grid.apiUrl, logger: QUIET }).auth.test();
      expect(me.enterprise_id).toBe('E0GRID');
    } finally {
      await grid.close();
    }
  });

  it('accepts JSON bodies as well as form-encoded ones', async () => {
    const res = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C100MARKET', text: 'json body', blocks: [section('*json* body')] }),
    }).then((r) => r.json());
    expect(res.ok).toBe(true);
    expect(slack.calls.at(-1)!.contentType).toContain('application/json');
    await client().chat.postMessage({ channel: 'C100MARKET', text: 'form body' });
    expect(slack.calls.at(-1)!.contentType).toBe('application/x-www-form-urlencoded');
    expect(slack.messages('C100MARKET').map(textOf)).toEqual(['*json* body', 'form body']);
  });

  it('chat.postMessage with blocks answers ts, channel and message; readers flatten blocks and list buttons', async () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'BTC' } },
      section('Price *$50,000*'),
      { type: 'actions', block_id: 'trade', elements: [button('Buy', 'buy_btc', 'btc'), { ...button('Sell', 'sell_btc', 'btc'), style: 'danger' }] },
    ];
    const res = await client().chat.postMessage({ channel: 'C100MARKET', text: 'BTC $50,000', blocks });
    expect(res).toMatchObject({ ok: true, channel: 'C100MARKET' });
    expect(res.ts).toMatch(/^\d+\.\d{6}$/);
    expect(res.message).toMatchObject({ type: 'message', text: 'BTC $50,000', ts: res.ts, bot_id: slack.botId, user: slack.botUserId, blocks });

    const [m] = slack.messages('C100MARKET', 'U100ALICE');
    expect(textOf(m!)).toBe('BTC\nPrice *$50,000*\n[Buy] [Sell]');
    expect(buttons(m!)).toEqual([
      { text: 'Buy', actionId: 'buy_btc', blockId: 'trade', value: 'btc', url: undefined, style: undefined },
      { text: 'Sell', actionId: 'sell_btc', blockId: 'trade', value: 'btc', url: undefined, style: 'danger' },
    ]);

    const up = await client().chat.update({ channel: 'C100MARKET', ts: res.ts!, text: 'BTC $51,000', blocks: [section('Price *$51,000*')] });
    expect(up).toMatchObject({ ok: true, channel: 'C100MARKET', ts: res.ts, text: 'BTC $51,000' });
    expect(textOf(slack.message('C100MARKET', res.ts!)!)).toBe('Price *$51,000*');
    expect(slack.message('C100MARKET', res.ts!)!.history).toEqual(['BTC $50,000']);
    expect((await platformError(client().chat.postMessage({ channel: 'C999NOPE', text: 'x' }))).data.error).toBe('channel_not_found');
    expect((await platformError(client().chat.update({ channel: 'C100MARKET', ts: '1.000001', text: 'x' }))).data.error).toBe('message_not_found');
  });

  it('refuses blocks beyond Slack limits with invalid_blocks, and text over 40,000 with msg_too_long', async () => {
    const cases: Array<[string, unknown[]]> = [
      ['51 blocks', Array.from({ length: 51 }, (_, i) => section(`b${i}`))],
      ['section text 3001', [section('x'.repeat(3001))]],
      ['header 151', [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }]],
      ['header mrkdwn', [{ type: 'header', text: { type: 'mrkdwn', text: '*h*' } }]],
      ['26 elements', [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button(`b${i}`, `a${i}`)) }]],
      ['button text 76', [{ type: 'actions', elements: [button('t'.repeat(76), 'a')] }]],
      ['action_id 256', [{ type: 'actions', elements: [button('t', 'a'.repeat(256))] }]],
      ['value 2001', [{ type: 'actions', elements: [button('t', 'a', 'v'.repeat(2001))] }]],
      ['unknown block type', [{ type: 'sparkle' }]],
    ];
    for (const [name, blocks] of cases) {
      const e = await platformError(client().chat.postMessage({ channel: 'C100MARKET', text: name, blocks: blocks as any }));
      expect(e.data.error, name).toBe('invalid_blocks');
      expect((e.data as any).errors?.length, name).toBeGreaterThan(0);
      expect(e.data.response_metadata?.messages?.[0], name).toMatch(/^\[ERROR\] .*\[json-pointer:\/blocks/);
    }
    // exactly at the limits passes
    const atLimits = [
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(SLACK_LIMITS.headerText) } },
      section('x'.repeat(SLACK_LIMITS.sectionText)),
      { type: 'actions', elements: Array.from({ length: 25 }, (_, i) => button(i ? `b${i}` : 't'.repeat(75), i ? `a${i}` : 'a'.repeat(255), i ? undefined : 'v'.repeat(2000))) },
      ...Array.from({ length: 47 }, () => ({ type: 'divider' })),
    ];
    expect(validateBlocks(atLimits)).toEqual([]);
    expect((await client().chat.postMessage({ channel: 'C100MARKET', text: 'ok', blocks: atLimits as any })).ok).toBe(true);

    expect((await platformError(client().chat.postMessage({ channel: 'C100MARKET', text: 'x'.repeat(40_001) }))).data.error).toBe('msg_too_long');
    expect((await client().chat.postMessage({ channel: 'C100MARKET', text: 'x'.repeat(40_000) })).ok).toBe(true);
    expect((await platformError(client().chat.postMessage({ channel: 'C100MARKET', text: '' }))).data.error).toBe('no_text');
    expect(slack.messages('C100MARKET')).toHaveLength(2);
  });

  it('chat.postEphemeral is seen only by its user', async () => {
    await client().chat.postMessage({ channel: 'C100MARKET', text: 'for everyone' });
    const eph = await client().chat.postEphemeral({ channel: 'C100MARKET', user: 'U100ALICE', text: 'only alice' });
    expect(eph.ok).toBe(true);
    expect(eph.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(slack.messages('C100MARKET', 'U100ALICE').map((m) => m.text)).toEqual(['for everyone', 'only alice']);
    expect(slack.messages('C100MARKET', 'U200BOB').map((m) => m.text)).toEqual(['for everyone']);
    expect(slack.messages('C100MARKET').map((m) => m.text)).toEqual(['for everyone']);
    expect((await platformError(client().chat.update({ channel: 'C100MARKET', ts: eph.message_ts!, text: 'x' }))).data.error).toBe('message_not_found');
    expect((await platformError(client().chat.postEphemeral({ channel: 'C100MARKET', user: 'U999NOBODY', text: 'x' }))).data.error).toBe('user_not_found');
  });

  it('conversations.open gives each user one stable DM channel; users.info describes users', async () => {
    const a1 = await client().conversations.open({ users: 'U100ALICE' });
    const a2 = await client().conversations.open({ users: 'U100ALICE' });
    const b = await client().conversations.open({ users: 'U200BOB' });
    expect(a1.channel?.id).toMatch(/^D/);
    expect(a2.channel?.id).toBe(a1.channel?.id);
    expect(a2).toMatchObject({ already_open: true, no_op: true });
    expect(b.channel?.id).not.toBe(a1.channel?.id);
    await client().chat.postMessage({ channel: a1.channel!.id!, text: 'hello alice' });
    expect(slack.dmsOf('U100ALICE').map((m) => m.text)).toEqual(['hello alice']);
    expect(slack.dmsOf('U200BOB')).toEqual([]);
    expect((await platformError(client().conversations.open({ users: 'U999NOBODY' }))).data.error).toBe('user_not_found');

    const info = await client().users.info({ user: 'U100ALICE' });
    expect(info.user).toMatchObject({ id: 'U100ALICE', name: 'alice', real_name: 'Alice Doe', is_bot: false, profile: { email: 'alice@example.com' } });
    expect((await platformError(client().users.info({ user: 'U999NOBODY' }))).data.error).toBe('user_not_found');
  });

  it('views.publish stores the App Home view per user', async () => {
    const view = { type: 'home' as const, callback_id: 'home', blocks: [section('Your portfolio: *$10,000*')] };
    const res = await client().views.publish({ user_id: 'U100ALICE', view });
    expect(res.view).toMatchObject({ type: 'home', team_id: slack.teamId, blocks: view.blocks, callback_id: 'home' });
    expect(res.view?.id).toMatch(/^V/);
    expect(textOf(slack.homeOf('U100ALICE')!.view)).toBe('Your portfolio: *$10,000*');
    expect(slack.homeOf('U200BOB')).toBeUndefined();
    // a stale hash is refused like Slack does
    await client().views.publish({ user_id: 'U100ALICE', view });
    expect((await platformError(client().views.publish({ user_id: 'U100ALICE', view, hash: res.view!.hash! }))).data.error).toBe('hash_conflict');
    const tooMany = { type: 'home' as const, blocks: Array.from({ length: 101 }, () => ({ type: 'divider' as const })) };
    expect((await platformError(client().views.publish({ user_id: 'U100ALICE', view: tooMany }))).data.error).toBe('invalid_arguments');
    expect((await client().views.publish({ user_id: 'U100ALICE', view: { ...tooMany, blocks: tooMany.blocks.slice(1) } })).ok).toBe(true);
  });

  it('a 429 with Retry-After is waited out by the client and recorded', async () => {
    slack.rateLimit('chat.postMessage', { retryAfter: 1 });
    const web = client();
    const seen: number[] = [];
    web.on(WebClientEvent.RATE_LIMITED, (sec: number) => seen.push(sec));
    const started = Date.now();
    const res = await web.chat.postMessage({ channel: 'C100MARKET', text: 'after the wait' });
    expect(res.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(seen).toEqual([1]);
    expect(slack.callsTo('chat.postMessage').map((c) => [c.status, c.error ?? 'ok'])).toEqual([[429, 'ratelimited'], [200, 'ok']]);
    expect(slack.messages('C100MARKET').map((m) => m.text)).toEqual(['after the wait']);

    // the raw wire answer, and only the named method is limited
    slack.rateLimit('chat.postMessage', { retryAfter: 7 });
    expect((await client().auth.test()).ok).toBe(true);
    const raw = await fetch(`${slack.apiUrl}chat.postMessage`, { method: 'POST', headers: { authorization: `Bearer ${slack.botToken}` }, body: 'channel=C100MARKET&text=x' });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');
    expect(await raw.json()).toEqual({ ok: false, error: 'ratelimited' });

    slack.rateLimit('chat.postMessage', { retryAfter: 30 });
    const rejecting = client(slack.botToken, { rejectRateLimitedCalls: true });
    await expect(rejecting.chat.postMessage({ channel: 'C100MARKET', text: 'x' })).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 30 });
  });
});

describe('user-side requests to a Bolt app over HTTP', () => {
  let app: App;
  let server: Server;
  const handled: Array<{ kind: string; retryNum?: number; body?: any }> = [];
  // Handlers go on after their ack; each test's afterEach waits for them before closing the stand-in.
  const inflight: Array<Promise<unknown>> = [];
  const track = (work: Promise<void>) => {
    inflight.push(work.catch(() => undefined));
    return work;
  };

  beforeEach(async () => {
    handled.length = 0;
    slack = await startSlackStandin();
    slack.user('U100ALICE', 'alice');
    slack.user('U200BOB', 'bob');
    slack.channel('C100MARKET', 'market');
    const receiver = new HTTPReceiver({ signingSecret: slack.signingSecret, logger: QUIET as any });
    app = new App({
      token: slack.botToken,
      receiver,
      logger: QUIET as any,
      // init() below waits for Bolt's auth.test against the stand-in, so no call outlives a test.
      deferInitialization: true,
      clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, logger: QUIET as any },
    });
    app.command('/pulse', async ({ command, ack, respond, client: web, context }) => track((async () => {
      await ack();
      handled.push({ kind: 'command', retryNum: context.retryNum, body: command });
      if (command.text === 'public') {
        await respond({ response_type: 'in_channel', text: `Price for everyone` });
      } else {
        await respond({ text: `BTC is $50,000 (${command.text})`, blocks: [section(`BTC is *$50,000*`), { type: 'actions', elements: [button('Refresh', 'refresh', 'btc')] }] });
      }
      await web.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text: 'via web api' });
    })()));
    app.command('/quick', async ({ ack }) => {
      await ack({ response_type: 'ephemeral', text: 'acked with text' });
    });
    app.action('refresh', async ({ ack, respond, body }) => track((async () => {
      await ack();
      handled.push({ kind: 'action', body });
      await respond({ replace_original: true, text: 'BTC is $51,000' });
    })()));
    app.event('app_home_opened', async ({ event, client: web }) => track((async () => {
      handled.push({ kind: 'home', body: event });
      await web.views.publish({ user_id: event.user, view: { type: 'home', blocks: [section(`Welcome <@${event.user}>`)] } });
    })()));
    await app.init();
    server = (await app.start(0)) as Server;
    const port = (server.address() as { port: number }).port;
    slack.requestUrl = `http://127.0.0.1:${port}/slack/events`;
  });
  afterEach(async () => {
    await Promise.all(inflight.splice(0));
    await app.stop();
    await slack.close();
  });

  it('sign() matches Bolt verification; altered bodies, wrong secrets and old timestamps do not', () => {
    const body = 'command=%2Fpulse&text=btc';
    const ts = Math.floor(Date.now() / 1000);
    const ok = (signature: string, timestamp = ts, b = body) =>
      isValidSlackRequest({ signingSecret: slack.signingSecret, body: b, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp } });
    expect(ok(slack.sign(body, ts))).toBe(true);
    expect(ok(slack.sign(body, ts), ts, `${body}x`)).toBe(false);
    expect(ok(slack.sign(body, ts, 'another-secret'))).toBe(false);
    expect(ok(slack.sign(body, ts - 600), ts - 600)).toBe(false);
  });

  it('a signed slash command is acked and handled; the late answer arrives through response_url', async () => {
    const r = await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'btc');
    expect(r.status).toBe(200);
    expect(r.raw).toBe('');
    expect(handled[0]!.body).toMatchObject({ command: '/pulse', text: 'btc', user_id: 'U100ALICE', channel_id: 'C100MARKET', team_id: slack.teamId, api_app_id: slack.appId, response_url: r.invocation.responseUrl, trigger_id: r.invocation.triggerId });
    expect(handled[0]!.retryNum).toBeUndefined();

    await slack.waitFor(() => slack.messages('C100MARKET', 'U100ALICE').length === 2);
    const posts = slack.responsesOf(r.invocation);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ ok: true, status: 200, body: { text: 'BTC is $50,000 (btc)' } });
    const seen = slack.messages('C100MARKET', 'U100ALICE');
    expect(seen.map((m) => [m.via, textOf(m)])).toEqual([
      ['response_url', 'BTC is *$50,000*\n[Refresh]'],
      ['chat.postEphemeral', 'via web api'],
    ]);
    expect(slack.messages('C100MARKET', 'U200BOB')).toEqual([]);

    // the user presses Refresh under the ephemeral answer: replace_original edits it in place
    const a = await slack.blockAction('U100ALICE', seen[0]!, 'refresh');
    expect(a.status).toBe(200);
    const payload = handled.find((h) => h.kind === 'action')!.body;
    expect(payload).toMatchObject({ type: 'block_actions', user: { id: 'U100ALICE' }, container: { type: 'message', message_ts: seen[0]!.ts, channel_id: 'C100MARKET', is_ephemeral: true }, actions: [{ action_id: 'refresh', value: 'btc', type: 'button' }], response_url: a.invocation.responseUrl });
    await slack.waitFor(() => slack.responsesOf(a.invocation).length === 1);
    expect(slack.responsesOf(a.invocation)[0]!.body).toMatchObject({ replace_original: true });
    expect(slack.messages('C100MARKET', 'U100ALICE').map(textOf)).toEqual(['BTC is $51,000', 'via web api']);
  });

  it('in_channel answers are seen by everyone; an ack with a body is shown as the answer', async () => {
    const r = await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'public');
    await slack.waitFor(() => slack.responsesOf(r.invocation).length === 1);
    expect(slack.messages('C100MARKET', 'U200BOB').map((m) => m.text)).toEqual(['Price for everyone']);

    const q = await slack.slashCommand('U200BOB', 'C100MARKET', '/quick');
    expect(q.status).toBe(200);
    expect(q.body).toEqual({ response_type: 'ephemeral', text: 'acked with text' });
    expect(q.invocation.ack).toMatchObject({ status: 200 });
    expect(slack.messages('C100MARKET', 'U200BOB').map((m) => [m.via, m.text])).toContainEqual(['ack', 'acked with text']);
    expect(slack.messages('C100MARKET', 'U100ALICE').map((m) => m.text)).not.toContain('acked with text');
  });

  it('a block action on a public message carries the message, and replace_original updates it for everyone', async () => {
    const posted = await app.client.chat.postMessage({ channel: 'C100MARKET', text: 'BTC', blocks: [section('BTC'), { type: 'actions', elements: [button('Refresh', 'refresh', 'btc')] }] });
    const m = slack.message('C100MARKET', posted.ts!)!;
    const a = await slack.blockAction('U200BOB', m, 'refresh');
    expect(a.status).toBe(200);
    expect(handled.find((h) => h.kind === 'action')!.body).toMatchObject({ container: { is_ephemeral: false }, message: { ts: m.ts, text: 'BTC' } });
    await slack.waitFor(() => slack.message('C100MARKET', m.ts)!.text === 'BTC is $51,000');
    expect(slack.messages('C100MARKET', 'U100ALICE').map((x) => x.text)).toEqual(['BTC is $51,000']);
    await expect(slack.blockAction('U200BOB', m, 'no_such_button')).rejects.toThrow(/no button no_such_button/);
  });

  it('a bad signature, a missing signature and an old timestamp get 401 and are not handled', async () => {
    expect((await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'x', { signature: 'bad' })).status).toBe(401);
    expect((await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'x', { signature: 'none' })).status).toBe(401);
    expect((await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'x', { timestampOffset: -(SLACK_LIMITS.signatureMaxAgeSeconds + 60) })).status).toBe(401);
    expect((await slack.event('app_home_opened', { user: 'U100ALICE', tab: 'home' }, { signature: 'bad' })).status).toBe(401);
    expect(handled).toEqual([]);
    // a timestamp within the window is accepted
    expect((await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'x', { timestampOffset: -60 })).status).toBe(200);
  });

  it('a retry carries X-Slack-Retry-Num to Bolt', async () => {
    const r = await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'again', { retry: { num: 2, reason: 'http_timeout' } });
    expect(r.status).toBe(200);
    expect(handled[0]!.retryNum).toBe(2);
  });

  it('events: url_verification is answered; app_home_opened leads to a published Home', async () => {
    const v = await slack.urlVerification('abc123');
    expect(v.ok).toBe(true);
    expect(v.result.status).toBe(200);

    const e = await slack.openHome('U100ALICE');
    expect(e.status).toBe(200);
    expect(e.envelope).toMatchObject({ type: 'event_callback', team_id: slack.teamId, api_app_id: slack.appId, event: { type: 'app_home_opened', user: 'U100ALICE', tab: 'home' } });
    const home = await slack.waitFor(() => slack.homeOf('U100ALICE'));
    expect(textOf(home.view)).toBe('Welcome <@U100ALICE>');
    expect(handled.find((h) => h.kind === 'home')!.body.channel).toBe(slack.dmChannel('U100ALICE'));
    expect(slack.callsTo('auth.test').length).toBeGreaterThan(0);
  });

  it('response_url refuses a sixth use and unknown ids', async () => {
    const r = await slack.slashCommand('U100ALICE', 'C100MARKET', '/pulse', 'btc');
    await slack.waitFor(() => slack.responsesOf(r.invocation).length === 1);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(r.invocation.responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `more ${i}` }) });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 404]);
    expect(slack.responsesOf(r.invocation).map((p) => p.ok)).toEqual([true, true, true, true, true, false]);
    expect((await fetch(`${slack.url}/response/T0/none/x`, { method: 'POST', body: '{}' })).status).toBe(404);
    const bad = await fetch(r.invocation.responseUrl.replace(/x\d+$/, 'x0'), { method: 'POST', body: '{}' });
    expect(bad.status).toBe(404);
  });
});
