/**
 * The Discord bot end to end: the real discord.js client against the loopback Discord stand-in
 * (REST and gateway), on a whole core (in-memory SQLite, hand-set prices, manual clock shared with
 * the stand-in). Assertions are about what a Discord user would see: the messages the stand-in
 * shows them (ephemeral ones only to their user), buttons, edits in place, DMs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiscordBot, type DiscordBot, type DiscordBotOptions } from '../adapters/discord/bot';
import { AlertEngine } from '../core/alert-engine';
import type { LinkedIdentity } from '../core/domain';
import type { Logger } from '../core/ports';
import { configuredChatAdapters, startChatAdapters, stopChatAdapters } from '../src/adapters';
import { deliverThroughAdapters } from '../src/chat-delivery';
import { ConfigError, loadConfig } from '../src/config';
import { startDiscordStandin, type DiscordStandin, type DiscordUser, type StandinGuild, type StandinInteraction, type StandinMessage } from './support/discord-standin';
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
    expect(text).toContain('Set one with /alert set btc above 100000.');
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

  it('delivers a fired alert by DM, opening the DM once; a user with DMs closed is false, logged at info', async () => {
    await signup(ann);
    core.feed.set('bitcoin', '50000');
    await slash(ann, 'alert set', { coin: 'btc', condition: 'above', price: '55000' });
    expect(await core.store.listAlerts('ann')).toHaveLength(1);
    core.feed.set('bitcoin', '56000');
    const engine = new AlertEngine(core.core.services, deliverThroughAdapters([discord], logger));
    expect(await engine.check()).toBe(1);
    const dm = await standin.waitFor(() => standin.dms(ann)[0]);
    expect(standin.textOf(dm)).toMatch(/BTC is above \$55,000\.00/);
    const identity: LinkedIdentity = { key: `discord:${ann.id}`, platform: 'discord', username: 'ann', linkedAt: 0 };
    expect(await discord.deliverToUser(identity, { tone: 'info', text: 'second' })).toBe(true);
    expect(standin.requests.filter((r) => r.route === 'POST /users/@me/channels')).toHaveLength(1);

    const shy = standin.user({ username: 'shy', dmsOpen: false });
    expect(await discord.deliverToUser({ key: `discord:${shy.id}`, platform: 'discord', username: 'shy', linkedAt: 0 }, { tone: 'info', text: 'hi' })).toBe(false);
    expect(logger.lines.find((l) => l.obj.code === 50007)).toMatchObject({ level: 'info' });
    // Other platforms' addresses are not ours.
    expect(await discord.deliverToUser({ key: 'telegram:5', platform: 'telegram', username: 'x', linkedAt: 0 }, { tone: 'info', text: 'x' })).toBe(false);
    expect(await discord.deliverToChat('telegram:-100', { tone: 'info', text: 'x' })).toBe(false);
  });

  it('posts into a channel by its prefixed id, waiting out a 429 on the route', async () => {
    standin.inject429({ route: 'POST /channels/:id/messages', retryAfter: 0.05, retryAfterHeader: 0.05 });
    expect(await discord.deliverToChat(`discord:${channel().id}`, { tone: 'info', title: 'Maintenance at 13:00 UTC', text: 'Trading pauses for 5 minutes.' })).toBe(true);
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
