/**
 * The Telegram bot end to end: the real telegraf bot, long polling a loopback Bot API stand-in,
 * on a whole core (in-memory SQLite, hand-set prices, manual clock). Assertions are about what a
 * Telegram user would see: the text the stand-in received, buttons, edits in place, which chat
 * (or topic) a reply went to.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import type { Logger } from '../core/ports';
import { countingIds, makeTestBot, type TestBot } from './support/harness';
import { startTelegramStandin, type StandinMessage, type StandinUser, type TelegramStandin } from './support/telegram-standin';

/** The tests check behaviour, not pacing: limits are lifted here (the sender tests cover them). */
const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 }, perGroup: { limit: 10_000, windowMs: 1000 } };
const BOT = 'CryptoPulseTestBot';

function recordingLogger(): Logger & { lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

let standin: TelegramStandin;
let core: TestBot;
let tg: TelegramBot;
let logger: ReturnType<typeof recordingLogger>;
let ann: StandinUser;
let bob: StandinUser;

function startBot(): TelegramBot {
  return createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger, limits: UNLIMITED });
}

beforeEach(async () => {
  core = await makeTestBot();
  standin = await startTelegramStandin({ botUsername: BOT, now: () => core.clock.now() });
  logger = recordingLogger();
  tg = startBot();
  await tg.start();
  ann = standin.user(1001, 'Ann', 'ann_t');
  bob = standin.user(1002, 'Bob');
});

afterEach(async () => {
  await tg.stop();
  await standin.close();
  await core.close();
});

/** A user writes; resolves with the bot's next message in `inChat` (default: where they wrote). */
async function say(from: StandinUser, text: string, options: { chatId?: number; threadId?: number; inChat?: number } = {}): Promise<StandinMessage> {
  const chatId = options.inChat ?? options.chatId ?? from.id;
  const before = standin.botMessages(chatId).length;
  await standin.send(from, text, options);
  return standin.waitFor(() => standin.botMessages(chatId)[before]);
}

async function signup(user: StandinUser, name: string): Promise<void> {
  const reply = await say(user, `/signup ${name} ${name}@example.com`);
  expect(reply.text).toContain(`Welcome, ${name}!`);
}

const buttonsOf = (m: StandinMessage | undefined) => m?.replyMarkup?.inline_keyboard.flat().map((b) => b.text) ?? [];
const transactions = async (username: string) => (await core.store.listTransactions(username, { limit: 100 })).items;

