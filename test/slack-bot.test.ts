/**
 * The Slack bot end to end: the real Bolt app (HTTPReceiver, signature checks, WebClient) against
 * the loopback Slack stand-in (Web API, signed slash commands and block actions, response_url), on
 * a whole core (in-memory SQLite, hand-set prices, manual clock). The stand-in signs with the real
 * clock, as Bolt checks the timestamp against it. Assertions are about what a Slack user would
 * see: the channel as each user sees it (ephemeral messages only for their user) and DMs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSlackBot, type SlackBot, type SlackBotOptions } from '../adapters/slack/bot';
import { buttonOf, commandLine, slackAddress } from '../adapters/slack/mapping';
import { escapeMrkdwn, renderSlackMessage } from '../adapters/slack/render';
import { alertPipeline } from './support/alerts';
import type { IncomingCommand } from '../core/dispatcher';
import type { LinkedIdentity } from '../core/domain';
import type { Logger } from '../core/ports';
import { configuredChatAdapters } from '../src/adapters';
import { deliverThroughAdapters } from '../src/chat-delivery';
import { ConfigError, loadConfig } from '../src/config';
import { buttons, startSlackStandin, textOf, validateBlocks, type Invocation, type SlackMessage, type SlackStandin } from './support/slack-standin';
import { makeTestBot, type TestBot } from './support/harness';

type Line = { level: string; msg?: string; obj: Record<string, unknown> };
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

let core: TestBot;
let standin: SlackStandin;
let logger: ReturnType<typeof recordingLogger>;
let slack: SlackBot;
const started: SlackBot[] = [];
const ANN = 'U0ANN';
const BOB = 'U0BOB';
const GENERAL = 'C0GENERAL';

async function makeBot(overrides: Partial<SlackBotOptions> = {}): Promise<SlackBot> {
  const bot = createSlackBot({
    botToken: standin.botToken, signingSecret: standin.signingSecret, apiUrl: standin.apiUrl,
    port: 0, host: '127.0.0.1', core: core.core, logger, ...overrides,
  });
  started.push(bot);
  await bot.start();
  standin.requestUrl = `${bot.url()}/slack/events`;
  return bot;
}

beforeEach(async () => {
  core = await makeTestBot();
  logger = recordingLogger();
  standin = await startSlackStandin();
  standin.user(ANN, 'ann');
  standin.user(BOB, 'bob');
  standin.channel(GENERAL, 'general');
  slack = await makeBot();
});

afterEach(async () => {
  for (const bot of started.splice(0)) await bot.stop();
  await standin.close();
  await core.close();
});

/** What the bot answered through the invocation's response_url (the first post, or the `n`th). */
async function answerOf(invocation: Invocation, n = 0): Promise<Record<string, any>> {
  const post = await standin.waitFor(() => standin.responsesOf(invocation)[n]);
  expect(post.ok).toBe(true);
  return post.body;
}

async function pulse(user: string, text: string, channel = GENERAL): Promise<{ invocation: Invocation; body: Record<string, any>; text: string; status: number }> {
  const result = await standin.slashCommand(user, channel, '/pulse', text);
  expect(result.status).toBe(200);
  expect(result.raw).toBe(''); // an empty ack: the answer follows on the response_url
  const body = await answerOf(result.invocation);
  expect(validateBlocks(body.blocks)).toEqual([]);
  return { invocation: result.invocation, body, text: textOf(body), status: result.status };
}

async function signup(user: string, name: string): Promise<void> {
  const { text } = await pulse(user, `signup ${name} ${name}@example.com`);
  expect(text).toContain(`Welcome, ${name}!`);
}

/** The message a response created, as the channel holds it. */
const messageOf = (invocation: Invocation): SlackMessage => standin.messages(invocation.channel, invocation.user).find((m) => m.invocation === invocation.id)!;
const actionIdOf = (m: SlackMessage, label: string) => buttons(m).find((b) => b.text === label)!.actionId;
const transactions = async (username: string) => (await core.store.listTransactions(username, { limit: 100 })).items;

