/**
 * The chat adapter contract (core/chat-adapter.ts), proven across platforms: a fired alert reaches
 * a user linked on two platforms through two adapters (the real Telegram adapter against the Bot
 * API stand-in, and a small adapter written here for a second platform), a platform that is not
 * running is skipped without failing the others, and a message goes into a Telegram group by its
 * prefixed chat id. Every adapter here also passes the same contract checks.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConsoleChat } from '../adapters/console/console-chat';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import { alertPipeline } from './support/alerts';
import { addressOn, type ChatAdapter, type ChatCapabilities } from '../core/chat-adapter';
import type { IdentityRef, LinkedIdentity } from '../core/domain';
import { renderPlainText, type RichMessage } from '../core/messages';
import type { Delivery, Logger } from '../core/ports';
import { configuredChatAdapters, startChatAdapters } from '../src/adapters';
import { deliverThroughAdapters } from '../src/chat-delivery';
import { loadConfig } from '../src/config';
import { makeTestBot, type TestBot } from './support/harness';
import { startTelegramStandin, type StandinUser, type TelegramStandin } from './support/telegram-standin';

const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };

/**
 * A second platform shaped like Discord: user ids are not channel ids, so delivering to a person
 * opens a DM channel first (once per user, as Discord's API does), and it only posts while
 * running. Its intake hands typed lines to the core's dispatcher, as a real adapter would.
 */
class DmPlatform implements ChatAdapter {
  readonly platform = 'discord' as const;
  readonly capabilities: ChatCapabilities = { buttons: true, images: true, privateReplies: 'ephemeral', maxMessageLength: 2000 };
  readonly posts: Array<{ channel: string; text: string }> = [];
  readonly dmsOpened: string[] = [];
  private readonly dms = new Map<string, string>();
  private running = false;
  private sequence = 0;

  constructor(private readonly bot: TestBot) {}

  async start() {
    this.running = true;
  }
  async stop() {
    this.running = false;
  }
  /** A user types into their DM with the bot; resolves with the core's reply. */
  async receive(userId: string, text: string): Promise<RichMessage> {
    const identity: IdentityRef = { platform: 'discord', userId };
    const result = await this.bot.core.dispatcher.dispatch({ identity, chat: { type: 'private', id: `discord:dm-${userId}` }, text, messageId: `d${++this.sequence}` });
    return result.message;
  }
  async deliverToUser(identity: LinkedIdentity, message: RichMessage): Promise<Delivery> {
    const userId = identity.platform === 'discord' ? addressOn('discord', identity.key) : undefined;
    if (!userId || !this.running) return { status: 'failed', reason: 'not mine or not running' };
    let channel = this.dms.get(userId);
    if (!channel) {
      channel = `dm-${userId}`;
      this.dms.set(userId, channel);
      this.dmsOpened.push(userId);
    }
    return this.deliverToChat(`discord:${channel}`, message);
  }
  async deliverToChat(chatId: string, message: RichMessage): Promise<Delivery> {
    const channel = addressOn('discord', chatId);
    if (!channel || !this.running) return { status: 'failed', reason: 'not mine or not running' };
    this.posts.push({ channel, text: renderPlainText(message) });
    return { status: 'sent' };
  }
}

function recordingLogger(): Logger & { lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

let bot: TestBot;
let standin: TelegramStandin;
let tg: TelegramBot;
let discord: DmPlatform;
let logger: ReturnType<typeof recordingLogger>;
let tom: StandinUser;

beforeEach(async () => {
  // One log for the core and the adapters: the alert engine says how many chats it reached.
  logger = recordingLogger();
  bot = await makeTestBot({ logger });
  bot.feed.set('bitcoin', '50000');
  standin = await startTelegramStandin({ now: () => bot.clock.now() });
  tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: bot.core, logger, limits: UNLIMITED });
  discord = new DmPlatform(bot);
  await Promise.all([tg.start(), discord.start()]);
  tom = standin.user(3001, 'Tom');
});

afterEach(async () => {
  await Promise.all([tg.stop(), discord.stop()]);
  await standin.close();
  await bot.close();
});

