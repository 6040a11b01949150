/**
 * The Telegram adapter's side of pushes and group administration, end to end against the Bot API
 * stand-in: what a push reports (sent / gone / failed) for blocked users, removed bots, deleted
 * forum topics and a server that keeps failing; posting into a forum topic by its posting
 * address; pushes that the process's own memory of dead chats does not block; who administers a
 * group (getChatMember, anonymous admins); and commands posted in a channel, answered there.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import type { IncomingCommand } from '../core/dispatcher';
import type { LinkedIdentity } from '../core/domain';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';
import { startTelegramStandin, type StandinMessage, type StandinUser, type TelegramStandin } from './support/telegram-standin';

const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };

let standin: TelegramStandin;
let core: TestBot;
let tg: TelegramBot;
let ann: StandinUser;
let bob: StandinUser;
/** Every command the adapter handed to the core, as it handed it. */
let dispatched: IncomingCommand[];

beforeEach(async () => {
  core = await makeTestBot();
  standin = await startTelegramStandin({ now: () => core.clock.now() });
  // Retries shortened so that a failure outlasting them takes milliseconds, not seconds.
  tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger: silentLogger, limits: UNLIMITED, senderTuning: { backoffMs: 1, maxTransientAttempts: 3 } });
  const dispatch = core.core.dispatcher.dispatch.bind(core.core.dispatcher);
  dispatched = [];
  vi.spyOn(core.core.dispatcher, 'dispatch').mockImplementation(async (input) => {
    dispatched.push(input);
    return dispatch(input);
  });
  await tg.start();
  ann = standin.user(1001, 'Ann');
  bob = standin.user(1002, 'Bob');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await tg.stop();
  await standin.close();
  await core.close();
});