describe('Slack bot', () => {
  it('says it is connected while it serves, and not once stopped (readiness, /readyz)', async () => {
    expect(slack.connected?.()).toBe(true);
    await slack.stop();
    expect(slack.connected?.()).toBe(false);
  });

  it('maps the slash command text to the core and addresses to Slack ids', () => {
    expect(commandLine('buy btc $100')).toBe('/buy btc $100');
    expect(commandLine('  ')).toBe('/help');
    expect(commandLine(undefined)).toBe('/help');
    expect(commandLine('/price btc')).toBe('/price btc');
    expect(slackAddress('slack:T1:U9')).toEqual({ team: 'T1', id: 'U9' });
    expect(slackAddress('telegram:5')).toBeUndefined();
    expect(slackAddress('slack:T1')).toBeUndefined();
    expect(buttonOf('other')).toBeNull();
  });

  it('signs up and answers /pulse price in the channel; /pulse alone is help, commands written as /pulse …', async () => {
    await signup(ANN, 'ann');
    expect((await core.store.findIdentity(`slack:${standin.teamId}:${ANN}`))?.username).toBe('ann');
    const price = await pulse(ANN, 'price btc eth');
    expect(price.text).toMatch(/BTC/);
    expect(price.text).toMatch(/ETH/);
    expect(price.body.response_type).toBe('in_channel');
    // Bob sees it in the channel too.
    expect(standin.messages(GENERAL, BOB).some((m) => m.invocation === price.invocation.id)).toBe(true);
    const help = await pulse(ANN, '');
    expect(help.text).toMatch(/\/pulse buy/);
    expect(help.text).not.toMatch(/(^|\s)\/buy/);
    expect(standin.callsTo('auth.test')).toHaveLength(1);
  });

  it('answers a private command (whoami) ephemerally', async () => {
    await signup(ANN, 'ann');
    const { body, invocation } = await pulse(ANN, 'whoami');
    expect(body.response_type).toBe('ephemeral');
    expect(standin.messages(GENERAL, BOB).some((m) => m.invocation === invocation.id)).toBe(false);
    expect(standin.messages(GENERAL, ANN).some((m) => m.invocation === invocation.id)).toBe(true);
  });

  it('asks Confirm / Cancel on a large buy; Confirm trades once, a second press is told it was already done', async () => {
    await signup(ANN, 'ann');
    const { text, invocation } = await pulse(ANN, 'buy btc $2000');
    expect(text).toMatch(/Confirm: buy about \$2,000\.00 of BTC\?/);
    const prompt = messageOf(invocation);
    expect(buttons(prompt).map((b) => [b.text, b.style])).toEqual([['Confirm', 'primary'], ['Cancel', 'danger']]);
    const confirm = actionIdOf(prompt, 'Confirm');
    expect(confirm).toMatch(/^cp:[A-Za-z0-9_-]{16}\.0$/);
    expect(await transactions('ann')).toHaveLength(0);

    // A double tap: both presses reach the bot before it has replaced the message.
    const presses = await Promise.all([standin.blockAction(ANN, prompt, confirm), standin.blockAction(ANN, prompt, confirm)]);
    expect(presses.map((p) => p.status)).toEqual([200, 200]);
    const answers = await Promise.all(presses.map((p) => answerOf(p.invocation)));
    const replaced = answers.find((a) => a.replace_original === true)!;
    const refused = answers.find((a) => a !== replaced)!;
    expect(textOf(refused)).toContain('Already done');
    expect(refused.response_type).toBe('ephemeral');
    expect(await transactions('ann')).toHaveLength(1);
    const after = standin.message(prompt.channel, prompt.ts)!;
    expect(textOf(after)).toMatch(/Bought/i);
    expect(buttons(after).map((b) => b.text)).not.toContain('Confirm');
  });

  it('refuses a press by someone else, ephemerally, and keeps the buttons for their owner', async () => {
    await signup(ANN, 'ann');
    await signup(BOB, 'bob');
    const { invocation } = await pulse(ANN, 'buy btc $2000');
    const prompt = messageOf(invocation);
    // The prompt is in the channel, so Bob sees its buttons and can press them.
    expect(prompt.ephemeralTo).toBeUndefined();
    const press = await standin.blockAction(BOB, prompt, actionIdOf(prompt, 'Confirm'));
    const said = await answerOf(press.invocation);
    expect(textOf(said)).toContain('Only the person who sent the command');
    expect(said.response_type).toBe('ephemeral');
    expect(said.replace_original).toBe(false);
    expect(await transactions('ann')).toHaveLength(0);
    expect(buttons(standin.message(prompt.channel, prompt.ts)!).map((b) => b.text)).toEqual(['Confirm', 'Cancel']);
  });

  it('Cancel replaces the prompt and trades nothing', async () => {
    await signup(ANN, 'ann');
    const { invocation } = await pulse(ANN, 'buy btc $2000');
    const prompt = messageOf(invocation);
    const press = await standin.blockAction(ANN, prompt, actionIdOf(prompt, 'Cancel'));
    await answerOf(press.invocation);
    expect(textOf(standin.message(prompt.channel, prompt.ts)!)).toMatch(/Cancelled/);
    expect(buttons(standin.message(prompt.channel, prompt.ts)!)).toEqual([]);
    expect(await transactions('ann')).toHaveLength(0);
  });

  it('refuses a bad signature (401) and a stale timestamp, changing nothing', async () => {
    const bad = await standin.slashCommand(ANN, GENERAL, '/pulse', 'signup ann ann@example.com', { signature: 'bad' });
    expect(bad.status).toBe(401);
    const none = await standin.slashCommand(ANN, GENERAL, '/pulse', 'signup ann ann@example.com', { signature: 'none' });
    expect(none.status).toBe(401);
    const stale = await standin.slashCommand(ANN, GENERAL, '/pulse', 'signup ann ann@example.com', { timestampOffset: -6 * 60 });
    expect(stale.status).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(await core.store.findIdentity(`slack:${standin.teamId}:${ANN}`)).toBeNull();
    for (const r of [bad, none, stale]) expect(r.invocation.responses).toHaveLength(0);
  });

  it('acknowledges a retried slash command (X-Slack-Retry-Num) and handles it once', async () => {
    const first = await pulse(ANN, 'signup ann ann@example.com');
    expect(first.text).toContain('Welcome, ann!');
    // Slack sends the very same request again, marked as a retry.
    const inv = first.invocation;
    const form = new URLSearchParams({
      token: 'standinVerificationToken', team_id: standin.teamId, team_domain: 'cryptopulse-test', channel_id: GENERAL, channel_name: 'general',
      user_id: ANN, user_name: 'ann', command: '/pulse', text: 'signup ann ann@example.com', api_app_id: standin.appId,
      is_enterprise_install: 'false', response_url: inv.responseUrl, trigger_id: inv.triggerId,
    }).toString();
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(standin.requestUrl!, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': standin.sign(form, ts),
        'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout',
      },
      body: form,
    });
    expect(res.status).toBe(200);
    await standin.waitFor(() => logger.lines.find((l) => l.msg === 'slack request delivered again: ignored'));
    expect(standin.responsesOf(inv)).toHaveLength(1);
    expect(logger.lines.find((l) => l.msg === 'slack request delivered again: ignored')!.obj).toMatchObject({ retryNum: 1 });
  });

  it('delivers a fired alert by DM (conversations.open once) through the alert engine', async () => {
    await signup(ANN, 'ann');
    core.feed.set('bitcoin', '50000');
    await pulse(ANN, 'alert set btc above 55000');
    expect(await core.store.listAlerts('ann')).toHaveLength(1);
    core.feed.set('bitcoin', '56000');
    const engine = alertPipeline(core.core.services, deliverThroughAdapters([slack], logger));
    expect(await engine.check()).toBe(1);
    const dm = await standin.waitFor(() => standin.dmsOf(ANN)[0]);
    expect(textOf(dm)).toMatch(/BTC is above \$55,000\.00/);
    const identity: LinkedIdentity = { key: `slack:${standin.teamId}:${ANN}`, platform: 'slack', username: 'ann', linkedAt: 0 };
    expect(await slack.deliverToUser(identity, { tone: 'info', text: 'second' })).toEqual({ status: 'sent' });
    expect(standin.callsTo('conversations.open')).toHaveLength(1);
    expect(standin.callsTo('conversations.open')[0]!.params.users).toBe(ANN);
    // Other platforms' addresses are not ours.
    expect(await slack.deliverToUser({ key: 'telegram:5', platform: 'telegram', username: 'x', linkedAt: 0 }, { tone: 'info', text: 'x' })).toMatchObject({ status: 'failed' });
    expect(await slack.deliverToChat('telegram:-100', { tone: 'info', text: 'x' })).toMatchObject({ status: 'failed' });
  });

  it('posts into a channel by its prefixed id, waiting out a 429 on chat.postMessage', async () => {
    standin.rateLimit('chat.postMessage', { count: 1, retryAfter: 1 });
    expect(await slack.deliverToChat(`slack:${standin.teamId}:${GENERAL}`, { tone: 'info', title: 'Maintenance at 13:00 UTC', text: 'Trading pauses for 5 minutes.' })).toEqual({ status: 'sent' });
    const posts = standin.callsTo('chat.postMessage');
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    expect(standin.messages(GENERAL).map((m) => textOf(m))).toEqual(['Maintenance at 13:00 UTC\nTrading pauses for 5 minutes.']);
  }, 15_000);

  it('escapes user text so <@U123> and <!channel> never ping', async () => {
    const { body } = await pulse(ANN, 'signup <@U123> <!channel>');
    const all = JSON.stringify(body);
    expect(all).not.toContain('<@U123>');
    expect(all).not.toContain('<!channel>');
    // Rendered directly: every mrkdwn string is escaped.
    const rendered = renderSlackMessage({ tone: 'info', title: '<!here>', text: 'hi <@U123> & <!channel>', fields: [{ label: '<@U1>', value: '<!everyone>' }], footer: '<https://evil|x>', table: { columns: ['a'], rows: [['<@U2>']] } }, { actionId: () => 'x' });
    // Every mrkdwn string and the fallback text (header and button texts are plain_text, never parsed).
    const mrkdwn = JSON.stringify([rendered.text, ...rendered.blocks.flatMap((b: any) => [b.text?.type === 'mrkdwn' ? b.text.text : '', ...(b.fields ?? []).map((f: any) => f.text), ...(b.elements ?? []).map((e: any) => e.type === 'mrkdwn' ? e.text : '')])]);
    expect(mrkdwn).toContain('&lt;@U123&gt;');
    expect(mrkdwn).not.toMatch(/<[@!#]/);
    expect(mrkdwn).not.toContain('<https');
    expect(rendered.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '<!here>', emoji: true } });
    expect(escapeMrkdwn('a & <b>')).toBe('a &amp; &lt;b&gt;');
    expect(validateBlocks(rendered.blocks)).toEqual([]);
  });

  it('answers words that are not a command ephemerally, so a mistyped secret is never shown to the channel', async () => {
    const { body, invocation } = await pulse(ANN, 'hunter2');
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(standin.messages(GENERAL, BOB).some((m) => m.invocation === invocation.id)).toBe(false);
    // In a DM with the bot the chat is private: the core may suggest a command there.
    const dm = standin.dmChannel(ANN);
    const inDm = await pulse(ANN, 'prise btc', dm);
    expect(inDm.text).toMatch(/Did you mean \/pulse price/);
  });

  it('tells a user of another slash command which one it answers, and logs it for the operator', async () => {
    const result = await standin.slashCommand(ANN, GENERAL, '/crypto', 'price btc');
    const body = await answerOf(result.invocation);
    expect(textOf(body)).toContain('I answer /pulse only');
    expect(body.response_type).toBe('ephemeral');
    expect(logger.lines.find((l) => l.obj.command === '/crypto')).toMatchObject({ level: 'warn' });
  });

  it('refreshes a price in place, saying when', async () => {
    const { invocation } = await pulse(ANN, 'price btc');
    const message = messageOf(invocation);
    core.feed.set('bitcoin', '70000');
    const press = await standin.blockAction(ANN, message, actionIdOf(message, 'Refresh'));
    await answerOf(press.invocation);
    const after = standin.message(message.channel, message.ts)!;
    expect(textOf(after)).toMatch(/70,000/);
    expect(textOf(after)).toMatch(/Updated 12:00:00 UTC/);
  });

  it('refuses a staff command to a plain user, ephemerally', async () => {
    await signup(ANN, 'ann');
    const { text, body } = await pulse(ANN, 'users');
    expect(text).toMatch(/Your role \(user\) may not run \/pulse users/);
    expect(body.response_type).toBe('ephemeral');
  });

  it('keeps within Slack limits for a long table and many fields', () => {
    const rows = Array.from({ length: 400 }, (_, i) => [`coin-${i}`, `${i}.00`]);
    const fields = Array.from({ length: 40 }, (_, i) => ({ label: `f${i}`, value: 'v'.repeat(3000) }));
    const rendered = renderSlackMessage({ tone: 'info', title: 't'.repeat(500), text: 'x'.repeat(20_000), fields, table: { columns: ['coin', 'price'], rows }, buttons: Array.from({ length: 40 }, (_, i) => ({ label: `b${i}`, command: '/help' })) }, { actionId: (_b, i) => `cp:${i}` });
    expect(validateBlocks(rendered.blocks)).toEqual([]);
    expect(textOf(rendered)).toMatch(/more rows not shown/);
  });

  it('answers the URL verification handshake, and a retried event is acknowledged once', async () => {
    expect((await standin.urlVerification()).ok).toBe(true);
    const first = await standin.event('app_mention', { user: ANN, channel: GENERAL, text: 'hi' });
    expect(first.status).toBe(200);
    // Slack sends the same envelope again, marked as a retry: acknowledged, claimed before, ignored.
    const body = JSON.stringify(first.envelope);
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(standin.requestUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': standin.sign(body, ts), 'x-slack-retry-num': '2', 'x-slack-retry-reason': 'http_error' },
      body,
    });
    expect(res.status).toBe(200);
    const ignored = await standin.waitFor(() => logger.lines.find((l) => l.msg === 'slack request delivered again: ignored'));
    expect(ignored.obj).toMatchObject({ requestId: first.eventId, retryNum: 2 });
  });

  it('stops: the request URL is closed and deliveries are refused', async () => {
    const url = standin.requestUrl!;
    await slack.stop();
    await expect(fetch(url, { method: 'POST', body: '' })).rejects.toThrow();
    const identity: LinkedIdentity = { key: `slack:${standin.teamId}:${ANN}`, platform: 'slack', username: 'ann', linkedAt: 0 };
    expect(await slack.deliverToUser(identity, { tone: 'info', text: 'late' })).toEqual({ status: 'failed', reason: 'the slack adapter is not running' });
    expect(standin.callsTo('chat.postMessage')).toHaveLength(0);
  });

  it('refuses to start with a token Slack does not know, saying which variable to check', async () => {
    const bot = createSlackBot({ botToken: 'xoxb-0-0-wrong', signingSecret: standin.signingSecret, apiUrl: standin.apiUrl, port: 0, host: '127.0.0.1', core: core.core, logger, apiRetries: 0 });
    await expect(bot.start()).rejects.toThrow(/SLACK_BOT_TOKEN/);
  });

  it('is configured by SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN), also beside a Telegram webhook', () => {
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5' })).toThrow(/go together/);
    expect(() => loadConfig({ SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' })).toThrow(/go together/);
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_APP_TOKEN: 'xoxb-not-an-app-token' })).toThrow(/SLACK_APP_TOKEN/);
    expect(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' }).SLACK_APP_TOKEN).toBe('xapp-1-A1-2-abc');
    // Both take HTTP: they share the one server on PORT, at their own paths.
    expect(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5', TELEGRAM_BOT_TOKEN: '1:a', TELEGRAM_WEBHOOK_URL: 'https://x.example/tg', TELEGRAM_WEBHOOK_SECRET: 's' }).TELEGRAM_WEBHOOK_URL).toBe('https://x.example/tg');
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5', TELEGRAM_BOT_TOKEN: '1:a', TELEGRAM_WEBHOOK_URL: 'https://x.example/slack/events', TELEGRAM_WEBHOOK_SECRET: 's' })).toThrow(/\/slack\/events/);
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5' });
    expect(config.SLACK_COMMAND).toBe('/pulse');
    const adapters = configuredChatAdapters(config, core.core, logger);
    expect(adapters.map((a) => a.platform)).toEqual(['slack']);
  });
});

