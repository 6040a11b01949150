/**
 * The Telegram bot in webhook mode: the bot serves the webhook's path on its own HTTP server, tells
 * the Bot API (the stand-in) to post there with a secret token, and refuses requests without it.
 * The stand-in posts updates to the bot's loopback address as Telegram would post to the public URL.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import type { Logger } from '../core/ports';
import { loadConfig } from '../src/config';
import { makeTestBot, type TestBot } from './support/harness';
import { startTelegramStandin, type StandinMessage, type StandinUser, type TelegramStandin } from './support/telegram-standin';

const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };
const PUBLIC_URL = 'https://bot.example.com/telegram/hook-3f9a';
const SECRET = 'webhook_Secret-42';

const quietLogger = (): Logger & { warnings: string[] } => {
  const warnings: string[] = [];
  return { warnings, info: () => {}, warn: (_obj, msg) => void warnings.push(msg ?? ''), error: (_obj, msg) => void warnings.push(msg ?? '') };
};

let standin: TelegramStandin;
let core: TestBot;
let tg: TelegramBot;
let logger: ReturnType<typeof quietLogger>;
let local: string;
let ann: StandinUser;

beforeEach(async () => {
  core = await makeTestBot();
  standin = await startTelegramStandin({ now: () => core.clock.now() });
  logger = quietLogger();
  tg = createTelegramBot({
    token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger, limits: UNLIMITED,
    webhook: { url: PUBLIC_URL, secret: SECRET, port: 0, host: '127.0.0.1' },
  });
  await tg.start();
  local = `http://127.0.0.1:${tg.webhookAddress()!.port}/telegram/hook-3f9a`;
  standin.webhookTarget = local;
  ann = standin.user(3001, 'Ann');
});

afterEach(async () => {
  await tg.stop();
  await standin.close();
  await core.close();
});

async function say(from: StandinUser, text: string): Promise<StandinMessage> {
  const before = standin.botMessages(from.id).length;
  const { webhookStatus } = await standin.send(from, text);
  expect(webhookStatus).toBe(200);
  return standin.waitFor(() => standin.botMessages(from.id)[before]);
}

/** A raw POST to the webhook, as an attacker (or a misconfigured proxy) would send it. */
function post(url: string, body: unknown, headers: Record<string, string> = {}, method = 'POST') {
  return fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'POST' ? JSON.stringify(body) : undefined });
}

const signupUpdate = (updateId: number) => ({
  update_id: updateId,
  message: {
    // Dated by the bot's clock: a message that old would be refused as too late to act on.
    message_id: 1, date: Math.floor((core ? core.clock.now() : Date.now()) / 1000), text: '/signup eve eve@example.com', entities: [{ type: 'bot_command', offset: 0, length: 7 }],
    from: { id: 6666, is_bot: false, first_name: 'Eve' }, chat: { id: 6666, type: 'private', first_name: 'Eve' },
  },
});

describe('Telegram bot with a webhook', () => {
  it('sets the webhook with its secret token, and never long-polls', async () => {
    const set = standin.calls.find((c) => c.method === 'setWebhook')!;
    expect(set.params).toMatchObject({ url: PUBLIC_URL, secret_token: SECRET, allowed_updates: ['message', 'channel_post', 'callback_query', 'my_chat_member'] });
    expect(standin.webhook).toEqual({ url: PUBLIC_URL, secretToken: SECRET });
    expect((await say(ann, '/signup ann ann@example.com')).text).toContain('Welcome, ann!');
    expect(standin.calls.some((c) => c.method === 'getUpdates' || c.method === 'deleteWebhook')).toBe(false);
  });

  it('refuses requests without the secret token, with a wrong one, on other paths or methods', async () => {
    expect((await post(local, signupUpdate(1))).status).toBe(401);
    expect((await post(local, signupUpdate(2), { 'x-telegram-bot-api-secret-token': 'guess' })).status).toBe(401);
    expect((await post(local.replace('hook-3f9a', 'other'), signupUpdate(3), { 'x-telegram-bot-api-secret-token': SECRET })).status).toBe(404);
    expect((await post(local, undefined, {}, 'GET')).status).toBe(405);
    // None of them ran: Eve has no account and got no message.
    expect(await core.store.getAccount('eve')).toBeNull();
    expect(standin.calls.some((c) => c.method === 'sendMessage')).toBe(false);
    expect(logger.warnings.filter((w) => w.includes('secret token'))).toHaveLength(2);

    // The real thing (Telegram sends the header) works.
    standin.user(6666, 'Eve');
    standin.chat(6666).started = true;
    const ok = await post(local, signupUpdate(4), { 'x-telegram-bot-api-secret-token': SECRET });
    expect(ok.status).toBe(200);
    await standin.waitFor(() => standin.botMessages(6666)[0]);
    expect(await core.store.getAccount('eve')).not.toBeNull();
  });

  it('buys with confirmation through webhook updates, and a redelivered update never trades twice', async () => {
    await say(ann, '/signup ann ann@example.com');
    const prompt = await say(ann, '/buy btc $2500');
    expect(prompt.replyMarkup!.inline_keyboard[0]!.map((b) => b.text)).toEqual(['Confirm', 'Cancel']);
    const press = await standin.press(ann, prompt, 'Confirm');
    expect(press.webhookStatus).toBe(200);
    await standin.waitFor(() => standin.message(ann.id, prompt.messageId)!.text.startsWith('✅ Bought'));

    // Telegram posts an update again when it did not get a 200 in time.
    const count = standin.botMessages(ann.id).length;
    expect(await standin.redeliver(press.updateId)).toBe(200);
    const small = await standin.send(ann, '/buy btc $100');
    expect(await standin.redeliver(small.updateId)).toBe(200);
    await standin.waitFor(() => standin.botMessages(ann.id).length === count + 1);
    expect(standin.botMessages(ann.id)).toHaveLength(count + 1); // one reply for the small buy
    const trades = (await core.store.listTransactions('ann', { limit: 10 })).items;
    expect(trades.map((t) => t.amount)).toEqual(['100', '2500']);
  });

  it('stops serving the webhook when stopped', async () => {
    await tg.stop();
    await expect(post(local, signupUpdate(9), { 'x-telegram-bot-api-secret-token': SECRET })).rejects.toThrow();
    tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger, webhook: { url: PUBLIC_URL, secret: SECRET, port: 0, host: '127.0.0.1' } });
    await tg.start(); // afterEach stops this one
  });

  it('will not run a webhook without a usable secret', () => {
    expect(() => createTelegramBot({ token: standin.token, core: core.core, logger, webhook: { url: PUBLIC_URL, secret: '', port: 0 } })).toThrow(/secret token/);
  });
});