describe('Telegram bot over long polling', () => {
  it('registers its command menus from the registry: private chats and groups apart', async () => {
    const privateMenu = standin.commands({ type: 'all_private_chats' })!;
    const groupMenu = standin.commands({ type: 'all_group_chats' })!;
    const names = (menu: typeof privateMenu) => menu.map((c) => c.command);
    expect(names(privateMenu)).toEqual(expect.arrayContaining(['start', 'help', 'signup', 'login', 'link', 'buy', 'sell', 'portfolio', 'history', 'alert', 'alerts']));
    expect(names(privateMenu)).not.toContain('users'); // staff commands are not in everyone's menu
    expect(names(groupMenu)).toContain('price');
    expect(names(groupMenu)).not.toContain('login');
    expect(names(groupMenu)).not.toContain('link');
    const buy = core.core.registry.commands.find((c) => c.name === 'buy')!;
    expect(privateMenu.find((c) => c.command === 'buy')!.description).toBe(buy.summary);
    // Long polling: getUpdates with a long-poll timeout, and offsets that confirm what was handled.
    const { updateId } = await standin.send(ann, '/start');
    const poll = await standin.waitFor(() => standin.calls.find((c) => c.method === 'getUpdates' && Number(c.params.offset) === updateId + 1));
    expect(poll.params.timeout).toBe(50);
  });

  it('signs up, buys below the threshold at once, and shows the portfolio with a Refresh that edits it in place', async () => {
    await signup(ann, 'ann');
    const bought = await say(ann, '/buy btc $100');
    expect(bought.text).toContain('✅ Bought 0.00114942 BTC');
    expect(bought.html).toContain('<b>Cash balance:</b> $9,900.00');

    const portfolio = await say(ann, '/portfolio');
    expect(portfolio.html).toMatch(/<pre>Coin\s+Quantity/);
    expect(portfolio.text).toMatch(/BTC\s+0\.00114942/);
    expect(buttonsOf(portfolio)).toEqual(['Refresh']);

    core.clock.advance(65_000);
    core.feed.set('bitcoin', '174000'); // doubles
    const sentBefore = standin.botMessages(ann.id).length;
    const press = await standin.press(ann, portfolio, 'Refresh');
    const edited = await standin.waitFor(() => {
      const m = standin.message(ann.id, portfolio.messageId)!;
      return m.history.length === 1 && m;
    });
    expect(edited.text).toContain('$200.00'); // the holding is worth twice as much
    expect(edited.text).toContain('Updated 12:01:05 UTC');
    expect(buttonsOf(edited)).toEqual(['Refresh']);
    expect(standin.botMessages(ann.id)).toHaveLength(sentBefore); // nothing new: the same message changed
    expect(standin.answers.has(press.callbackId)).toBe(true);
  });

  it('asks before a large buy, re-checks the price on Confirm, and never trades twice', async () => {
    await signup(ann, 'ann');
    const prompt = await say(ann, '/buy btc $5000');
    expect(prompt.text).toContain('Confirm: buy about $5,000.00 of BTC?');
    expect(buttonsOf(prompt)).toEqual(['Confirm', 'Cancel']);
    expect(await transactions('ann')).toHaveLength(0);
    const confirmData = prompt.replyMarkup!.inline_keyboard[0]![0]!.callback_data!;
    expect(confirmData).toMatch(/^c:[A-Za-z0-9_-]{16}\.0$/); // a random handle: what it does is in the store

    core.feed.set('bitcoin', '100000'); // the price moves before the press
    const press = await standin.press(ann, prompt, 'Confirm');
    const done = await standin.waitFor(() => standin.message(ann.id, prompt.messageId)!.history.length === 1 && standin.message(ann.id, prompt.messageId)!);
    expect(standin.answers.get(press.callbackId)).toMatchObject({ text: 'Confirmed' });
    expect(done.text).toContain('Bought 0.05 BTC');
    expect(done.text).toContain('Price: $100,000.00');
    expect(done.replyMarkup).toBeUndefined(); // the buttons are gone

    // A second tap on the old Confirm (a double tap, or a stale client) trades nothing.
    const again = await standin.press(ann, prompt, 'Confirm', { data: confirmData });
    await standin.waitFor(() => standin.answers.get(again.callbackId));
    expect(standin.answers.get(again.callbackId)).toEqual({ text: 'Already done.' });
    expect(await transactions('ann')).toHaveLength(1);
  });

  it('cancels, refuses presses by anyone else, and lets confirmations expire', async () => {
    await signup(ann, 'ann');
    const group = standin.group({ id: -100200, title: 'Desk' });
    await standin.send(bob, '/start'); // Bob has a private chat too
    const prompt = await say(ann, '/buy eth $2000', { chatId: group.id });
    expect(buttonsOf(prompt)).toEqual(['Confirm', 'Cancel']);

    const intruder = await standin.press(bob, prompt, 'Confirm');
    await standin.waitFor(() => standin.answers.get(intruder.callbackId));
    expect(standin.answers.get(intruder.callbackId)).toEqual({ text: 'Only the person who sent the command can use these buttons.', show_alert: true });

    await standin.press(ann, prompt, 'Cancel');
    const cancelled = await standin.waitFor(() => standin.message(group.id, prompt.messageId)!.history.length === 1 && standin.message(group.id, prompt.messageId)!);
    expect(cancelled.text).toBe('Cancelled: /buy ethereum $2000 was not run. Nothing changed.');
    expect(await transactions('ann')).toHaveLength(0);

    const late = await say(ann, '/buy eth $2000', { chatId: group.id });
    core.clock.advance(6 * 60_000);
    core.feed.set('ethereum', '2900');
    const press = await standin.press(ann, late, 'Confirm');
    await standin.waitFor(() => standin.answers.get(press.callbackId));
    expect(standin.answers.get(press.callbackId)).toEqual({ text: 'This button has expired: send the command again.', show_alert: true });
    await standin.waitFor(() => !standin.message(group.id, late.messageId)!.replyMarkup); // the dead buttons are removed
    expect(await transactions('ann')).toHaveLength(0);
  });

  it('sells, and pages history with Next / Previous edited in place', async () => {
    await signup(ann, 'ann');
    for (let i = 0; i < 6; i++) await say(ann, '/buy doge $10');
    for (let i = 0; i < 6; i++) await say(ann, '/sell doge 10%');
    const sold = await say(ann, '/sell doge all');
    expect(sold.text).toContain('Sold');
    expect(sold.text).toContain('You receive');

    const page1 = await say(ann, '/history');
    expect(page1.text).toContain('Your transactions, page 1');
    expect(page1.html).toContain('<pre>');
    expect(buttonsOf(page1)).toEqual(['Next »']);
    await standin.press(ann, page1, 'Next »');
    const page2 = await standin.waitFor(() => standin.message(ann.id, page1.messageId)!.text.includes('page 2') && standin.message(ann.id, page1.messageId)!);
    expect(buttonsOf(page2)).toEqual(['« Previous']);
    expect(page2.text.match(/dogecoin/g)).toHaveLength(3); // 13 trades: 10 on page 1, 3 here
    expect(page2.text).not.toContain('Updated'); // only Refresh says when it updated
    await standin.press(ann, page2, '« Previous');
    const back = await standin.waitFor(() => standin.message(ann.id, page1.messageId)!.history.length === 2 && standin.message(ann.id, page1.messageId)!);
    expect(back.text).toContain('page 1');
  });

  it('manages price alerts', async () => {
    await signup(ann, 'ann');
    const set = await say(ann, '/alert btc above 100000');
    const id = /Alert (\w+) set/.exec(set.text)![1]!;
    expect(set.text).toContain('Bitcoin above $100,000.00');
    const list = await say(ann, '/alerts');
    // (The list's wording belongs to the core; what matters here is that it arrives as a table.)
    expect(list.text).toMatch(/Your alerts \(1 live, at most 20\)/);
    expect(list.html).toMatch(new RegExp(`<pre>[^]*${id}\\s+(BTC|bitcoin)\\s+above \\$100,000\\.00`));
    const removed = await say(ann, `/alert remove ${id}`);
    expect(removed.text).toContain(`Alert ${id} removed.`);
    expect((await say(ann, '/alerts')).text).toContain('(nothing yet)');

    // A fired alert (or any notice) reaches the chat through the same sender.
    const outcomes = await tg.post(`telegram:${ann.id}`, { tone: 'warning', title: 'Alert: Bitcoin above $100,000.00', text: 'Now $101,000.00' });
    expect(outcomes.map((o) => o.status)).toEqual(['sent']);
    expect(standin.botMessages(ann.id).at(-1)!.text).toBe('⚠️ Alert: Bitcoin above $100,000.00\n\nNow $101,000.00');
  });

  it('links a console account with a code, redeemed in Telegram through the deep link, and the other way round', async () => {
    await core.signup('carol');
    await core.send('carol', '/buy btc $100');
    const code = (await core.send('carol', '/link')).linkCode!;
    // t.me/<bot>?start=CODE opens the chat and sends /start CODE.
    const linked = await say(ann, `/start ${code}`);
    expect(linked.text).toContain("now uses carol's portfolio");
    expect((await say(ann, '/portfolio')).text).toContain('Portfolio of carol');

    await signup(bob, 'bob');
    const offer = await say(bob, '/link');
    const telegramCode = /^([0-9A-Z]{8})$/m.exec(offer.text)![1]!;
    expect(offer.html).toContain(`<a href="https://t.me/${BOT}?start=${telegramCode}">`);
    expect((await core.send('dave', `/link ${telegramCode}`)).text).toContain("uses bob's portfolio");
    expect((await core.send('dave', '/whoami')).title).toBe('bob');
  });

  it("lists in /help what the caller's role may run, and enforces roles on staff commands", async () => {
    const guestHelp = await say(ann, '/help');
    expect(guestHelp.text).toContain('Commands for a new visitor');
    expect(guestHelp.text).not.toContain('/users');

    await signup(ann, 'ann');
    expect((await say(ann, '/users')).text).toContain('Your role (user) may not run /users.');

    await signup(bob, 'boss');
    await core.store.updateAccount('boss', { role: 'admin' });
    const adminHelp = await say(bob, '/help');
    expect(adminHelp.text).toContain('Commands for a admin');
    expect(adminHelp.text).toContain('/users');
    expect(adminHelp.text).toContain('/role');
    const users = await say(bob, '/users');
    expect(users.text).toMatch(/ann\s+user\s+ann@example\.com/);
    expect((await say(bob, '/role ann moderator')).text).toContain('ann is now moderator (was user).');
    expect((await say(ann, '/activity ann')).text).toContain('Activity of ann, page 1');
    expect((await say(bob, '/buy btc $10')).text).toContain('Only user accounts trade');
    // Staff get their own commands in their private chat's menu (roles are looked up again after a minute).
    core.clock.advance(61_000);
    await say(bob, '/about');
    const menu = await standin.waitFor(() => standin.commands({ type: 'chat', chat_id: bob.id }));
    expect(menu.map((c) => c.command)).toEqual(expect.arrayContaining(['users', 'role', 'stats']));
  });

  it('in groups: answers /cmd@Bot, ignores other bots, refuses private-only commands and deletes a password it may delete', async () => {
    const group = standin.group({ id: -100300, title: 'Crypto club', botIsAdmin: true });
    const price = await say(ann, `/price@${BOT} btc`, { chatId: group.id });
    expect(price.text).toContain('Bitcoin price');
    expect(price.replyTo).toBeDefined(); // a reply to the command, so the group sees whose it is

    await standin.send(ann, '/price@SomeOtherBot btc', { chatId: group.id });
    const next = await say(ann, '/about', { chatId: group.id });
    expect(next.text).toContain('About CryptoPulse');
    expect(standin.botMessages(group.id)).toHaveLength(2); // nothing for the other bot's command

    const sent = await standin.send(ann, '/login ann@example.com hunter2', { chatId: group.id });
    const refusal = await standin.waitFor(() => standin.botMessages(group.id)[2]);
    expect(refusal.text).toContain('/login only works in a private chat with me');
    expect(refusal.replyMarkup!.inline_keyboard.flat()).toContainEqual({ text: 'Open a private chat with me', url: `https://t.me/${BOT}` });
    expect(standin.message(group.id, sent.message.messageId)!.deleted).toBe(true);

    // Where the bot is not an admin, it cannot delete: it says so.
    const plain = standin.group({ id: -100301, title: 'No rights' });
    const kept = await standin.send(ann, '/login ann@example.com hunter2', { chatId: plain.id });
    await standin.waitFor(() => standin.botMessages(plain.id).length === 2);
    expect(standin.message(plain.id, kept.message.messageId)!.deleted).toBe(false);
    expect(standin.botMessages(plain.id).map((m) => m.text).join('\n')).toContain("I can't delete it here");
  });

  it("sends replies meant for one person to their private chat, and says so in the group", async () => {
    const group = standin.group({ id: -100400, title: 'Ops' });
    await signup(bob, 'boss');
    await core.store.updateAccount('boss', { role: 'admin' });
    const notice = await say(bob, '/users', { chatId: group.id });
    expect(notice.text).toBe('📬 Bob, I sent you the answer in our private chat.');
    const dm = standin.botMessages(bob.id).at(-1)!;
    expect(dm.text).toContain('Accounts, page 1');
    expect(standin.botMessages(group.id).map((m) => m.text).join('\n')).not.toContain('@example.com');

    // Someone who never opened a private chat with the bot is told how.
    const stranger = standin.user(1009, 'Zed');
    await say(stranger, '/signup zed zed@example.com', { chatId: group.id });
    const told = await say(stranger, '/whoami', { chatId: group.id });
    expect(told.text).toContain("I can't message you privately yet");
    expect(told.replyMarkup!.inline_keyboard.flat()).toContainEqual({ text: 'Open a private chat with me', url: `https://t.me/${BOT}` });
  });

  it('answers in the forum topic a command came from, and broadcasts to one topic', async () => {
    const forum = standin.group({ id: -100500, title: 'Forum', forum: true });
    const reply = await say(ann, '/price eth', { chatId: forum.id, threadId: 7 });
    expect(reply.threadId).toBe(7);
    expect(reply.text).toContain('Ethereum price');

    standin.chat(forum.id).topics.add(9);
    const report = await tg.broadcast([{ chatId: forum.id, threadId: 9 }, { chatId: ann.id }], { tone: 'info', title: 'Maintenance at 13:00 UTC' });
    expect(report).toMatchObject({ sent: 1, dead: 1 }); // Ann never opened a private chat
    const posted = standin.botMessages(forum.id).at(-1)!;
    expect(posted).toMatchObject({ threadId: 9, text: 'Maintenance at 13:00 UTC' });
  });

  it('never trades twice for a redelivered update: in the same process, after a restart, or after a failure', async () => {
    await signup(ann, 'ann');
    const before = standin.botMessages(ann.id).length;
    const { updateId } = await standin.send(ann, '/buy btc $100');
    await standin.waitFor(() => standin.botMessages(ann.id).length === before + 1);
    await standin.redeliver(updateId);
    await say(ann, '/about'); // a later update is handled, so the redelivery was seen
    expect(standin.botMessages(ann.id)).toHaveLength(before + 2);
    expect(await transactions('ann')).toHaveLength(1);
    expect(logger.lines.some((l) => l.msg?.includes('delivered again') && l.obj.updateId === updateId)).toBe(true);

    // A new process on the same store knows the update too: it is not even answered again.
    await tg.stop();
    tg = startBot();
    await tg.start();
    await standin.redeliver(updateId);
    await say(ann, '/about');
    expect(standin.botMessages(ann.id)).toHaveLength(before + 3);
    expect(await transactions('ann')).toHaveLength(1);

    // An update whose handling failed (here after its trade committed) is given up, so that its
    // redelivery runs; the core's idempotency keeps that from trading twice.
    const dispatch = core.core.dispatcher.dispatch.bind(core.core.dispatcher);
    const spy = vi.spyOn(core.core.dispatcher, 'dispatch').mockImplementationOnce(async (input) => {
      await dispatch(input);
      throw new Error('lost on the way back');
    });
    const { updateId: failed } = await standin.send(ann, '/buy eth $100');
    await standin.waitFor(() => logger.lines.find((l) => l.level === 'error' && l.obj.updateId === failed));
    spy.mockRestore();
    expect(await transactions('ann')).toHaveLength(2);
    await standin.redeliver(failed);
    const again = await standin.waitFor(() => standin.botMessages(ann.id)[before + 3]);
    expect(again.text).toContain('Already done');
    expect(await transactions('ann')).toHaveLength(2);
  });

  it('answers a redelivered /price once, even after a restart on the same store', async () => {
    const { updateId } = await standin.send(ann, '/price btc');
    await standin.waitFor(() => standin.botMessages(ann.id)[0]);

    // The process ends; a new one (a new core and bot) starts on the same store.
    await tg.stop();
    core = await makeTestBot({ store: core.store });
    tg = startBot();
    await tg.start();
    await standin.redeliver(updateId);
    await say(ann, '/about'); // handled after the redelivery, so the redelivery was seen
    expect(standin.botMessages(ann.id).map((m) => m.text.split('\n')[0])).toEqual(['Bitcoin price', 'About CryptoPulse']);
    expect(logger.lines.some((l) => l.msg?.includes('delivered again') && l.obj.updateId === updateId)).toBe(true);
  });

  it('keeps its buttons working after a restart on the same store: Confirm trades once, Next pages', async () => {
    await signup(ann, 'ann');
    for (let i = 0; i < 11; i++) await say(ann, '/buy doge $10');
    const page1 = await say(ann, '/history');
    expect(buttonsOf(page1)).toEqual(['Next »']);
    const prompt = await say(ann, '/buy btc $5000');
    expect(buttonsOf(prompt)).toEqual(['Confirm', 'Cancel']);
    const confirmData = prompt.replyMarkup!.inline_keyboard[0]![0]!.callback_data!; // gone once the prompt is edited

    // The process ends; a new one (a new core and bot) starts on the same store.
    await tg.stop();
    core = await makeTestBot({ store: core.store, ids: countingIds('restart') });
    tg = startBot();
    await tg.start();

    const press = await standin.press(ann, prompt, 'Confirm');
    const done = await standin.waitFor(() => standin.message(ann.id, prompt.messageId)!.history.length === 1 && standin.message(ann.id, prompt.messageId)!);
    expect(standin.answers.get(press.callbackId)).toMatchObject({ text: 'Confirmed' });
    expect(done.text).toContain('Bought');
    expect(done.text).toContain('BTC');
    // The new process knows the buttons were used: a second tap trades nothing.
    const again = await standin.press(ann, prompt, 'Confirm', { data: confirmData });
    expect(await standin.waitFor(() => standin.answers.get(again.callbackId))).toEqual({ text: 'Already done.' });
    expect((await transactions('ann')).filter((t) => t.coinId === 'bitcoin')).toHaveLength(1);

    await standin.press(ann, page1, 'Next »');
    const page2 = await standin.waitFor(() => standin.message(ann.id, page1.messageId)!.text.includes('page 2') && standin.message(ann.id, page1.messageId)!);
    expect(buttonsOf(page2)).toEqual(['« Previous']);
  });

  it('trades once when two instances on one store each receive a press of the same Confirm', async () => {
    await signup(ann, 'ann');
    const prompt = await say(ann, '/buy btc $5000');
    await tg.stop();

    // Two instances sharing the store, each with its own core, both serving a webhook; the
    // stand-in hands one press to each.
    const second = await makeTestBot({ store: core.store, ids: countingIds('second') });
    const webhookBot = (bot: TestBot, path: string) => createTelegramBot({
      token: standin.token, apiRoot: standin.apiRoot, core: bot.core, logger, limits: UNLIMITED,
      webhook: { url: `https://bot.example.com/${path}`, secret: 'hook_secret', port: 0, host: '127.0.0.1' },
    });
    tg = webhookBot(core, 'a');
    const other = webhookBot(second, 'b');
    await tg.start();
    await other.start();
    try {
      // Both presses wait at the take until both have looked the button up and found it unused, so
      // only the store's single-use take can keep the second from going through.
      const take = core.store.takeButtons.bind(core.store);
      let arrived = 0;
      let bothLookedUp!: () => void;
      const barrier = new Promise<void>((resolve) => (bothLookedUp = resolve));
      vi.spyOn(core.store, 'takeButtons').mockImplementation(async (id, now) => {
        if (++arrived === 2) bothLookedUp();
        await barrier;
        return take(id, now);
      });
      standin.webhookTarget = `http://127.0.0.1:${tg.webhookAddress()!.port}/a`;
      const first = standin.press(ann, prompt, 'Confirm'); // the target is read before the first await
      standin.webhookTarget = `http://127.0.0.1:${other.webhookAddress()!.port}/b`;
      const presses = await Promise.all([first, standin.press(ann, prompt, 'Confirm')]);
      expect(presses.map((p) => p.webhookStatus)).toEqual([200, 200]);
      expect(arrived).toBe(2);
      const answers = presses.map((p) => standin.answers.get(p.callbackId)?.text).sort();
      expect(answers).toEqual(['Already done.', 'Confirmed']);
      await standin.waitFor(() => standin.message(ann.id, prompt.messageId)!.history.length === 1);
      expect(await transactions('ann')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('shows hostile strings exactly as they are: tags, ampersands, emoji, very long names', async () => {
    const hostile = '<b>Evil</b> & <i>Co</i> &amp; 🚀👨‍👩‍👧';
    const longName = `${hostile} ${'Ω'.repeat(5000)}`;
    core.feed.knownCoins.set('evil', { id: 'evil', symbol: 'evl', name: longName });
    core.feed.set('evil', '1.5');
    await signup(bob, 'boss');
    await core.store.updateAccount('boss', { role: 'admin' });
    const added = await say(bob, '/coins add evil');
    await standin.waitFor(() => standin.botMessages(bob.id).length >= 3);
    const parts = standin.botMessages(bob.id).slice(-2);
    expect(parts.map((m) => m.text).join('')).toContain(longName); // split, and nothing lost
    expect(added.text.startsWith('✅ Now tracking <b>Evil</b> & <i>Co</i> &amp; 🚀👨‍👩‍👧')).toBe(true);
    expect(parts.every((m) => (m.html ?? '').length <= 4096)).toBe(true);

    await signup(ann, 'ann');
    const echoed = await say(ann, '/buy btc $100 <b>&amp;');
    expect(echoed.text).toContain('“<b>&amp;” is not expected');

    const mallory = standin.user(1066, `<i>Mallory</i> & "Co" 👾${'x'.repeat(300)}`);
    const group = standin.group({ id: -100600, title: '<b>Group</b> & co' });
    await say(mallory, '/signup mallory mallory@example.com', { chatId: group.id });
    const told = await say(mallory, '/whoami', { chatId: group.id });
    expect(told.text).toContain(`<i>Mallory</i> & "Co" 👾${'x'.repeat(300)}, I can't message you privately yet`);
    const refused = standin.calls.filter((c) => !c.ok && c.errorCode === 400);
    expect(refused).toEqual([]); // Telegram accepted every message
  });

  it('stops writing to users who blocked the bot, and writes again once they come back', async () => {
    await signup(ann, 'ann');
    await standin.membership(ann.id, 'kicked'); // Ann blocks the bot
    await standin.waitFor(() => tg.sender.isDead(ann.id));
    const sends = () => standin.calls.filter((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === ann.id).length;
    const before = sends();
    expect((await tg.post(ann.id, { tone: 'info', text: 'alert' }))[0]!.status).toBe('dead');
    expect(sends()).toBe(before);
    // Telegram itself answering 403 has the same effect.
    await signup(bob, 'bob');
    standin.chat(bob.id).blocked = true;
    expect((await tg.post(bob.id, { tone: 'info', text: 'alert' }))[0]).toMatchObject({ status: 'dead', reason: 'Forbidden: bot was blocked by the user' });
    expect(tg.sender.isDead(bob.id)).toBe(true);

    const back = await say(ann, '/portfolio'); // writing to the bot unblocks it
    expect(back.text).toContain('Portfolio of ann');
  });

  it('rides out a 429 storm: every reply arrives exactly once', async () => {
    const users = [ann, bob, ...Array.from({ length: 4 }, (_, i) => standin.user(2000 + i, `U${i}`))];
    for (const u of users) await standin.send(u, '/about');
    await standin.waitFor(() => users.every((u) => standin.botMessages(u.id).length === 1));
    standin.flood(600, 1);
    const started = Date.now();
    for (const u of users) await standin.send(u, '/price btc');
    await standin.waitFor(() => users.every((u) => standin.botMessages(u.id).length === 2), 8000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // retry_after was honoured
    expect(standin.counts.injected429).toBeGreaterThan(0);
    for (const u of users) expect(standin.botMessages(u.id).map((m) => m.text.split('\n')[0])).toEqual(['About CryptoPulse', 'Bitcoin price']);
    // The only refusals were the injected ones: the sender caused no 429 of its own.
    expect(standin.calls.filter((c) => !c.ok && !c.injected && c.method !== 'getUpdates')).toEqual([]);
  });

  it('stops promptly, even right after starting, and confirms what it handled', async () => {
    const { updateId } = await standin.send(ann, '/about');
    await standin.waitFor(() => standin.botMessages(ann.id)[0]);
    await tg.stop();
    // On the way out telegraf confirms the offset, so the update is not delivered again.
    expect(standin.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset) === updateId + 1)).toBe(true);
    tg = startBot();
    await tg.start();
    const began = Date.now();
    await tg.stop();
    expect(Date.now() - began).toBeLessThan(2000);
    tg = startBot();
    await tg.start();
    expect((await say(ann, '/about')).text).toContain('About CryptoPulse');
    expect(standin.botMessages(ann.id)).toHaveLength(2);
  });

  it('never crashes on errors from Telegram or the core, and logs them with the update id', async () => {
    await signup(ann, 'ann');
    standin.inject({ method: 'sendMessage', errorCode: 500, count: 1 });
    expect((await say(ann, '/about')).text).toContain('About CryptoPulse'); // retried

    standin.inject({ method: 'sendMessage', errorCode: 400, description: 'Bad Request: something Telegram did not like' });
    const { updateId: refused } = await standin.send(ann, '/about');
    const line = await standin.waitFor(() => logger.lines.find((l) => l.msg === 'telegram refused a message'));
    expect(line.obj).toMatchObject({ updateId: refused, chatId: String(ann.id), reason: 'Bad Request: something Telegram did not like' });

    const spy = vi.spyOn(core.core.dispatcher, 'dispatch').mockRejectedValueOnce(new Error('core exploded'));
    const { updateId } = await standin.send(ann, '/portfolio');
    await standin.waitFor(() => logger.lines.find((l) => l.level === 'error' && l.obj.updateId === updateId));
    spy.mockRestore();

    core.store.getPortfolio = async () => {
      throw new Error('disk on fire');
    };
    expect((await say(ann, '/portfolio')).text).toContain('Something went wrong on our side');

    // A failed answerCallbackQuery is logged; the button still does its work.
    const price = await say(ann, '/price btc');
    standin.inject({ method: 'answerCallbackQuery', errorCode: 400, description: 'Bad Request: query is too old and response timeout expired or query ID is invalid' });
    await standin.press(ann, price, 'Refresh');
    await standin.waitFor(() => standin.message(ann.id, price.messageId)!.history.length === 1);
    expect(logger.lines.some((l) => l.msg === 'answerCallbackQuery failed')).toBe(true);
    expect((await say(ann, '/about')).text).toContain('About CryptoPulse'); // still answering
  });
});
