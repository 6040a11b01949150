/**
 * One HTTP server on PORT for every platform that takes HTTP: the Telegram webhook and Slack's
 * /slack/events, built from configuration (loadConfig → src/adapters.ts) in one process, both
 * answer through their stand-ins on the same port; any other path is 404, and the server closes
 * with the last adapter that uses it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../adapters/shared/http-server';
import type { ChatAdapter } from '../core/chat-adapter';
import type { Logger } from '../core/ports';
import { configuredChatAdapters, sharedHttpServer, startChatAdapters, stopChatAdapters } from '../src/adapters';
import { loadConfig } from '../src/config';
import { makeTestBot, type TestBot } from './support/harness';
import { startSlackStandin, textOf, type SlackStandin } from './support/slack-standin';
import { startTelegramStandin, type TelegramStandin } from './support/telegram-standin';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const PUBLIC_URL = 'https://bot.example.com/telegram/hook-3f9a';
const SECRET = 'webhook_Secret-42';

let core: TestBot;
let tg: TelegramStandin;
let slack: SlackStandin;
let adapters: ChatAdapter[];
let base: string;

beforeEach(async () => {
  core = await makeTestBot();
  tg = await startTelegramStandin({ now: () => core.clock.now() });
  slack = await startSlackStandin();
  const config = loadConfig({
    TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, TELEGRAM_WEBHOOK_URL: PUBLIC_URL, TELEGRAM_WEBHOOK_SECRET: SECRET,
    SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: slack.signingSecret, SLACK_API_URL: slack.apiUrl,
    HOST: '127.0.0.1', PORT: '0',
  });
  const http = sharedHttpServer(config, quiet);
  adapters = configuredChatAdapters(config, core.core, quiet, http);
  expect(adapters.map((a) => a.platform)).toEqual(['telegram', 'slack']);
  await startChatAdapters(adapters);
  base = http.url();
  tg.webhookTarget = `${base}/telegram/hook-3f9a`;
  slack.requestUrl = `${base}/slack/events`;
});

afterEach(async () => {
  await stopChatAdapters(adapters);
  await tg.close();
  await slack.close();
  await core.close();
});

async function telegramSays(text: string): Promise<string> {
  const ann = tg.user(3001, 'Ann');
  const before = tg.botMessages(ann.id).length;
  const { webhookStatus } = await tg.send(ann, text);
  expect(webhookStatus).toBe(200);
  return (await tg.waitFor(() => tg.botMessages(ann.id)[before])).text;
}

async function slackSays(text: string): Promise<string> {
  const { status, invocation } = await slack.slashCommand('U0BOB', 'C0GENERAL', '/pulse', text);
  expect(status).toBe(200);
  const post = await slack.waitFor(() => slack.responsesOf(invocation)[0]);
  return textOf(post.body);
}

describe('one HTTP server for Telegram and Slack', () => {
  it('serves the Telegram webhook and /slack/events on the same port, both answering', async () => {
    expect(tg.calls.find((c) => c.method === 'setWebhook')?.params).toMatchObject({ url: PUBLIC_URL, secret_token: SECRET });
    expect(await telegramSays('/signup ann ann@example.com')).toContain('Welcome, ann!');
    expect(await slackSays('signup bob bob@example.com')).toContain('Welcome, bob!');
    expect(await slackSays('price btc')).toMatch(/BTC/);
    expect(await telegramSays('/price btc')).toMatch(/BTC/);
  });

  it('keeps each path its own checks, and answers 404 elsewhere', async () => {
    expect((await fetch(`${base}/nowhere`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(404);
    // Telegram's secret token and Slack's signature are still required on their paths.
    expect((await fetch(`${base}/telegram/hook-3f9a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await slack.slashCommand('U0BOB', 'C0GENERAL', '/pulse', 'price btc', { signature: 'bad' })).status).toBe(401);
    expect((await fetch(`${base}/slack/events`)).status).toBe(405);
  });

  it('stays up while one adapter runs: a stopped one\'s path is 404, and the last one closes it', async () => {
    const [telegram, slackBot] = adapters;
    await slackBot!.stop();
    expect((await fetch(`${base}/slack/events`, { method: 'POST', body: '' })).status).toBe(404);
    expect(await telegramSays('/signup ann ann@example.com')).toContain('Welcome, ann!');
    await telegram!.stop();
    await expect(fetch(`${base}/telegram/hook-3f9a`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe('the shared HTTP server', () => {
  it('routes by exact path, refuses a path mounted twice, and listens only while something is mounted', async () => {
    const http = createHttpServer({ port: 0, host: '127.0.0.1' });
    expect(http.address()).toBeUndefined();
    await http.mount('/a', (_req, res) => void res.end('a'));
    await http.mount('/b', (_req, res) => void res.end('b'));
    await expect(http.mount('/a', (_req, res) => void res.end('again'))).rejects.toThrow(/already/);
    const url = http.url();
    expect(await (await fetch(`${url}/a?x=1`)).text()).toBe('a');
    expect(await (await fetch(`${url}/b`)).text()).toBe('b');
    expect((await fetch(`${url}/a/more`)).status).toBe(404);
    await http.unmount('/a');
    expect((await fetch(`${url}/a`)).status).toBe(404);
    await http.unmount('/b');
    expect(http.address()).toBeUndefined();
    await expect(fetch(`${url}/b`)).rejects.toThrow();
    // Mounting again listens again.
    await http.mount('/c', (_req, res) => void res.end('c'));
    expect(await (await fetch(`${http.url()}/c`)).text()).toBe('c');
    await http.unmount('/c');
  });
});