/** Tom signs up on the second platform and links his Telegram account with a /link code. */
async function linkTomOnBothPlatforms(): Promise<void> {
  expect(renderPlainText(await discord.receive('900', '/signup tom tom@example.com'))).toContain('Welcome, tom!');
  const { linkCode } = await discord.receive('900', '/link');
  expect(linkCode).toMatch(/^[A-Za-z0-9]{8}$/);
  await standin.send(tom, `/link ${linkCode}`);
  await standin.waitFor(() => standin.botMessages(tom.id)[0]);
  expect((await bot.store.listIdentities('tom')).map((i) => i.key).sort()).toEqual(['discord:900', 'telegram:3001']);
}

async function setAlert(): Promise<void> {
  await discord.receive('900', '/alert btc above 55000');
  expect(await bot.store.listAlerts('tom')).toHaveLength(1);
}

describe('chat adapters', () => {
  it('a fired alert reaches a user linked on two platforms, through both adapters', async () => {
    await linkTomOnBothPlatforms();
    await setAlert();
    bot.feed.set('bitcoin', '56000');
    const { engine, worker } = alertPipeline(bot.core.services, deliverThroughAdapters([tg, discord], logger));

    expect((await engine.tick()).fired).toBe(1);
    expect(await worker.runOnce()).toMatchObject({ delivered: 2, failed: 0, retried: 0 });
    const pushed = await standin.waitFor(() => standin.botMessages(tom.id)[1]);
    expect(pushed.text).toMatch(/BTC is above \$55,000\.00/);
    // On the DM platform the adapter opened Tom's DM itself, then posted there.
    expect(discord.dmsOpened).toEqual(['900']);
    expect(discord.posts).toEqual([{ channel: 'dm-900', text: expect.stringMatching(/BTC is above \$55,000\.00/) }]);
  });

  it('skips an identity whose platform is not running, and still reaches the others', async () => {
    await linkTomOnBothPlatforms();
    // Tom also linked Slack, which this instance does not run.
    const code = (await discord.receive('900', '/link')).linkCode!;
    const slack: IdentityRef = { platform: 'slack', workspace: 'T1', userId: 'U9' };
    await bot.core.dispatcher.dispatch({ identity: slack, chat: { type: 'private', id: 'slack:T1:D9' }, text: `/link ${code}`, messageId: 's1' });
    expect((await bot.store.listIdentities('tom')).map((i) => i.key)).toContain('slack:T1:U9');
    await setAlert();
    bot.feed.set('bitcoin', '56000');

    const { engine, worker } = alertPipeline(bot.core.services, deliverThroughAdapters([tg, discord], logger));
    expect((await engine.tick()).fired).toBe(1);
    // Slack's copy is not lost: it waits in the outbox for an instance that runs Slack.
    expect(await worker.runOnce()).toMatchObject({ delivered: 2, retried: 1, failed: 0 });
    await standin.waitFor(() => standin.botMessages(tom.id)[1]);
    expect(discord.posts).toHaveLength(1);
    expect(logger.lines.filter((l) => l.level === 'debug')).toEqual([
      { level: 'debug', msg: expect.stringContaining('skipped'), obj: { identity: 'slack:T1:U9', platform: 'slack' } },
    ]);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('an adapter that stopped is skipped too: the running one still delivers', async () => {
    await linkTomOnBothPlatforms();
    await setAlert();
    await discord.stop();
    bot.feed.set('bitcoin', '56000');

    const { engine, worker } = alertPipeline(bot.core.services, deliverThroughAdapters([tg, discord], logger));
    expect((await engine.tick()).fired).toBe(1);
    expect(await worker.runOnce()).toMatchObject({ delivered: 1, retried: 1, failed: 0 });
    expect((await standin.waitFor(() => standin.botMessages(tom.id)[1])).text).toMatch(/BTC is above/);
    expect(discord.posts).toEqual([]);
  });

  it('delivers into a Telegram group by its prefixed chat id', async () => {
    const group = standin.group({ id: -100123, title: 'Traders' });
    expect(await tg.deliverToChat('telegram:-100123', { tone: 'info', title: 'Maintenance at 13:00 UTC', text: 'Trading pauses for 5 minutes.' })).toEqual({ status: 'sent' });
    const posted = standin.botMessages(group.id);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.text).toContain('Maintenance at 13:00 UTC');
    expect(posted[0]!.text).toContain('Trading pauses for 5 minutes.');
  });

  it('reports a Telegram delivery that cannot happen as gone, without throwing', async () => {
    const group = standin.group({ id: -100456 });
    await standin.membership(group.id, 'kicked');
    await standin.waitFor(() => tg.sender.isDead(group.id));
    expect(await tg.deliverToChat('telegram:-100456', { tone: 'info', text: 'hello?' })).toEqual({ status: 'gone', reason: 'Forbidden: bot was kicked from the supergroup chat' });
    // Tom never opened a private chat with the bot: Telegram refuses, so the bot cannot write there.
    const never: LinkedIdentity = { key: 'telegram:3001', platform: 'telegram', username: 'tom', linkedAt: 0 };
    expect(await tg.deliverToUser(never, { tone: 'info', text: 'alert' })).toEqual({ status: 'gone', reason: "Forbidden: bot can't initiate conversation with a user" });
  });

  it('routes a push into a group, channel or topic to the adapter of its platform, by its posting address', async () => {
    const forum = standin.group({ id: -100457, forum: true });
    forum.topics.add(3);
    const chats = deliverThroughAdapters([tg, discord], logger);
    const message: RichMessage = { tone: 'info', text: 'BTC moved 5% in 1h' };
    expect(await chats.deliverToChat('telegram:-100457/3', message)).toEqual({ status: 'sent' });
    expect(standin.botMessages(forum.id)).toMatchObject([{ threadId: 3, text: 'BTC moved 5% in 1h' }]);
    expect(await chats.deliverToChat('discord:c42', message)).toEqual({ status: 'sent' });
    expect(discord.posts).toEqual([{ channel: 'c42', text: 'BTC moved 5% in 1h' }]);
    // Not running here: worth trying again (another instance may run it), never thrown.
    expect(await chats.deliverToChat('slack:T1:C9', message)).toEqual({ status: 'failed', reason: 'no slack adapter running here' });
    expect(await chats.deliver({ key: 'slack:T1:U9', platform: 'slack', username: 'x', linkedAt: 0 }, message)).toEqual({ status: 'failed', reason: 'no slack adapter running here' });
    expect(await chats.deliverToChat('nowhere', message)).toMatchObject({ status: 'failed' });
  });

  it('an adapter that throws (breaking the contract) is a failed delivery, logged, and the others carry on', async () => {
    const broken: ChatAdapter = {
      platform: 'slack', capabilities: discord.capabilities, start: async () => {}, stop: async () => {},
      deliverToUser: async () => { throw new Error('socket hang up'); }, deliverToChat: async () => { throw new Error('socket hang up'); },
    };
    const chats = deliverThroughAdapters([discord, broken], logger);
    expect(await chats.deliverToChat('slack:T1:C9', { tone: 'info', text: 'x' })).toEqual({ status: 'failed', reason: 'socket hang up' });
    expect(logger.lines.find((l) => l.msg === 'chat adapter threw while delivering')?.obj).toMatchObject({ chatAddress: 'slack:T1:C9', platform: 'slack' });
    expect(await chats.deliverToChat('discord:c1', { tone: 'info', text: 'x' })).toEqual({ status: 'sent' });
  });
});

describe('every adapter keeps the contract', () => {
  const otherPlatforms: Record<string, { identity: LinkedIdentity; chatId: string }> = {
    telegram: { identity: { key: 'discord:5', platform: 'discord', username: 'x', linkedAt: 0 }, chatId: 'discord:5' },
    discord: { identity: { key: 'telegram:5', platform: 'telegram', username: 'x', linkedAt: 0 }, chatId: 'telegram:5' },
    console: { identity: { key: 'telegram:5', platform: 'telegram', username: 'x', linkedAt: 0 }, chatId: 'telegram:5' },
  };

  function consoleChat() {
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk) => (printed += chunk));
    const chat = createConsoleChat({ dispatcher: bot.core.dispatcher, input: new PassThrough(), output, user: 'ann', sessionId: 't', interactive: false });
    return { chat, printed: () => printed };
  }

  it('refuses another platform\'s addresses as failed, and never sends there', async () => {
    const terminal = consoleChat();
    for (const adapter of [tg, discord, terminal.chat] as ChatAdapter[]) {
      const other = otherPlatforms[adapter.platform]!;
      const message: RichMessage = { tone: 'info', text: 'not for you' };
      expect(await adapter.deliverToUser(other.identity, message), adapter.platform).toMatchObject({ status: 'failed' });
      expect(await adapter.deliverToChat(other.chatId, message), adapter.platform).toMatchObject({ status: 'failed' });
      expect(await adapter.deliverToChat(`${adapter.platform}:`, message), adapter.platform).toMatchObject({ status: 'failed' });
      expect(adapter.capabilities.maxMessageLength, adapter.platform).toBeGreaterThan(0);
    }
    expect(standin.calls.filter((c) => c.method.startsWith('send'))).toEqual([]);
    expect(discord.posts).toEqual([]);
    expect(terminal.printed()).toBe('');
  });

  it('the Telegram adapter says it is connected while it runs, for readiness (/readyz)', async () => {
    expect(tg.connected?.()).toBe(true);
    await tg.stop();
    expect(tg.connected?.()).toBe(false);
  });

  it('the terminal chat prints a delivered message to its output, addressed to whom it is for', async () => {
    const terminal = consoleChat();
    const ann: LinkedIdentity = { key: 'console:ann', platform: 'console', username: 'ann', linkedAt: 0 };
    expect(await terminal.chat.deliverToUser(ann, { tone: 'warning', title: 'BTC is above $55,000.00' })).toEqual({ status: 'sent' });
    expect(await terminal.chat.deliverToChat('console:group', { tone: 'info', text: 'Hello, group' })).toEqual({ status: 'sent' });
    expect(terminal.printed()).toBe('[to console:ann]\nBTC is above $55,000.00\n\n[to console:group]\nHello, group\n\n');
  });

  it('the terminal chat finishes the command in flight at stop, and takes none of the lines after it', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk) => (printed += chunk));
    // /about is held in the dispatcher until the test lets it go, so stop() comes while it runs
    // and /coins has been read but not taken.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const dispatcher = bot.core.dispatcher;
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    const taken: string[] = [];
    vi.spyOn(dispatcher, 'dispatch').mockImplementation(async (command) => {
      const text = 'text' in command ? command.text : '(structured)';
      taken.push(text);
      if (text === '/about') await gate;
      return dispatch(command);
    });
    const chat = createConsoleChat({ dispatcher, input, output, user: 'ann', sessionId: 't', interactive: false });
    await chat.start();
    input.write('/about\n/coins\n');
    await expect.poll(() => taken).toEqual(['/about']);
    const stopped = chat.stop();
    release();
    await stopped;
    expect(printed).toContain('CryptoPulse');
    expect(taken).toEqual(['/about']);
    await chat.ended; // stop() ends it, as the end of the input would
  });
});

