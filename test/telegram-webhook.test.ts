/**
 * The Telegram bot in webhook mode: the bot serves the webhook's path on its own HTTP server, tells
 * the Bot API (the stand-in) to post there with a secret token, and refuses requests without it.
 * The stand-in posts updates to the bot's loopback address as Telegram would post to the public URL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import type { Logger } from '../core/ports';
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
  standin = await startTelegramStandin();
  core = await makeTestBot();
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
    message_id: 1, date: 1, text: '/signup eve eve@example.com', entities: [{ type: 'bot_command', offset: 0, length: 7 }],
    from: { id: 6666, is_bot: false, first_name: 'Eve' }, chat: { id: 6666, type: 'private', first_name: 'Eve' },
  },
});

describe('Telegram bot with a webhook', () => {
  it('sets the webhook with its secret token, and never long-polls', async () => {
    const set = standin.calls.find((c) => c.method === 'setWebhook')!;
    expect(set.params).toMatchObject({ url: PUBLIC_URL, secret_token: SECRET, allowed_updates: ['message', 'callback_query', 'my_chat_member'] });
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
