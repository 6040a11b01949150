/**
 * The Discord bot end to end: the real discord.js client against the loopback Discord stand-in
 * (REST and gateway), on a whole core (in-memory SQLite, hand-set prices, manual clock shared with
 * the stand-in). Assertions are about what a Discord user would see: the messages the stand-in
 * shows them (ephemeral ones only to their user), buttons, edits in place, DMs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiscordBot, type DiscordBot, type DiscordBotOptions } from '../adapters/discord/bot';
import { alertPipeline } from './support/alerts';
import type { IncomingCommand } from '../core/dispatcher';
import type { LinkedIdentity } from '../core/domain';
import type { Logger } from '../core/ports';
import { configuredChatAdapters, startChatAdapters, stopChatAdapters } from '../src/adapters';
import { deliverThroughAdapters } from '../src/chat-delivery';
import { ConfigError, loadConfig } from '../src/config';
import { MEMBER_PERMISSIONS, Permission, startDiscordStandin, type DiscordStandin, type DiscordUser, type StandinGuild, type StandinInteraction, type StandinMessage } from './support/discord-standin';
import { makeTestBot, type TestBot } from './support/harness';
import { startTelegramStandin } from './support/telegram-standin';

type Line = { level: string; msg?: string; obj: Record<string, unknown> };
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A gate a test double waits on, so a test decides when a slow call returns. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

let core: TestBot;
let standin: DiscordStandin;
let logger: ReturnType<typeof recordingLogger>;
let discord: DiscordBot;
let ann: DiscordUser;
let guild: StandinGuild;
const started: DiscordBot[] = [];

function makeBot(overrides: Partial<DiscordBotOptions> = {}): DiscordBot {
  const bot = createDiscordBot({
    token: standin.token, applicationId: standin.applicationId, apiUrl: standin.api, core: core.core, logger,
    tuning: { restOffsetMs: 0, identifyThrottle: false }, ...overrides,
  });
  started.push(bot);
  return bot;
}

beforeEach(async () => {
  core = await makeTestBot();
  logger = recordingLogger();
  standin = await startDiscordStandin({ now: () => core.clock.now(), heartbeatIntervalMs: 60_000 });
  ann = standin.user({ username: 'ann' });
  guild = standin.guild({ name: 'Traders', channels: ['general', 'alerts'], members: [ann] });
  discord = makeBot();
  await discord.start();
});

afterEach(async () => {
  for (const bot of started.splice(0)) await bot.stop();
  await standin.close();
  await core.close();
});

const channel = () => guild.channels[0]!;

/** The answer an interaction got, once it is there (not a "thinking..." placeholder). */
function answerOf(interaction: StandinInteraction): Promise<StandinMessage> {
  return standin.waitFor(() => {
    const original = standin.original(interaction);
    return original && !original.loading && (original.embeds.length || original.content) ? original : undefined;
  });
}

async function slash(user: DiscordUser, name: string, options: Record<string, string | number | boolean> = {}, where: StandinGuild | 'dm' = guild): Promise<{ interaction: StandinInteraction; answer: StandinMessage; text: string }> {
  const interaction = await standin.slash(user, where, name, options);
  const answer = await answerOf(interaction);
  return { interaction, answer, text: standin.textOf(answer) };
}

async function signup(user: DiscordUser): Promise<void> {
  const { text } = await slash(user, 'signup', { username: user.username, email: `${user.username}@example.com` });
  expect(text).toContain(`Welcome, ${user.username}!`);
}

const labels = (m: StandinMessage) => standin.buttons(m).map((b) => b.label);
const customIdOf = (m: StandinMessage, label: string) => standin.buttons(m).find((b) => b.label === label)!.customId!;
const transactions = async (username: string) => (await core.store.listTransactions(username, { limit: 100 })).items;