describe('which adapters run (src/adapters.ts)', () => {
  it('builds an adapter for each platform whose configuration is present, and none otherwise', () => {
    expect(configuredChatAdapters(loadConfig({}), bot.core, logger)).toEqual([]);
    const configured = configuredChatAdapters(loadConfig({ TELEGRAM_BOT_TOKEN: standin.token, TELEGRAM_API_ROOT: standin.apiRoot }), bot.core, logger);
    expect(configured.map((a) => a.platform)).toEqual(['telegram']);
  });

  it('when one adapter cannot start, stops those that did and reports the failure', async () => {
    const other = new DmPlatform(bot);
    const broken: ChatAdapter = {
      platform: 'slack', capabilities: other.capabilities, start: async () => { throw new Error('bad token'); }, stop: async () => {},
      deliverToUser: async () => ({ status: 'failed', reason: 'never started' }), deliverToChat: async () => ({ status: 'failed', reason: 'never started' }),
    };
    await expect(startChatAdapters([other, broken])).rejects.toThrow('bad token');
    // Stopped again: it no longer delivers.
    expect(await other.deliverToChat('discord:c1', { tone: 'info', text: 'x' })).toMatchObject({ status: 'failed' });
    await other.start();
    expect(await other.deliverToChat('discord:c1', { tone: 'info', text: 'x' })).toEqual({ status: 'sent' });
  });
});