describe('Slack: the bot removed, channels archived or deleted, told to the store at once', () => {
  const address = (channel: string) => `slack:${standin.teamId}:${channel}`;
  const stateOf = async (channel: string) => (await core.store.getChatStates([address(channel)])).get(address(channel));
  const posts = () => standin.callsTo('chat.postMessage').length;

  it('marks a channel the bot was removed from, with no push tried; adding the bot back clears it', async () => {
    standin.channel('C0CLUB', 'club');
    expect(await stateOf('C0CLUB')).toBeUndefined();
    expect((await standin.removeBot('C0CLUB')).status).toBe(200);
    await vi.waitFor(async () => expect(await stateOf('C0CLUB')).toMatchObject({ unreachableSince: core.clock.now(), unreachableReason: 'the bot was removed from the channel' }));
    expect(posts()).toBe(0);
    expect(await stateOf(GENERAL)).toBeUndefined();

    await standin.addBot('C0CLUB');
    await vi.waitFor(async () => expect((await stateOf('C0CLUB'))?.unreachableSince).toBeUndefined());
    expect(await slack.deliverToChat(address('C0CLUB'), { tone: 'info', text: 'back' })).toEqual({ status: 'sent' });
  });

  it('ignores another member joining: only the bot joining clears the mark', async () => {
    standin.channel('C0CLUB', 'club');
    await standin.removeBot('C0CLUB');
    await vi.waitFor(async () => expect((await stateOf('C0CLUB'))?.unreachableSince).toBeDefined());
    await standin.event('member_joined_channel', { user: BOB, channel: 'C0CLUB', channel_type: 'C', team: standin.teamId });
    // Sync point: a later event's effect is there, so the join above has been handled.
    await standin.archive(GENERAL);
    await vi.waitFor(async () => expect((await stateOf(GENERAL))?.unreachableSince).toBeDefined());
    expect((await stateOf('C0CLUB'))?.unreachableSince).toBeDefined();
  });

  it('marks an archived channel, and unarchiving clears it; a private one (group_*) too', async () => {
    await standin.archive(GENERAL);
    await vi.waitFor(async () => expect(await stateOf(GENERAL)).toMatchObject({ unreachableReason: 'the channel was archived' }));
    await standin.unarchive(GENERAL);
    await vi.waitFor(async () => expect((await stateOf(GENERAL))?.unreachableSince).toBeUndefined());

    const secret = standin.channel('C0SECRET', 'secret');
    secret.isPrivate = true;
    await standin.archive('C0SECRET');
    await vi.waitFor(async () => expect((await stateOf('C0SECRET'))?.unreachableSince).toBeDefined());
    await standin.unarchive('C0SECRET');
    await vi.waitFor(async () => expect((await stateOf('C0SECRET'))?.unreachableSince).toBeUndefined());
    await standin.removeBot('C0SECRET');
    await vi.waitFor(async () => expect((await stateOf('C0SECRET'))?.unreachableReason).toBe('the bot was removed from the channel'));
    expect(standin.calls.map((c) => c.method)).not.toContain('chat.postMessage');
  });

  it('marks a deleted channel', async () => {
    await standin.removeChannel(GENERAL);
    await vi.waitFor(async () => expect(await stateOf(GENERAL)).toMatchObject({ unreachableReason: 'the channel was deleted' }));
    expect(posts()).toBe(0);
  });
});