const identity = (user: StandinUser): LinkedIdentity => ({ key: `telegram:${user.id}`, platform: 'telegram', username: user.first_name.toLowerCase(), linkedAt: 0 });
const alert = { tone: 'info' as const, title: 'BTC is above $55,000.00' };
const sendsTo = (chatId: number) => standin.calls.filter((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === chatId);

/** Someone writes in a chat; resolves with the bot's next message there and what it dispatched. */
async function say(from: StandinUser, text: string, options: { chatId?: number; threadId?: number; asChat?: boolean } = {}): Promise<{ reply: StandinMessage; input: IncomingCommand }> {
  const chatId = options.chatId ?? from.id;
  const before = standin.botMessages(chatId).length;
  await standin.send(from, text, options);
  const reply = await standin.waitFor(() => standin.botMessages(chatId)[before]);
  return { reply, input: dispatched.at(-1)! };
}

describe('Telegram pushes report what happened', () => {
  it('sends to a user who started the bot; a user who blocked it, or never started it, is gone', async () => {
    await say(ann, '/start');
    expect(await tg.deliverToUser(identity(ann), alert)).toEqual({ status: 'sent' });
    expect(standin.botMessages(ann.id).at(-1)!.text).toBe('BTC is above $55,000.00');

    standin.chat(ann.id).blocked = true; // Ann blocks the bot; Telegram answers 403
    expect(await tg.deliverToUser(identity(ann), alert)).toEqual({ status: 'gone', reason: 'Forbidden: bot was blocked by the user' });
    expect(await tg.deliverToUser(identity(bob), alert)).toEqual({ status: 'gone', reason: "Forbidden: bot can't initiate conversation with a user" });
  });

  it('a group that removed the bot is gone; an unknown chat is gone; a server failing past the retries is failed', async () => {
    const group = standin.group({ id: -100700, title: 'Traders' });
    expect(await tg.deliverToChat('telegram:-100700', alert)).toEqual({ status: 'sent' });

    standin.chat(group.id).kicked = true; // removed without the bot hearing of it yet
    expect(await tg.deliverToChat('telegram:-100700', alert)).toEqual({ status: 'gone', reason: 'Forbidden: bot was kicked from the supergroup chat' });
    expect(await tg.deliverToChat('telegram:-100999', alert)).toEqual({ status: 'gone', reason: 'Bad Request: chat not found' });

    const other = standin.group({ id: -100701 });
    standin.inject({ method: 'sendMessage', chatId: other.id, errorCode: 502, description: 'Bad Gateway', count: 3 });
    expect(await tg.deliverToChat('telegram:-100701', alert)).toEqual({ status: 'failed', reason: 'Bad Gateway' });
    expect(sendsTo(other.id)).toHaveLength(3); // every attempt was made, none got through
    // Worth retrying: once the server recovers, the same push goes through.
    expect(await tg.deliverToChat('telegram:-100701', alert)).toEqual({ status: 'sent' });
  });

  it('posts into a forum topic by its posting address (message_thread_id); a deleted topic is gone, its group is not', async () => {
    const forum = standin.group({ id: -100800, title: 'Forum', forum: true });
    forum.topics.add(7);
    expect(await tg.deliverToChat('telegram:-100800/7', alert)).toEqual({ status: 'sent' });
    const posted = standin.botMessages(forum.id).at(-1)!;
    expect(posted).toMatchObject({ threadId: 7, text: 'BTC is above $55,000.00' });
    expect(sendsTo(forum.id).at(-1)!.params.message_thread_id).toBe(7);

    // Topic 8 does not exist (deleted): that address is gone, and the group itself still takes pushes.
    expect(await tg.deliverToChat('telegram:-100800/8', alert)).toEqual({ status: 'gone', reason: 'Bad Request: message thread not found' });
    expect(await tg.deliverToChat('telegram:-100800', alert)).toEqual({ status: 'sent' });
    expect(tg.sender.isDead(forum.id)).toBe(false);
  });

  it('a command from a forum topic names the topic, so pushes set up there go back into it', async () => {
    const forum = standin.group({ id: -100801, title: 'Forum', forum: true });
    const { reply, input } = await say(ann, '/price btc', { chatId: forum.id, threadId: 9 });
    expect(reply.threadId).toBe(9);
    expect(input.chat).toEqual({ type: 'group', id: 'telegram:-100801', topic: '9' });
    const plain = await say(ann, '/price btc', { chatId: standin.group({ id: -100802 }).id });
    expect(plain.input.chat).toEqual({ type: 'group', id: 'telegram:-100802' });
  });

  it('refuses addresses that are not a Telegram chat or topic, sending nothing', async () => {
    for (const address of ['discord:123', 'telegram:', 'telegram:abc', 'telegram:-100/x', 'telegram:-100/7/8']) {
      expect(await tg.deliverToChat(address, alert), address).toMatchObject({ status: 'failed' });
    }
    expect(standin.calls.filter((c) => c.method === 'sendMessage')).toEqual([]);
  });
});

describe("the sender's memory of dead chats never blocks a push", () => {
  it('a user who blocked the bot and came back through another instance gets their pushes again', async () => {
    await say(ann, '/start');
    await standin.membership(ann.id, 'kicked'); // Ann blocks the bot: this process hears of it
    await standin.waitFor(() => tg.sender.isDead(ann.id));
    // The store knows too, so that every instance's pushes skip her chat.
    await vi.waitFor(async () => expect((await core.store.getChatStates(['telegram:1001'])).get('telegram:1001')?.unreachableSince).toBeDefined());
    // Replies to her (not pushes) are still held back by the memory.
    expect((await tg.post(ann.id, alert))[0]!.status).toBe('dead');

    // She unblocks and writes to another instance: this one hears nothing, the store is cleared there.
    standin.chat(ann.id).blocked = false;
    await core.store.clearUnreachable('telegram:1001');
    expect(await tg.deliverToUser(identity(ann), alert)).toEqual({ status: 'sent' });
    expect(tg.sender.isDead(ann.id)).toBe(false); // and replies flow again too
  });

  it('adding the bot back to a group clears it in the store, and a message from a chat revives it here', async () => {
    const group = standin.group({ id: -100900 });
    await standin.membership(group.id, 'kicked');
    await vi.waitFor(async () => expect((await core.store.getChatStates(['telegram:-100900'])).get('telegram:-100900')?.unreachableSince).toBeDefined());
    await standin.membership(group.id, 'member');
    await vi.waitFor(async () => expect((await core.store.getChatStates(['telegram:-100900'])).get('telegram:-100900')?.unreachableSince).toBeUndefined());
    expect(tg.sender.isDead(group.id)).toBe(false);

    await standin.membership(ann.id, 'kicked');
    await standin.waitFor(() => tg.sender.isDead(ann.id));
    await say(ann, '/about'); // writing to the bot unblocks it
    expect(tg.sender.isDead(ann.id)).toBe(false);
  });
});

describe('Telegram group administrators', () => {
  it('asks getChatMember: the creator and administrators are admins, a plain member is not, a private chat asks nothing', async () => {
    const carl = standin.user(1003, 'Carl');
    const group = standin.group({ id: -100600, title: 'Club', creator: carl.id, admins: [ann.id] });
    const asked = () => standin.calls.filter((c) => c.method === 'getChatMember');

    const byAnn = (await say(ann, '/price btc', { chatId: group.id })).input;
    expect(asked()).toHaveLength(0); // nothing is asked until a command wants to know
    expect(await byAnn.isChatAdmin!()).toBe(true);
    expect(asked().at(-1)!.params).toMatchObject({ chat_id: group.id, user_id: ann.id });
    expect(await byAnn.isChatAdmin!()).toBe(true);
    expect(asked()).toHaveLength(1); // once per message

    expect(await (await say(carl, '/price btc', { chatId: group.id })).input.isChatAdmin!()).toBe(true);
    expect(await (await say(bob, '/price btc', { chatId: group.id })).input.isChatAdmin!()).toBe(false);

    // Demoted: the next message asks again and is told so (nothing remembered across messages).
    group.admins.delete(ann.id);
    expect(await (await say(ann, '/price btc', { chatId: group.id })).input.isChatAdmin!()).toBe(false);

    expect((await say(ann, '/about')).input.isChatAdmin).toBeUndefined();
  });

  it('cannot ask Telegram: not an admin, and the bot goes on', async () => {
    const group = standin.group({ id: -100601, admins: [ann.id] });
    standin.inject({ method: 'getChatMember', errorCode: 500, description: 'Internal Server Error' });
    const { input, reply } = await say(ann, '/price btc', { chatId: group.id });
    expect(reply.text).toContain('Bitcoin price');
    expect(await input.isChatAdmin!()).toBe(false);
  });

  it('an anonymous group admin (GroupAnonymousBot, sender_chat the group) speaks as the group, and is its admin', async () => {
    const group = standin.group({ id: -100602, title: 'Desk' });
    const { reply, input } = await say(ann, '/price btc', { chatId: group.id, asChat: true });
    expect(reply.text).toContain('Bitcoin price');
    expect(input.identity).toEqual({ platform: 'telegram', userId: '-100602' });
    expect(await input.isChatAdmin!()).toBe(true);
    expect(standin.calls.some((c) => c.method === 'getChatMember')).toBe(false);
  });

  it('someone posting on behalf of a channel in a group is told the bot cannot tell who they are', async () => {
    const group = standin.group({ id: -100603 });
    const channel = standin.channel({ id: -100604, title: 'Linked' });
    const before = dispatched.length;
    await standin.send(ann, '/price btc', { chatId: group.id, asChat: channel.id });
    const reply = await standin.waitFor(() => standin.botMessages(group.id)[0]);
    expect(reply.text).toContain('I cannot tell who you are when you post as another chat');
    expect(dispatched).toHaveLength(before); // nothing ran
  });
});

describe('Telegram channels', () => {
  it('answers a command posted in a channel where the bot is an admin, in the channel, as the channel', async () => {
    const news = standin.channel({ id: -1001234, title: 'BTC News' });
    await standin.post(news.id, '/price btc');
    const reply = await standin.waitFor(() => standin.botMessages(news.id)[0]);
    expect(reply.text).toContain('Bitcoin price');
    const input = dispatched.at(-1)!;
    expect(input.identity).toEqual({ platform: 'telegram', userId: '-1001234' });
    expect(input.chat).toEqual({ type: 'group', id: 'telegram:-1001234' });
    // Only a channel's administrators can post in it.
    expect(await input.isChatAdmin!()).toBe(true);
    // Pushes go there by its address too.
    expect(await tg.deliverToChat('telegram:-1001234', alert)).toEqual({ status: 'sent' });
  });

  it('does not show an answer meant for one person in the channel', async () => {
    const news = standin.channel({ id: -1001235 });
    await standin.post(news.id, '/whoami');
    const reply = await standin.waitFor(() => standin.botMessages(news.id)[0]);
    expect(reply.text).toContain('That answer is for one person only');
    expect(reply.text).not.toContain('telegram:-1001235');
  });

  it('a channel where the bot is no longer an admin is gone for pushes', async () => {
    standin.channel({ id: -1001236, botIsAdmin: false });
    expect(await tg.deliverToChat('telegram:-1001236', alert)).toEqual({ status: 'gone', reason: 'Bad Request: need administrator rights in the channel chat' });
  });
});