describe('Discord bot', () => {
  it('says it is connected while the gateway is ready, and not once stopped (readiness, /readyz)', async () => {
    expect(discord.connected?.()).toBe(true);
    await discord.stop();
    expect(discord.connected?.()).toBe(false);
  });

  it('connects with the Guilds intent only and registers the slash commands from the registry', async () => {
    const identify = standin.connections[0]!.received.find((r) => r.op === 2)!.d as { intents: number };
    expect(identify.intents).toBe(1); // GUILDS: no privileged intent
    const names = standin.commands().map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['signup', 'price', 'buy', 'sell', 'portfolio', 'history', 'alert', 'users']));
    expect(discord.capabilities).toMatchObject({ buttons: true, privateReplies: 'ephemeral' });
  });

  it('signs up and shows prices through slash commands, answered in the channel', async () => {
    await signup(ann);
    expect((await core.store.findIdentity(`discord:${ann.id}`))?.username).toBe('ann');
    const { answer, text, interaction } = await slash(ann, 'price', { coins: 'btc eth' });
    expect(text).toMatch(/BTC/);
    expect(text).toMatch(/ETH/);
    expect(answer).toMatchObject({ ephemeral: false, channelId: channel().id });
    expect(labels(answer)).toEqual(['Refresh']);
    // Nobody is pinged, whatever the text says.
    expect(interaction.responses[0]!.data).toMatchObject({ allowed_mentions: { parse: [] } });
  });

  it('asks Confirm / Cancel above the threshold; Confirm trades once, a second press is told it was already done', async () => {
    await signup(ann);
    const { answer: prompt, text } = await slash(ann, 'buy', { coin: 'btc', amount: '$2000' });
    expect(text).toMatch(/Confirm: buy about \$2,000\.00 of BTC\?/);
    expect(labels(prompt)).toEqual(['Confirm', 'Cancel']);
    expect(customIdOf(prompt, 'Confirm')).toMatch(/^cp:[A-Za-z0-9_-]{16}\.0$/);
    expect(await transactions('ann')).toHaveLength(0);

    // A double tap: both presses reach the bot before it has updated the message.
    const confirm = customIdOf(prompt, 'Confirm');
    const [first, second] = await Promise.all([standin.press(ann, prompt, confirm), standin.press(ann, prompt, confirm)]);
    await standin.waitFor(() => first.acknowledged && second.acknowledged);
    const updated = await standin.waitFor(() => (standin.textOf(standin.message(prompt.id)!).includes('Bought') ? standin.message(prompt.id) : undefined));
    expect(standin.textOf(updated)).toMatch(/Bought 0\.0\d+ BTC/);
    expect(standin.buttons(updated)).toEqual([]);
    expect(await transactions('ann')).toHaveLength(1);
    // One press updated the prompt in place (7); the other got an ephemeral "Already done." (4).
    const types = [first, second].map((i) => i.responses[0]!.type).sort();
    expect(types).toEqual([4, 7]);
    const refused = [first, second].find((i) => i.responses[0]!.type === 4)!;
    const note = standin.original(refused)!;
    expect(note).toMatchObject({ ephemeral: true, visibleTo: ann.id });
    expect(standin.textOf(note)).toBe('Already done.');
  });

  it('Cancel edits the prompt to say it was cancelled, and nothing trades', async () => {
    await signup(ann);
    const { answer: prompt } = await slash(ann, 'buy', { coin: 'btc', amount: '$2000' });
    const press = await standin.press(ann, prompt, customIdOf(prompt, 'Cancel'));
    await standin.waitFor(() => press.acknowledged);
    expect(standin.textOf(standin.message(prompt.id)!)).toMatch(/^Cancelled: \/buy bitcoin \$2000 was not run/);
    expect(standin.buttons(standin.message(prompt.id)!)).toEqual([]);
    expect(await transactions('ann')).toHaveLength(0);
  });

  it('refuses a press by someone else, ephemerally, and leaves the buttons to their owner', async () => {
    await signup(ann);
    const bob = standin.user({ username: 'bob' });
    standin.join(guild, bob);
    const { answer: prompt } = await slash(ann, 'buy', { coin: 'btc', amount: '$2000' });
    const press = await standin.press(bob, prompt, customIdOf(prompt, 'Confirm'));
    const note = await answerOf(press);
    expect(note).toMatchObject({ ephemeral: true, visibleTo: bob.id });
    expect(standin.textOf(note)).toMatch(/Only the person who sent the command/);
    expect(labels(standin.message(prompt.id)!)).toEqual(['Confirm', 'Cancel']);
    expect(await transactions('ann')).toHaveLength(0);
  });

  it('pages /history with Next and Previous, editing the message in place', async () => {
    await signup(ann);
    for (let i = 0; i < 12; i++) {
      await core.core.dispatcher.dispatch({ identity: { platform: 'discord', userId: ann.id }, chat: { type: 'private', id: 'discord:x' }, text: '/buy btc $10', messageId: `seed-${i}` });
    }
    const { answer, text } = await slash(ann, 'history');
    expect(text).toMatch(/page 1/);
    expect(labels(answer)).toEqual(['Next »']);
    const press = await standin.press(ann, answer, customIdOf(answer, 'Next »'));
    await standin.waitFor(() => press.acknowledged);
    const page2 = standin.message(answer.id)!;
    expect(press.responses[0]!.type).toBe(7);
    expect(standin.textOf(page2)).toMatch(/page 2/);
    expect(labels(page2)).toEqual(['« Previous']);
    expect(page2.history).toHaveLength(1); // the same message, edited
    const back = await standin.press(ann, page2, customIdOf(page2, '« Previous'));
    await standin.waitFor(() => back.acknowledged);
    expect(standin.textOf(standin.message(answer.id)!)).toMatch(/page 1/);
  });

  it('names commands in its answers as Discord slash commands: a group with its sub-command', async () => {
    await signup(ann);
    const { text } = await slash(ann, 'alerts');
    expect(text).toContain('Set one with /alert set btc above 100000');
    expect(text).not.toContain('/alert btc');
  });

  it('offers coins in autocomplete', async () => {
    const interaction = await standin.autocomplete(ann, guild, 'buy', { coin: 'bit', amount: '$5' }, 'coin');
    const choices = await standin.waitFor(() => interaction.choices);
    expect(choices[0]).toEqual({ name: 'BTC · Bitcoin', value: 'bitcoin' });
    const none = await standin.autocomplete(ann, guild, 'price', { coins: 'zzzz' }, 'coins');
    expect(await standin.waitFor(() => none.choices)).toEqual([]);
  });

  it('refuses a staff command to a plain user and runs it for an admin whose role is in the store', async () => {
    await signup(ann);
    // In a server Discord hides staff commands from members who are not server administrators ...
    await expect(standin.slash(ann, guild, 'users')).rejects.toThrow(/hides it/);
    // ... and in a DM, where Discord applies no member permissions, the core refuses.
    const refused = await slash(ann, 'users', {}, 'dm');
    expect(refused.text).toMatch(/Your role \(user\) may not run \/users/);

    const root = standin.user({ username: 'root' });
    standin.join(guild, root, { admin: true });
    await signup(root);
    await core.store.updateAccount('root', { role: 'admin' });
    const allowed = await slash(root, 'users', {});
    expect(allowed.text).toMatch(/ann/);
    expect(allowed.text).toMatch(/root/);
    // The user list is private: only root sees it in the channel.
    expect(allowed.answer).toMatchObject({ ephemeral: true, visibleTo: root.id });
    expect(standin.messages(channel().id, { as: ann }).map((m) => standin.textOf(m))).not.toContain(allowed.text);
  });

  it('defers a slow command and edits the answer in when the core is done', async () => {
    await stopDefault();
    const slowBot = makeBot({ deferAfterMs: 20 });
    await slowBot.start();
    await signup(ann);
    const slow = gate();
    const findIdentity = core.store.findIdentity.bind(core.store);
    vi.spyOn(core.store, 'findIdentity').mockImplementation(async (key) => {
      await slow.opened;
      return findIdentity(key);
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    // The bot deferred (type 5) while the core was still waiting on the store.
    await standin.waitFor(() => interaction.acknowledged);
    expect(interaction.responses.map((r) => r.type)).toEqual([5]);
    expect(standin.original(interaction)).toMatchObject({ loading: true, ephemeral: false });
    slow.open();
    const answer = await answerOf(interaction);
    expect(standin.textOf(answer)).toMatch(/Cash/);
    expect(answer.history).toHaveLength(1); // the placeholder, edited in place
    expect(standin.requests.some((r) => r.route === 'PATCH /webhooks/:id/:token/messages/:id' && /(@|%40)original$/.test(r.path))).toBe(true);

    // A private answer is deferred ephemeral, so nobody else ever sees it.
    const slowAgain = gate();
    vi.mocked(core.store.findIdentity).mockImplementation(async (key) => {
      await slowAgain.opened;
      return findIdentity(key);
    });
    const whoami = await standin.slash(ann, guild, 'whoami');
    await standin.waitFor(() => whoami.acknowledged);
    expect(whoami.responses[0]).toMatchObject({ type: 5, data: { flags: 64 } });
    slowAgain.open();
    expect(await answerOf(whoami)).toMatchObject({ ephemeral: true, visibleTo: ann.id });
  });

  it('answers an interaction delivered twice once, and trades once', async () => {
    await signup(ann);
    const { interaction } = await slash(ann, 'buy', { coin: 'btc', amount: '$100' });
    expect(await transactions('ann')).toHaveLength(1);
    standin.dispatch('INTERACTION_CREATE', interaction.payload);
    await standin.waitFor(() => logger.lines.find((l) => l.msg === 'discord interaction delivered again: ignored'));
    expect(await transactions('ann')).toHaveLength(1);
    expect(standin.requests.filter((r) => r.path.includes(`/interactions/${interaction.id}/`))).toHaveLength(1);
  });

  it('delivers a fired alert by DM, opening the DM once; a user with DMs closed is gone, logged at info', async () => {
    await signup(ann);
    core.feed.set('bitcoin', '50000');
    await slash(ann, 'alert set', { coin: 'btc', condition: 'above', value: '55000' });
    expect(await core.store.listAlerts('ann')).toHaveLength(1);
    core.feed.set('bitcoin', '56000');
    const engine = alertPipeline(core.core.services, deliverThroughAdapters([discord], logger));
    expect(await engine.check()).toBe(1);
    const dm = await standin.waitFor(() => standin.dms(ann)[0]);
    expect(standin.textOf(dm)).toMatch(/BTC is above \$55,000\.00/);
    const identity: LinkedIdentity = { key: `discord:${ann.id}`, platform: 'discord', username: 'ann', linkedAt: 0 };
    expect(await discord.deliverToUser(identity, { tone: 'info', text: 'second' })).toEqual({ status: 'sent' });
    expect(standin.requests.filter((r) => r.route === 'POST /users/@me/channels')).toHaveLength(1);

    const shy = standin.user({ username: 'shy', dmsOpen: false });
    expect(await discord.deliverToUser({ key: `discord:${shy.id}`, platform: 'discord', username: 'shy', linkedAt: 0 }, { tone: 'info', text: 'hi' }))
      .toEqual({ status: 'gone', reason: 'Cannot send messages to this user (50007)' });
    expect(logger.lines.find((l) => l.obj.code === 50007)).toMatchObject({ level: 'info' });
    // Other platforms' addresses are not ours.
    expect(await discord.deliverToUser({ key: 'telegram:5', platform: 'telegram', username: 'x', linkedAt: 0 }, { tone: 'info', text: 'x' })).toMatchObject({ status: 'failed' });
    expect(await discord.deliverToChat('telegram:-100', { tone: 'info', text: 'x' })).toMatchObject({ status: 'failed' });
  });

  it('posts into a channel by its prefixed id, waiting out a 429 on the route', async () => {
    standin.inject429({ route: 'POST /channels/:id/messages', retryAfter: 0.05, retryAfterHeader: 0.05 });
    expect(await discord.deliverToChat(`discord:${channel().id}`, { tone: 'info', title: 'Maintenance at 13:00 UTC', text: 'Trading pauses for 5 minutes.' })).toEqual({ status: 'sent' });
    const posts = standin.requests.filter((r) => r.route === 'POST /channels/:id/messages');
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(standin.counts.injected429).toBe(1);
    expect(standin.messages(channel().id).map((m) => standin.textOf(m))).toEqual(['Maintenance at 13:00 UTC\nTrading pauses for 5 minutes.']);
    expect(logger.lines.find((l) => l.msg === 'discord rate limit: waiting')).toBeDefined();
  });

  it('keeps working across a gateway drop: it resumes and answers what was sent meanwhile', async () => {
    await signup(ann);
    standin.dropConnection();
    const interaction = await standin.slash(ann, guild, 'portfolio');
    expect(interaction.delivered).toBe(false);
    expect(standin.textOf(await answerOf(interaction))).toMatch(/Cash/);
    expect(standin.connections[1]).toMatchObject({ path: '/resume', resumed: true });
    expect(standin.counts.identifies).toBe(1);
    // And a cut connection too (the client sees 1006).
    standin.dropConnection({ abrupt: true });
    await standin.waitFor(() => standin.connections.length >= 3 && standin.connections[2]!.resumed);
    expect(standin.textOf((await slash(ann, 'price', { coins: 'eth' })).answer)).toMatch(/ETH/);
  });

  it('a Confirm pressed after the bot restarted on the same store still trades', async () => {
    await signup(ann);
    const { answer: prompt } = await slash(ann, 'buy', { coin: 'eth', amount: '$3000' });
    await stopDefault();
    const again = makeBot({ registerAtStart: false });
    await again.start();
    const press = await standin.press(ann, prompt, customIdOf(prompt, 'Confirm'));
    await standin.waitFor(() => press.acknowledged);
    expect(standin.textOf(standin.message(prompt.id)!)).toMatch(/Bought .* ETH/);
    expect(await transactions('ann')).toHaveLength(1);
  });

  it('stop() lets an interaction in flight finish before it closes', async () => {
    await signup(ann);
    const slow = gate();
    let reached = false;
    const findIdentity = core.store.findIdentity.bind(core.store);
    vi.spyOn(core.store, 'findIdentity').mockImplementation(async (key) => {
      reached = true;
      await slow.opened;
      return findIdentity(key);
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => reached);
    let stopped = false;
    const stopping = discord.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false); // still waiting for the interaction in flight
    slow.open();
    await stopping;
    started.splice(started.indexOf(discord), 1);
    expect(standin.textOf(standin.original(interaction)!)).toMatch(/Cash/);
    expect(standin.connections[0]!.closedBy).toBe('client');
  });

  it('rejects start with a clear error on a bad token', async () => {
    const bad = makeBot({ token: 'not-the-token' });
    await expect(bad.start()).rejects.toThrow(/DISCORD_TOKEN/);
  });
});