describe('Slack pushes and workspace admins', () => {
  const notice = { tone: 'info' as const, title: 'BTC moved 5% in 1h' };
  const address = (channel: string) => `slack:${standin.teamId}:${channel}`;

  it('an archived channel, one the bot was removed from, or a deleted one is gone', async () => {
    standin.channel('C0ARCHIVE', 'old-news').archived = true;
    standin.channel('C0KICKED', 'private-club').botRemoved = true;
    expect(await slack.deliverToChat(address('C0ARCHIVE'), notice)).toEqual({ status: 'gone', reason: 'is_archived' });
    expect(await slack.deliverToChat(address('C0KICKED'), notice)).toEqual({ status: 'gone', reason: 'not_in_channel' });
    standin.deleteChannel(GENERAL);
    expect(await slack.deliverToChat(address(GENERAL), notice)).toEqual({ status: 'gone', reason: 'channel_not_found' });
  });

  it('a user gone from the workspace is gone; a server error outlasting the retries is failed, and the next push goes through', async () => {
    const gone: LinkedIdentity = { key: `slack:${standin.teamId}:U0NOBODY`, platform: 'slack', username: 'nobody', linkedAt: 0 };
    expect(await slack.deliverToUser(gone, notice)).toEqual({ status: 'gone', reason: 'user_not_found' });

    const bot = await makeBot({ senderTuning: { backoffMs: 1, maxTransientAttempts: 3 } });
    standin.fail('chat.postMessage', { count: 3, status: 503 });
    expect(await bot.deliverToChat(address(GENERAL), notice)).toMatchObject({ status: 'failed' });
    expect(standin.callsTo('chat.postMessage').map((c) => c.status)).toEqual([503, 503, 503]);
    expect(await bot.deliverToChat(address(GENERAL), notice)).toEqual({ status: 'sent' });
  });

  it("a push is tried even where this process remembers the channel as dead: the store decides", async () => {
    const club = standin.channel('C0CLUB', 'club');
    club.botRemoved = true;
    expect(await slack.deliverToChat(address('C0CLUB'), notice)).toMatchObject({ status: 'gone' });
    club.botRemoved = false; // invited back; this process heard nothing of it
    expect(await slack.deliverToChat(address('C0CLUB'), notice)).toEqual({ status: 'sent' });
  });

  it('asks users.info whether a caller in a channel is a workspace admin or owner; never in a DM', async () => {
    standin.user('U0ADMIN', 'ada', { isAdmin: true });
    standin.user('U0OWNER', 'olga', { isOwner: true });
    standin.user('U0PRIME', 'pat', { isPrimaryOwner: true });
    const dispatch = core.core.dispatcher.dispatch.bind(core.core.dispatcher);
    const seen: IncomingCommand[] = [];
    vi.spyOn(core.core.dispatcher, 'dispatch').mockImplementation(async (input) => {
      seen.push(input);
      return dispatch(input);
    });
    const asks = async (user: string, channel = GENERAL) => {
      await pulse(user, 'price btc', channel);
      return seen.at(-1)!.isChatAdmin;
    };
    const before = standin.callsTo('users.info').length;
    const byAnn = (await asks(ANN))!;
    expect(standin.callsTo('users.info')).toHaveLength(before); // asked only when a command wants to know
    expect(await byAnn()).toBe(false);
    expect(await byAnn()).toBe(false);
    expect(standin.callsTo('users.info')).toHaveLength(before + 1); // once per request
    expect(standin.callsTo('users.info').at(-1)!.params.user).toBe(ANN);
    for (const admin of ['U0ADMIN', 'U0OWNER', 'U0PRIME']) expect(await (await asks(admin))!(), admin).toBe(true);
    expect(await asks(ANN, standin.dmChannel(ANN))).toBeUndefined();

    // Slack cannot be asked: not an admin.
    standin.fail('users.info', { count: 5, status: 500 });
    expect(await (await asks('U0ADMIN'))!()).toBe(false);
    vi.restoreAllMocks();
  });
});

describe('Slack bot on Enterprise Grid', () => {
  it('keys a person by workspace and user id from Grid payloads, for commands and button presses alike', async () => {
    await standin.close();
    standin = await startSlackStandin({ enterpriseId: 'E0GRID', teamId: 'T0GRIDWS' });
    standin.user(ANN, 'ann');
    standin.channel(GENERAL, 'general');
    await slack.stop();
    slack = await makeBot();
    await signup(ANN, 'ann');
    expect((await core.store.findIdentity(`slack:T0GRIDWS:${ANN}`))?.username).toBe('ann');
    // A press from the same person on a Grid message is theirs: the confirm goes through.
    const { invocation } = await pulse(ANN, 'buy btc $2000');
    const prompt = messageOf(invocation);
    const press = await standin.blockAction(ANN, prompt, actionIdOf(prompt, 'Confirm'));
    expect(textOf(await answerOf(press.invocation))).toMatch(/Bought/);
    expect(await transactions('ann')).toHaveLength(1);
  });
});