/**
 * The webhook server speaks plain HTTP (TLS ends at a load balancer or reverse proxy), so it must
 * listen only where HOST says. "Other" is an address of this machine the server should not be
 * reachable on: a non-loopback IPv4 address, else the IPv6 loopback.
 */
describe('the webhook server binds to HOST', () => {
  const otherAddress = (() => {
    const all = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined);
    return all.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? all.find((a) => a.address === '::1')?.address;
  })();
  const urlOf = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}/telegram/hook-3f9a`;
  /** Status of an unauthenticated POST (401 from the bot), or the connection error's code. */
  const probe = (host: string, port: number) =>
    post(urlOf(host, port), signupUpdate(1)).then((r) => r.status, (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);

  async function freePort(host: string): Promise<number> {
    const server = createNetServer();
    await new Promise<void>((done, fail) => server.once('error', fail).listen(0, host, done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    return port;
  }

  it('defaults to loopback in configuration, and refuses a malformed HOST', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(() => loadConfig({ HOST: 'every interface' })).toThrow(/HOST/);
  });

  it('listens on loopback only by default, and on every interface when told', async () => {
    const quiet = quietLogger();
    const loopback = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger: quiet, webhook: { url: PUBLIC_URL, secret: SECRET, port: 0 } });
    await loopback.start();
    try {
      const { address, port } = loopback.webhookAddress()!;
      expect(address).toBe('127.0.0.1');
      expect(await probe('127.0.0.1', port)).toBe(401);
      if (otherAddress) expect(await probe(otherAddress, port)).toBe('ECONNREFUSED');
    } finally {
      await loopback.stop();
    }

    const everywhere = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger: quiet, webhook: { url: PUBLIC_URL, secret: SECRET, port: 0, host: '0.0.0.0' } });
    await everywhere.start();
    try {
      const { address, port } = everywhere.webhookAddress()!;
      expect(address).toBe('0.0.0.0');
      expect(await probe('127.0.0.1', port)).toBe(401);
      if (otherAddress && !otherAddress.includes(':')) expect(await probe(otherAddress, port)).toBe(401);
    } finally {
      await everywhere.stop();
    }
  });

  it.skipIf(!otherAddress)('npm start listens on HOST:PORT from the environment, and nowhere else', async () => {
    const host = otherAddress!;
    const port = await freePort(host);
    const dataDir = mkdtempSync(join(tmpdir(), 'cp-webhook-host-'));
    const setWebhooks = () => standin.calls.filter((c) => c.method === 'setWebhook').length;
    const before = setWebhooks();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: resolve(import.meta.dirname, '..'),
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PRICE_FEED: 'simulated', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
        TELEGRAM_BOT_TOKEN: standin.token, TELEGRAM_API_ROOT: standin.apiRoot,
        TELEGRAM_WEBHOOK_URL: PUBLIC_URL, TELEGRAM_WEBHOOK_SECRET: SECRET, HOST: host, PORT: String(port),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    try {
      // setWebhook comes after the server listens.
      await standin.waitFor(() => setWebhooks() > before, 30_000);
      expect(await probe(host, port)).toBe(401);
      expect(await probe('127.0.0.1', port)).toBe('ECONNREFUSED');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(stderr).not.toMatch(/"level":50/);
  }, 60_000);
});