/** What the placeholder of a public deferral, or a public message pressed, says when the answer is private. */
const PRIVATE_NOTE = /The answer is for you alone: I sent it to you privately/;

/** Makes every answer the core gives private, after `slow` opens when given (a command whose
 *  answer only turns out to be private once the core is done). */
function privateAnswers(slow?: { opened: Promise<void> }) {
  const dispatch = core.core.dispatcher.dispatch.bind(core.core.dispatcher);
  return vi.spyOn(core.core.dispatcher, 'dispatch').mockImplementation(async (input) => {
    if (slow) await slow.opened;
    const result = await dispatch(input);
    return { ...result, message: { ...result.message, private: true } };
  });
}

/** Every string of an embed message, as a whole (what the 6000-character limit counts). */
function embedSize(m: StandinMessage): number {
  return m.embeds.reduce((sum, e) => sum + [e.title, e.description, e.footer?.text, e.author?.name, ...(e.fields ?? []).flatMap((f: any) => [f.name, f.value])]
    .filter((x): x is string => typeof x === 'string').reduce((n, x) => n + x.length, 0), 0);
}

describe('Discord bot: paths that were written but not tested', () => {
  it('a public deferral whose answer turns out private: the placeholder becomes a note and the answer reaches the caller alone', async () => {
    await stopDefault();
    const slowBot = makeBot({ deferAfterMs: 20 });
    await slowBot.start();
    await signup(ann);
    const bob = standin.user({ username: 'bob' });
    standin.join(guild, bob);
    const slow = gate();
    privateAnswers(slow);
    const interaction = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => interaction.acknowledged);
    // Deferred in public: /portfolio is not a command that answers privately.
    expect(interaction.responses).toEqual([expect.objectContaining({ type: 5 })]);
    expect(interaction.responses[0]!.data?.flags ?? 0).toBe(0);
    slow.open();
    const [answer] = await standin.waitFor(() => (standin.followups(interaction).length ? standin.followups(interaction) : undefined));
    expect(standin.followups(interaction)).toHaveLength(1);
    expect(answer).toMatchObject({ ephemeral: true, visibleTo: ann.id });
    expect(standin.textOf(answer!)).toMatch(/Cash/);
    expect(labels(answer!)).toEqual(['Refresh']);
    // The public placeholder says where the answer went, and nothing more.
    const placeholder = standin.original(interaction)!;
    expect(placeholder).toMatchObject({ ephemeral: false, loading: false });
    expect(standin.textOf(placeholder)).toMatch(PRIVATE_NOTE);
    expect(standin.textOf(placeholder)).not.toMatch(/Cash/);
    expect(standin.buttons(placeholder)).toEqual([]);
    // Another member of the channel sees the note only.
    const seenByBob = standin.messages(channel().id, { as: bob }).map((m) => standin.textOf(m));
    expect(seenByBob.some((t) => PRIVATE_NOTE.test(t))).toBe(true);
    expect(seenByBob.filter((t) => /Cash/.test(t))).toEqual([]);
  });

  it('a button on a public message whose result is private: the presser alone gets it, the public message only says so', async () => {
    await signup(ann);
    const bob = standin.user({ username: 'bob' });
    standin.join(guild, bob);
    // A broadcast anyone may press, whose button runs a command that answers privately.
    expect(await discord.deliverToChat(`discord:${channel().id}`, { tone: 'info', text: 'Are you set up?', buttons: [{ label: 'Who am I', command: '/whoami' }] })).toEqual({ status: 'sent' });
    const broadcast = standin.messages(channel().id)[standin.messages(channel().id).length - 1]!;
    const press = await standin.press(ann, broadcast, customIdOf(broadcast, 'Who am I'));
    const [answer] = await standin.waitFor(() => (standin.followups(press).length ? standin.followups(press) : undefined));
    expect(answer).toMatchObject({ ephemeral: true, visibleTo: ann.id });
    expect(standin.textOf(answer!)).toMatch(/ann@example\.com/);
    const shown = standin.message(broadcast.id)!;
    expect(shown.ephemeral).toBe(false);
    expect(standin.textOf(shown)).toMatch(PRIVATE_NOTE);
    expect(standin.buttons(shown)).toEqual([]);
    const seenByBob = standin.messages(channel().id, { as: bob }).map((m) => standin.textOf(m));
    expect(seenByBob.filter((t) => /ann@example\.com/.test(t))).toEqual([]);
  });

  it('a slow Refresh on a public message that yields a private answer: deferred update, note in place, answer to the presser alone', async () => {
    await stopDefault();
    const slowBot = makeBot({ deferAfterMs: 20 });
    await slowBot.start();
    await signup(ann);
    const bob = standin.user({ username: 'bob' });
    standin.join(guild, bob);
    const { answer: prices } = await slash(ann, 'price', { coins: 'btc' });
    expect(prices.ephemeral).toBe(false);
    const slow = gate();
    privateAnswers(slow);
    const press = await standin.press(ann, prices, customIdOf(prices, 'Refresh'));
    await standin.waitFor(() => press.acknowledged);
    expect(press.responses.map((r) => r.type)).toEqual([6]); // deferred update: nothing shown yet
    slow.open();
    const [answer] = await standin.waitFor(() => (standin.followups(press).length ? standin.followups(press) : undefined));
    expect(answer).toMatchObject({ ephemeral: true, visibleTo: ann.id });
    expect(standin.textOf(answer!)).toMatch(/BTC/);
    const shown = standin.message(prices.id)!;
    expect(standin.textOf(shown)).toMatch(PRIVATE_NOTE);
    expect(standin.textOf(shown)).not.toMatch(/BTC/);
    expect(standin.messages(channel().id, { as: bob }).filter((m) => m.interactionId === press.id)).toEqual([]);
  });

  it('start() rejects with a clear message when Discord refuses the command registration (400)', async () => {
    standin.inject({ route: 'PUT /applications/:id/commands', status: 400, code: 50035, message: 'Invalid Form Body' });
    const bot = makeBot();
    await expect(bot.start()).rejects.toThrow(/^Discord refused the slash commands \(global\): .*Invalid Form Body.*Check DISCORD_APPLICATION_ID\.$/);
    // The client was closed: nothing is left connected, nothing is delivered.
    await standin.waitFor(() => standin.connections[1]?.closedBy === 'client');
    expect(await bot.deliverToChat(`discord:${channel().id}`, { tone: 'info', text: 'x' })).toEqual({ status: 'failed', reason: 'the discord adapter is not running' });
  });

  it('start() rejects with a clear message when the registration keeps failing with 500 (after the retries), naming the server', async () => {
    standin.inject({ route: 'PUT /applications/:id/guilds/:id/commands', status: 500, count: 3 });
    const bot = makeBot({ guildId: guild.id });
    // Not the configuration's fault: it says so, and how to start anyway.
    await expect(bot.start()).rejects.toThrow(new RegExp(`^Discord failed to register the slash commands \\(server ${guild.id}\\): .*\\(HTTP 500\\), a fault on Discord's side\\. .*DISCORD_REGISTER_AT_START=false`));
    expect(standin.requests.filter((r) => r.route === 'PUT /applications/:id/guilds/:id/commands').map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('start() rejects with a clear message when the gateway closes with 4014 (disallowed intents)', async () => {
    // Discord never refuses Guilds (not a privileged intent), so the stand-in is made to close with
    // 4014 when the IDENTIFY arrives, before it would answer READY.
    await stopDefault(); // so the new bot's connection is the only one open
    const before = standin.connections.length;
    let closing = false;
    const refused = standin.waitFor(() => {
      const conn = standin.connections.slice(before).find((c) => c.received.some((r) => r.op === 2));
      if (conn && !closing) {
        closing = true;
        standin.dropConnection({ code: 4014 });
      }
      return conn;
    }, 10_000);
    const bot = makeBot();
    await expect(bot.start()).rejects.toThrow(/^Discord refused the gateway intents \(4014 disallowed intents\)/);
    expect((await refused).closedWith).toBe(4014);
  });

  it('when the core throws (a store call fails), the user gets its "Something went wrong" answer, ephemeral as usual, in time', async () => {
    await signup(ann);
    vi.spyOn(core.store, 'findIdentity').mockRejectedValue(new Error('database is locked'));
    const { interaction, answer, text } = await slash(ann, 'portfolio');
    expect(text).toMatch(/^Something went wrong on our side and nothing was changed/);
    expect(answer).toMatchObject({ ephemeral: false });
    expect(interaction.responses.map((r) => r.type)).toEqual([4]);
    const whoami = await slash(ann, 'whoami');
    expect(whoami.text).toMatch(/^Something went wrong on our side/);
    expect(whoami.answer).toMatchObject({ ephemeral: true, visibleTo: ann.id });
  });

  it('when a slow store call fails after the deadline, the deferral came in time and the error is edited in', async () => {
    await stopDefault();
    const slowBot = makeBot({ deferAfterMs: 20 });
    await slowBot.start();
    await signup(ann);
    const slow = gate();
    vi.spyOn(core.store, 'findIdentity').mockImplementation(async () => {
      await slow.opened;
      throw new Error('connection reset');
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => interaction.acknowledged);
    expect(interaction.responses[0]!.at - interaction.createdAt).toBeLessThan(3000);
    core.clock.advance(10_000); // well past Discord's 3 s; the token still works
    slow.open();
    const answer = await answerOf(interaction);
    expect(standin.textOf(answer)).toMatch(/^Something went wrong on our side/);
    expect(answer.ephemeral).toBe(false);
    expect(standin.requests.filter((r) => r.code === 10062)).toEqual([]);
  });

  it("when the adapter's own store call throws (claiming the interaction), the user is told, ephemerally", async () => {
    vi.spyOn(core.store, 'claimOnce').mockRejectedValue(new Error('store unreachable'));
    const { answer, text } = await slash(ann, 'price', { coins: 'btc' });
    expect(text).toMatch(/^Something went wrong on our side/);
    expect(answer).toMatchObject({ ephemeral: true, visibleTo: ann.id });
    expect(logger.lines.find((l) => l.msg === 'discord interaction failed')).toMatchObject({ level: 'error' });
  });

  it('a slow store before the core runs (the claim) still gets the interaction deferred in time', async () => {
    await stopDefault();
    const slowBot = makeBot({ deferAfterMs: 20 });
    await slowBot.start();
    await signup(ann);
    const slow = gate();
    const claimOnce = core.store.claimOnce.bind(core.store);
    vi.spyOn(core.store, 'claimOnce').mockImplementation(async (key, expiresAt) => {
      if (key.startsWith('discord-interaction:')) await slow.opened;
      return claimOnce(key, expiresAt);
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => interaction.acknowledged); // while the claim is still waiting
    expect(interaction.responses).toEqual([expect.objectContaining({ type: 5 })]);
    core.clock.advance(10_000);
    slow.open();
    expect(standin.textOf(await answerOf(interaction))).toMatch(/Cash/);

    // A button press likewise: deferred as an update, then the message edited in place.
    const { answer: prices } = await slash(ann, 'price', { coins: 'btc' });
    const slowAgain = gate();
    vi.mocked(core.store.claimOnce).mockImplementation(async (key, expiresAt) => {
      if (key.startsWith('discord-interaction:')) await slowAgain.opened;
      return claimOnce(key, expiresAt);
    });
    const press = await standin.press(ann, prices, customIdOf(prices, 'Refresh'));
    await standin.waitFor(() => press.acknowledged);
    expect(press.responses.map((r) => r.type)).toEqual([6]);
    core.clock.advance(10_000);
    slowAgain.open();
    await standin.waitFor(() => /Updated/.test(standin.textOf(standin.message(prices.id)!)));
    expect(standin.requests.filter((r) => r.code === 10062 || r.code === 40060)).toEqual([]);
  });

  it('a /users page of accounts with the longest names and emails stays within Discord limits, and so does the next page', async () => {
    const root = standin.user({ username: 'root' });
    standin.join(guild, root, { admin: true });
    await signup(root);
    await core.store.updateAccount('root', { role: 'admin' });
    for (let i = 0; i < 24; i++) {
      const username = `u${String(i).padStart(2, '0')}_${'x'.repeat(28)}`; // 32 characters, the most
      const email = `${'a'.repeat(62)}${String(i).padStart(2, '0')}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`; // 254, the most
      await core.store.createAccount({ username, email, passwordHash: null, role: 'user', createdAt: core.clock.now(), currency: 'usd', emailNotifications: false }, '10000');
    }
    const first = await slash(root, 'users');
    const pages = [first.answer];
    const press = await standin.press(root, first.answer, customIdOf(first.answer, 'Next »'));
    await standin.waitFor(() => press.acknowledged);
    pages.push(standin.message(first.answer.id)!);
    for (const page of pages) {
      const embed = page.embeds[0]!;
      expect(embed.description.length).toBeLessThanOrEqual(4096);
      expect(embedSize(page)).toBeLessThanOrEqual(6000);
      // Every row the page holds is shown, or the page says how many were left out.
      const shownRows = (embed.description.match(/^u\d\d_x+ /gm) ?? []).length;
      const left = /(\d+) more rows? not shown\./.exec(embed.description);
      expect(shownRows + Number(left?.[1] ?? 0)).toBe(10);
    }
    expect(standin.textOf(pages[1]!)).toMatch(/page 2/);
    // Nothing was refused by Discord's validation on the way.
    expect(standin.requests.filter((r) => r.status >= 400)).toEqual([]);
  });

  it('an answer longer than Discord allows is cut to its limits, saying what was left out', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => [`row${String(i).padStart(3, '0')}`, 'x'.repeat(40), `$${i}.00`]);
    const fields = Array.from({ length: 40 }, (_, i) => ({ label: `Field ${i}`, value: 'v'.repeat(900) }));
    const long = { tone: 'info' as const, title: 'T'.repeat(400), text: 'Long answer. '.repeat(200), table: { columns: ['Id', 'Note', 'Amount'], rows }, fields, footer: 'f'.repeat(3000) };
    expect(await discord.deliverToChat(`discord:${channel().id}`, long)).toEqual({ status: 'sent' });
    const posted = standin.messages(channel().id).at(-1)!;
    const embed = posted.embeds[0]!;
    expect(embed.title.length).toBeLessThanOrEqual(256);
    expect(embed.description.length).toBeLessThanOrEqual(4096);
    expect(embed.fields.length).toBeLessThanOrEqual(25);
    expect(embed.footer.text.length).toBeLessThanOrEqual(2048);
    expect(embedSize(posted)).toBeLessThanOrEqual(6000);
    const shown = (embed.description.match(/^row\d{3} /gm) ?? []).length;
    expect(embed.description).toMatch(new RegExp(`\\n${300 - shown} more rows not shown\\.$`));
    expect(embed.fields.at(-1)).toMatchObject({ name: 'More', value: expect.stringMatching(/^\d+ more fields not shown\.$/) });
  });
});

describe('Discord pushes and channel admins', () => {
  const notice = { tone: 'info' as const, title: 'BTC moved 5% in 1h' };

  it('a deleted channel, or a server that removed the bot, is gone; a thread is a channel of its own', async () => {
    const alerts = guild.channels[1]!;
    expect(await discord.deliverToChat(`discord:${alerts.id}`, notice)).toEqual({ status: 'sent' });
    standin.deleteChannel(alerts);
    expect(await discord.deliverToChat(`discord:${alerts.id}`, notice)).toEqual({ status: 'gone', reason: 'Unknown Channel (10003)' });

    guild.botMember = false; // kicked from the server
    expect(await discord.deliverToChat(`discord:${channel().id}`, notice)).toEqual({ status: 'gone', reason: 'Missing Access (50001)' });
  });

  it('a server error outlasting the REST retries is failed (worth retrying), and the next push goes through', async () => {
    standin.inject({ route: 'POST /channels/:id/messages', status: 500, count: 3 });
    const delivery = await discord.deliverToChat(`discord:${channel().id}`, notice);
    expect(delivery).toMatchObject({ status: 'failed', reason: expect.stringContaining('500') });
    expect(standin.requests.filter((r) => r.route === 'POST /channels/:id/messages').map((r) => r.status)).toEqual([500, 500, 500]);
    expect(await discord.deliverToChat(`discord:${channel().id}`, notice)).toEqual({ status: 'sent' });
  });

  it("reads who administers a channel from the interaction's member permissions: Administrator, Manage Server or Manage Channels", async () => {
    const dispatch = core.core.dispatcher.dispatch.bind(core.core.dispatcher);
    const seen: IncomingCommand[] = [];
    vi.spyOn(core.core.dispatcher, 'dispatch').mockImplementation(async (input) => {
      seen.push(input);
      return dispatch(input);
    });
    const members = {
      admin: standin.user({ username: 'root' }),
      guildManager: standin.user({ username: 'mod' }),
      channelManager: standin.user({ username: 'chan' }),
    };
    standin.join(guild, members.admin, { admin: true });
    standin.join(guild, members.guildManager, { permissions: MEMBER_PERMISSIONS | Permission.ManageGuild });
    standin.join(guild, members.channelManager, { permissions: MEMBER_PERMISSIONS | Permission.ManageChannels });
    const asks = async (user: DiscordUser, where: StandinGuild | 'dm' = guild) => {
      await slash(user, 'price', { coins: 'btc' }, where);
      return seen.at(-1)!.isChatAdmin;
    };
    expect(await (await asks(ann))!()).toBe(false); // a plain member
    expect(await (await asks(members.admin))!()).toBe(true);
    expect(await (await asks(members.guildManager))!()).toBe(true);
    expect(await (await asks(members.channelManager))!()).toBe(true);
    expect(await asks(ann, 'dm')).toBeUndefined(); // a DM is no group
    // No API call was needed to know.
    expect(standin.requests.filter((r) => /members|roles/.test(r.path))).toEqual([]);
    vi.restoreAllMocks();
  });
});

describe('Discord: removal, deleted channels and re-adding, told to the store at once', () => {
  const states = async (...channels: { id: string }[]) => core.store.getChatStates(channels.map((c) => `discord:${c.id}`));
  const unreachable = async (c: { id: string }) => (await states(c)).get(`discord:${c.id}`)?.unreachableSince;
  const posts = () => standin.requests.filter((r) => r.route === 'POST /channels/:id/messages').length;

  it("marks every channel of a server that removed the bot, before any push tries them; adding the bot back clears them", async () => {
    const [general, alerts] = guild.channels as [StandinGuild['channels'][0], StandinGuild['channels'][0]];
    const elsewhere = standin.guild({ name: 'Elsewhere' }).channels[0]!;
    await vi.waitFor(() => expect(discord.client.guilds.cache.has(elsewhere.guildId!)).toBe(true));
    expect((await states(general, alerts)).size).toBe(0);

    standin.removeBot(guild);
    await vi.waitFor(async () => expect((await states(general, alerts)).size).toBe(2));
    for (const state of (await states(general, alerts)).values()) {
      expect(state).toMatchObject({ unreachableSince: core.clock.now(), unreachableReason: 'the bot was removed from the server' });
    }
    expect(posts()).toBe(0); // no push was needed to find out
    expect(await unreachable(elsewhere)).toBeUndefined(); // another server's channel is untouched

    core.clock.advance(60_000);
    standin.addBot(guild);
    await vi.waitFor(async () => expect(await unreachable(general)).toBeUndefined());
    expect(await unreachable(alerts)).toBeUndefined();
    expect(await discord.deliverToChat(`discord:${general.id}`, { tone: 'info', text: 'back' })).toEqual({ status: 'sent' });
  });

  it('marks nothing for an outage (GUILD_DELETE with unavailable): the bot is still in the server', async () => {
    const [general, alerts] = guild.channels as [StandinGuild['channels'][0], StandinGuild['channels'][0]];
    standin.outage(guild);
    await vi.waitFor(() => expect(discord.client.guilds.cache.get(guild.id)?.available).toBe(false));
    // A later event's mark is there: had the outage been taken for a removal, its marks, written
    // first, would be there too.
    standin.deleteChannel(alerts);
    await vi.waitFor(async () => expect(await unreachable(alerts)).toBeDefined());
    expect(await unreachable(general)).toBeUndefined();
    expect(await discord.deliverToChat(`discord:${general.id}`, { tone: 'info', text: 'still here' })).toEqual({ status: 'sent' });
  });

  it('marks a deleted channel, and only that one', async () => {
    const [general, alerts] = guild.channels as [StandinGuild['channels'][0], StandinGuild['channels'][0]];
    standin.deleteChannel(alerts);
    await vi.waitFor(async () => expect(await unreachable(alerts)).toBe(core.clock.now()));
    expect((await states(alerts)).get(`discord:${alerts.id}`)?.unreachableReason).toBe('the channel was deleted');
    expect(await unreachable(general)).toBeUndefined();
    expect(posts()).toBe(0);
  });
});

describe('Discord and Telegram in one process', () => {
  it('runs both from the configuration on one core, and each answers', async () => {
    await stopDefault();
    const telegram = await startTelegramStandin({ now: () => core.clock.now() });
    const config = loadConfig({
      TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
      DISCORD_TOKEN: standin.token, DISCORD_APPLICATION_ID: standin.applicationId, DISCORD_API_URL: standin.api,
    });
    const adapters = configuredChatAdapters(config, core.core, logger);
    expect(adapters.map((a) => a.platform)).toEqual(['telegram', 'discord']);
    try {
      await startChatAdapters(adapters);
      const tom = telegram.user(3001, 'Tom');
      await telegram.send(tom, '/price btc');
      expect((await telegram.waitFor(() => telegram.botMessages(tom.id)[0])).text).toMatch(/BTC/);
      expect((await slash(ann, 'price', { coins: 'btc' })).text).toMatch(/BTC/);
    } finally {
      await stopChatAdapters(adapters, logger);
      await telegram.close();
    }
  });

  it('validates the Discord configuration: token and application id go together', () => {
    expect(() => loadConfig({ DISCORD_TOKEN: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ DISCORD_APPLICATION_ID: '1100000000000000001' })).toThrow(/go together/);
    expect(() => loadConfig({ DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: 'abc' })).toThrow(/DISCORD_APPLICATION_ID/);
    expect(loadConfig({ DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '1100000000000000001' })).toMatchObject({ DISCORD_REGISTER_AT_START: true });
    expect(loadConfig({ DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '1100000000000000001', DISCORD_REGISTER_AT_START: 'false' })).toMatchObject({ DISCORD_REGISTER_AT_START: false });
  });
});

/** Stops the bot beforeEach started (a test that needs another one). */
async function stopDefault(): Promise<void> {
  await discord.stop();
  started.splice(started.indexOf(discord), 1);
}
