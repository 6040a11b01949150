// The Discord stand-in against the real discord.js Client: login over the gateway, interactions,
// interaction callbacks with the 3-second deadline, rate limits, command validation, resume, intents.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Routes,
  type Interaction,
} from 'discord.js';
import { REST } from '@discordjs/rest';
import { WebSocket } from 'ws';
import { createInflate } from 'node:zlib';
import { startDiscordStandin, type DiscordStandin, type DiscordUser, type StandinGuild } from './support/discord-standin.js';

const COMMANDS = [
  {
    name: 'alert',
    description: 'Price alerts',
    options: [
      {
        type: 1, name: 'add', description: 'Add an alert',
        options: [
          { type: 3, name: 'coin', description: 'Coin', required: true, autocomplete: true },
          { type: 3, name: 'direction', description: 'Above or below', required: true, choices: [{ name: 'above', value: 'above' }, { name: 'below', value: 'below' }] },
          { type: 10, name: 'price', description: 'Price', required: true, min_value: 0 },
          { type: 5, name: 'email', description: 'Also by email' },
        ],
      },
      { type: 1, name: 'remove', description: 'Remove an alert', options: [{ type: 4, name: 'id', description: 'Alert id', required: true }] },
    ],
  },
  { name: 'portfolio', description: 'Your portfolio' },
];

/** The error of a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; code: number | string; rawError: any }> {
  return call.then(
    () => {
      throw new Error('expected Discord to refuse the call');
    },
    (error: DiscordAPIError) => error as unknown as { status: number; code: number | string; rawError: any },
  );
}

/** A gate the bot's handler waits on, so a test can move the stand-in's clock in between. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('Discord stand-in with the real discord.js client', () => {
  let clock: number;
  let standin: DiscordStandin;
  let client: Client;
  let ann: DiscordUser;
  let guild: StandinGuild;
  const clients: Client[] = [];

  async function login(intents: GatewayIntentBits[] = [GatewayIntentBits.Guilds]): Promise<Client> {
    // discord.js waits 5 s between IDENTIFYs (max_concurrency 1); a test that re-identifies need not.
    const c = new Client({ intents, rest: { api: standin.api, offset: 0 }, ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => undefined }) } });
    clients.push(c);
    const ready = once(c, Events.ClientReady);
    await c.login(standin.token);
    await ready;
    return c;
  }

  beforeEach(async () => {
    clock = Date.UTC(2026, 0, 15, 12, 0, 0);
    standin = await startDiscordStandin({ now: () => clock, heartbeatIntervalMs: 60_000 });
    ann = standin.user({ username: 'ann' });
    guild = standin.guild({ name: 'Traders', channels: ['general', 'alerts'], members: [ann] });
    client = await login();
    await client.application!.commands.set(COMMANDS, guild.id);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.destroy();
    await standin.close();
  });

  it('logs in over the gateway: /gateway/bot, HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats acknowledged', async () => {
    expect(client.user!.id).toBe(standin.applicationId);
    expect(client.application!.id).toBe(standin.applicationId);
    const cached = client.guilds.cache.get(guild.id)!;
    expect(cached.name).toBe('Traders');
    expect(cached.channels.cache.map((c) => c.name).sort()).toEqual(['alerts', 'general']);
    const [first] = standin.connections;
    expect(first).toMatchObject({ path: '/gateway', identified: true, compression: 'none' });
    expect(first!.query).toEqual({ v: '10', encoding: 'json' });
    const identify = first!.received.find((r) => r.op === 2)!.d as { intents: number; token: string };
    expect(identify.intents).toBe(GatewayIntentBits.Guilds);
    expect(standin.requests.find((r) => r.route === 'GET /gateway/bot')).toMatchObject({ status: 200, authorized: true });
    // The stand-in asks for a heartbeat (op 1); the client must answer at once, and gets op 11.
    standin.requestHeartbeat();
    await standin.waitFor(() => first!.heartbeats >= 1);
    expect(first!.acks).toBe(first!.heartbeats);
    // The guild commands were stored as Discord stores them.
    expect(standin.commands(guild.id).map((c) => c.name)).toEqual(['alert', 'portfolio']);
    expect(standin.commands(guild.id)[0]).toMatchObject({ application_id: standin.applicationId, guild_id: guild.id, type: 1 });
  });

  it('delivers a slash command with a sub-command and typed options; an ephemeral reply is recorded and seen only by its user', async () => {
    const seen: Array<Record<string, unknown>> = [];
    client.on(Events.InteractionCreate, async (interaction: Interaction) => {
      if (!interaction.isChatInputCommand()) return;
      seen.push({
        command: interaction.commandName,
        sub: interaction.options.getSubcommand(),
        coin: interaction.options.getString('coin'),
        direction: interaction.options.getString('direction'),
        price: interaction.options.getNumber('price'),
        email: interaction.options.getBoolean('email'),
        user: interaction.user.username,
        inGuild: interaction.inGuild(),
      });
      await interaction.reply({ content: 'Alert set: BTC above 100,000.5', flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    });
    const bob = standin.user({ username: 'bob' });
    standin.join(guild, bob);
    const interaction = await standin.slash(ann, guild, 'alert add', { coin: 'btc', direction: 'above', price: 100000.5, email: true });
    expect(interaction.delivered).toBe(true);
    expect(interaction.data.options).toEqual([
      { name: 'add', type: 1, options: [
        { name: 'coin', type: 3, value: 'btc' },
        { name: 'direction', type: 3, value: 'above' },
        { name: 'price', type: 10, value: 100000.5 },
        { name: 'email', type: 5, value: true },
      ] },
    ]);
    const reply = await standin.waitFor(() => standin.original(interaction));
    expect(seen).toEqual([{ command: 'alert', sub: 'add', coin: 'btc', direction: 'above', price: 100000.5, email: true, user: 'ann', inGuild: true }]);
    expect(interaction.responses).toHaveLength(1);
    expect(interaction.responses[0]).toMatchObject({ type: 4, data: { content: 'Alert set: BTC above 100,000.5', flags: 64, allowed_mentions: { parse: [] } } });
    expect(reply).toMatchObject({ ephemeral: true, visibleTo: ann.id, content: 'Alert set: BTC above 100,000.5', loading: false, type: 20 });
    expect(reply.allowedMentions).toEqual({ parse: [] });
    const channel = guild.channels[0]!.id;
    expect(standin.messages(channel, { as: ann }).map((m) => m.content)).toEqual(['Alert set: BTC above 100,000.5']);
    expect(standin.messages(channel, { as: bob })).toEqual([]);
    // The callback answered 204 with no body, as Discord does.
    expect(standin.requests.find((r) => r.route === 'POST /interactions/:id/:token/callback')).toMatchObject({ status: 204, authorized: false });
  });

  it('defers, then edits the original response in place', async () => {
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply();
      await interaction.editReply({ content: 'Portfolio: $10,000.00 cash', embeds: [{ title: 'Holdings', description: 'none yet' }] });
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    const edited = await standin.waitFor(() => {
      const original = standin.original(interaction);
      return original?.content ? original : undefined;
    });
    expect(interaction.responses.map((r) => r.type)).toEqual([5]);
    expect(edited).toMatchObject({ loading: false, ephemeral: false, content: 'Portfolio: $10,000.00 cash' });
    expect(edited.history).toEqual([{ content: '', embeds: [], components: [] }]);
    expect(standin.textOf(edited)).toBe('Portfolio: $10,000.00 cash\nHoldings\nnone yet');
    expect(standin.requests.find((r) => r.route === 'PATCH /webhooks/:id/:token/messages/:id')).toMatchObject({ path: expect.stringContaining('/messages/@original'), status: 200 });
  });

  it('refuses a callback after 3 s with 404 Unknown interaction (10062), and a second callback with 40060', async () => {
    const wait = gate();
    const outcome: Array<unknown> = [];
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await wait.opened;
      await interaction.reply('too late').then(() => outcome.push('ok'), (error) => outcome.push(error));
    });
    const late = await standin.slash(ann, guild, 'portfolio');
    clock += 3001; // the stand-in's clock: no real waiting
    wait.open();
    const error = await standin.waitFor(() => outcome[0]);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect(error).toMatchObject({ status: 404, code: 10062, message: 'Unknown interaction' });
    expect(late.acknowledged).toBe(false);
    expect(standin.original(late)).toBeUndefined();

    // On time, but twice: discord.js refuses a second reply itself, so send the second callback raw.
    const twice = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => twice.acknowledged);
    const second = await refusal(client.rest.post(Routes.interactionCallback(twice.id, twice.token), { body: { type: 4, data: { content: 'again' } }, auth: false }));
    expect(second).toMatchObject({ status: 400, code: 40060 });
  });

  it('waits out an injected 429 (Retry-After, X-RateLimit-*) and the call then succeeds', async () => {
    const rateLimited: unknown[] = [];
    client.rest.on('rateLimited', (info) => rateLimited.push(info));
    standin.inject429({ route: 'POST /channels/:id/messages', retryAfter: 0.03, retryAfterHeader: 0.03 });
    const sent = await client.users.send(ann.id, 'Your BTC alert fired: 100,000.50');
    expect(sent.content).toBe('Your BTC alert fired: 100,000.50');
    const posts = standin.requests.filter((r) => r.route === 'POST /channels/:id/messages');
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(posts[0]!.response).toEqual({ message: 'You are being rate limited.', retry_after: 0.03, global: false });
    expect(standin.counts.injected429).toBe(1);
    expect(standin.dms(ann).map((m) => m.content)).toEqual(['Your BTC alert fired: 100,000.50']);
    // The same DM channel for the same recipient.
    const again = await client.users.createDM(ann.id, { force: true });
    expect(again.id).toBe(standin.dmChannel(ann).id);
    expect(standin.requests.filter((r) => r.route === 'POST /users/@me/channels').map((r) => (r.response as { id: string }).id)).toEqual([again.id, again.id]);
  });

  it('validates a bulk overwrite of commands with Discord error shape, and keeps the last good set', async () => {
    const bad = await refusal(client.application!.commands.set([{ name: 'Bad Name', description: 'x' }], guild.id));
    expect(bad).toBeInstanceOf(DiscordAPIError);
    expect(bad).toMatchObject({ status: 400, code: 50035 });
    expect(bad.rawError).toEqual({
      message: 'Invalid Form Body', code: 50035,
      errors: { '0': { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' }] } } },
    });
    const mixed = await refusal(
      client.application!.commands.set([{ name: 'coins', description: 'Coins', options: [{ type: 1, name: 'add', description: 'Add' }, { type: 3, name: 'id', description: 'Coin id' }] }] as never, guild.id),
    );
    expect(mixed).toMatchObject({ status: 400, code: 50035 });
    expect(mixed.rawError.errors['0'].options._errors[0].code).toBe('APPLICATION_COMMAND_OPTIONS_TYPE_INVALID');
    const tooLong = await refusal(client.application!.commands.set([{ name: 'x', description: 'd'.repeat(101) }], guild.id));
    expect(tooLong.rawError.errors['0'].description._errors[0]).toEqual({ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' });
    expect(standin.commands(guild.id).map((c) => c.name)).toEqual(['alert', 'portfolio']);
    // Global commands too, and GET returns what was stored.
    await client.application!.commands.set([{ name: 'price', description: 'Prices', options: [{ type: 3, name: 'coins', description: 'Coins', required: true }] }]);
    const fetched = await client.application!.commands.fetch();
    expect([...fetched.values()].map((c) => c.name)).toEqual(['price']);
    expect(standin.commands()[0]).toMatchObject({ name: 'price', dm_permission: true });
  });

  it('resumes after a dropped connection at resume_gateway_url and replays what was dispatched meanwhile', async () => {
    const received: string[] = [];
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      received.push(interaction.id);
      await interaction.reply({ content: 'pong', flags: MessageFlags.Ephemeral });
    });
    const resumed = once(client, Events.ShardResume);
    standin.dropConnection();
    // Sent while the bot is disconnected: kept for the session.
    const interaction = await standin.slash(ann, guild, 'portfolio');
    expect(interaction.delivered).toBe(false);
    await resumed;
    await standin.waitFor(() => standin.original(interaction));
    expect(received).toEqual([interaction.id]);
    const [first, second] = standin.connections;
    expect(first).toMatchObject({ closedWith: 4000, closedBy: 'server' });
    expect(second).toMatchObject({ path: '/resume', resumed: true, identified: false });
    const identify = first!.received.find((r) => r.op === 2);
    const ready = first!.sent.find((p) => p.t === 'READY')!;
    expect(identify).toBeDefined();
    const resume = second!.received.find((r) => r.op === 6)!.d as { session_id: string; seq: number; token: string };
    expect(resume.token).toBe(standin.token);
    // The client resumed from the last sequence number it saw on the first connection ...
    expect(resume.seq).toBe(Math.max(...first!.sent.filter((p) => p.op === 0).map((p) => p.s!)));
    expect(resume.seq).toBeGreaterThan(ready.s!);
    // ... and got the missed dispatch with the next one, then RESUMED.
    expect(second!.sent.map((p) => [p.op, p.t, p.s])).toEqual([[10, null, null], [0, 'INTERACTION_CREATE', resume.seq + 1], [0, 'RESUMED', resume.seq + 2]]);
    expect(standin.counts).toMatchObject({ identifies: 1, resumes: 1 });
  });

  it('refuses privileged intents that are not enabled with close code 4014, and allows them when enabled', async () => {
    const refused = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers], rest: { api: standin.api, offset: 0 } });
    clients.push(refused);
    const disconnected = once(refused, Events.ShardDisconnect);
    const loginResult = refused.login(standin.token).then(() => 'resolved', (error: Error) => error.message);
    const [event] = (await disconnected) as [{ code: number }];
    expect(event.code).toBe(4014);
    expect(await loginResult).toBe('Used disallowed intents');
    expect(standin.connections.at(-1)).toMatchObject({ closedWith: 4014, closedBy: 'server', identified: false });

    const allowing = await startDiscordStandin({ privilegedIntents: { guildMembers: true } });
    try {
      const ok = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers], rest: { api: allowing.api, offset: 0 } });
      clients.push(ok);
      const ready = once(ok, Events.ClientReady);
      await ok.login(allowing.token);
      await ready;
      expect(ok.application!.flags.bitfield & (1 << 15)).toBe(1 << 15);
    } finally {
      for (const c of clients.splice(1)) await c.destroy();
      await allowing.close();
    }
  });

  it('presses a button: a component interaction (type 3) with custom_id, answered by updating the message', async () => {
    client.on(Events.InteractionCreate, async (interaction) => {
      if (interaction.isChatInputCommand()) {
        const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId('page:2').setLabel('Next').setStyle(ButtonStyle.Primary),
          new ButtonBuilder().setURL('https://www.coingecko.com').setLabel('CoinGecko').setStyle(ButtonStyle.Link),
        );
        await interaction.reply({ content: 'Page 1', components: [row] });
      } else if (interaction.isButton()) {
        await interaction.update({ content: `Page 2 (${interaction.customId})`, components: [] });
      }
    });
    const command = await standin.slash(ann, guild, 'portfolio');
    const message = await standin.waitFor(() => standin.original(command));
    expect(standin.buttons(message)).toEqual([
      { label: 'Next', customId: 'page:2', style: 1, url: undefined, disabled: false },
      { label: 'CoinGecko', customId: undefined, style: 5, url: 'https://www.coingecko.com', disabled: false },
    ]);
    const press = await standin.press(ann, message, 'page:2');
    expect(press.payload.data).toEqual({ custom_id: 'page:2', component_type: 2 });
    await standin.waitFor(() => press.acknowledged);
    expect(press.responses[0]!.type).toBe(7);
    expect(standin.message(message.id)).toMatchObject({ content: 'Page 2 (page:2)', components: [] });
    expect(standin.message(message.id)!.history.map((h) => h.content)).toEqual(['Page 1']);
  });

  it('sends autocomplete (type 4) with the focused option and records the choices', async () => {
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isAutocomplete()) return;
      const focused = interaction.options.getFocused(true);
      await interaction.respond([{ name: `bitcoin (${focused.name}=${focused.value})`, value: 'bitcoin' }]);
    });
    const interaction = await standin.autocomplete(ann, guild, 'alert add', { coin: 'bi', price: 5 }, 'coin');
    expect(interaction.data.options[0].options).toEqual([{ name: 'coin', type: 3, value: 'bi', focused: true }, { name: 'price', type: 10, value: 5 }]);
    await standin.waitFor(() => interaction.choices);
    expect(interaction.choices).toEqual([{ name: 'bitcoin (coin=bi)', value: 'bitcoin' }]);
  });

  it("enforces Discord's message limits and the bot token", async () => {
    const channel = guild.channels[0]!.id;
    const long = await refusal(client.rest.post(Routes.channelMessages(channel), { body: { content: 'x'.repeat(2001) } }));
    expect(long.rawError).toEqual({ message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
    const embeds = Array.from({ length: 2 }, () => ({ description: 'y'.repeat(3001) }));
    const big = await refusal(client.rest.post(Routes.channelMessages(channel), { body: { embeds } }));
    expect(big.rawError.errors.embeds._errors[0].code).toBe('MAX_EMBED_SIZE_EXCEEDED');
    const buttons = Array.from({ length: 6 }, (_, i) => ({ type: 2, style: 1, label: `b${i}`, custom_id: `b${i}` }));
    const wide = await refusal(client.rest.post(Routes.channelMessages(channel), { body: { content: 'x', components: [{ type: 1, components: buttons }] } }));
    expect(wide.rawError.errors.components['0'].components._errors[0].code).toBe('BASE_TYPE_BAD_LENGTH');
    const empty = await refusal(client.rest.post(Routes.channelMessages(channel), { body: { content: '' } }));
    expect(empty).toMatchObject({ status: 400, code: 50006 });
    const stranger = new REST({ api: standin.api, offset: 0 }).setToken('not-the-token');
    const unauthorised = await refusal(stranger.get(Routes.user('@me')));
    expect(unauthorised).toMatchObject({ status: 401, code: 0 });
    expect(standin.messages(channel)).toEqual([]);
  });
  it('starts a new session when the old one cannot be resumed (op 9), and the client identifies again', async () => {
    const ready = once(client, Events.ShardReady);
    standin.dropConnection({ resumable: false });
    await ready;
    const [, second, third] = standin.connections;
    expect(second).toMatchObject({ path: '/resume', resumed: false });
    expect(second!.sent.map((p) => p.op)).toEqual([10, 9]);
    expect(third).toMatchObject({ path: '/gateway', identified: true });
    expect(standin.counts.identifies).toBe(2);
    // Interactions reach the new session.
    client.on(Events.InteractionCreate, async (interaction) => {
      if (interaction.isChatInputCommand()) await interaction.reply('still here');
    });
    const interaction = await standin.slash(ann, guild, 'portfolio');
    expect(interaction.delivered).toBe(true);
    await standin.waitFor(() => standin.original(interaction));
  });

  it('in a DM: the interaction carries the user, a follow-up after a defer fills the loading message, tokens last 15 minutes', async () => {
    await client.application!.commands.set([{ name: 'whoami', description: 'Who am I', contexts: [0, 1] }]);
    const wait = gate();
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.followUp({ content: `You are ${interaction.user.username}` });
      await wait.opened;
      await interaction.followUp({ content: 'a second one' }).catch((error: DiscordAPIError) => interaction.client.emit('debug', `late: ${error.code}`));
    });
    const late: string[] = [];
    client.on('debug', (line) => line.startsWith('late: ') && late.push(line));
    const interaction = await standin.slash(ann, 'dm', 'whoami');
    expect(interaction.payload).toMatchObject({ context: 1, user: { id: ann.id }, channel: { type: 1 } });
    expect(interaction.payload.member).toBeUndefined();
    const filled = await standin.waitFor(() => {
      const original = standin.original(interaction);
      return original?.content ? original : undefined;
    });
    // Documented: the first follow-up after a defer edits the loading message and keeps its ephemeral state.
    expect(filled).toMatchObject({ content: 'You are ann', ephemeral: true, loading: false });
    expect(standin.followups(interaction)).toEqual([]);
    clock += 15 * 60_000 + 1;
    wait.open();
    await standin.waitFor(() => late.length > 0);
    expect(late).toEqual(['late: 50027']);
    // A guild-only command is not offered in DMs.
    await expect(standin.slash(ann, 'dm', 'portfolio')).rejects.toThrow(/no command \/portfolio is registered globally/);
  });

  it('hides a command with default_member_permissions "0" from members who are not administrators', async () => {
    await client.application!.commands.set([...COMMANDS, { name: 'role', description: 'Set a role', default_member_permissions: '0' }], guild.id);
    await expect(standin.slash(ann, guild, 'role')).rejects.toThrow(/hides it/);
    const root = standin.user({ username: 'root' });
    standin.join(guild, root, { admin: true });
    const interaction = await standin.slash(root, guild, 'role');
    expect(interaction.payload.member.permissions).not.toBe('0');
    await expect(standin.slash(ann, guild, 'alert add', { coin: 'btc', direction: 'sideways', price: 1 })).rejects.toThrow(/choices/);
    await expect(standin.slash(ann, guild, 'alert', {})).rejects.toThrow(/needs a sub-command/);
  });
});

describe('Discord stand-in gateway protocol (raw WebSocket)', () => {
  let standin: DiscordStandin;
  beforeEach(async () => {
    standin = await startDiscordStandin({ heartbeatIntervalMs: 45_000 });
  });
  afterEach(async () => {
    await standin.close();
  });

  /** Connects, collects the payloads and the close code. */
  async function connect(query = '?v=10&encoding=json', compressed = false) {
    const ws = new WebSocket(`${standin.gatewayUrl}${query}`);
    const payloads: Array<{ op: number; d: any; s: number | null; t: string | null }> = [];
    const inflate = createInflate();
    let pending = '';
    inflate.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      try {
        payloads.push(JSON.parse(pending));
        pending = '';
      } catch {
        // a partial payload; more comes
      }
    });
    ws.on('message', (data, isBinary) => {
      if (compressed && isBinary) inflate.write(data as Buffer);
      else payloads.push(JSON.parse(String(data)));
    });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await once(ws, 'open');
    return { ws, payloads, closed, send: (p: unknown) => ws.send(JSON.stringify(p)) };
  }

  it('says HELLO with heartbeat_interval and acknowledges heartbeats before IDENTIFY', async () => {
    const c = await connect();
    await standin.waitFor(() => c.payloads.length >= 1);
    expect(c.payloads[0]).toMatchObject({ op: 10, d: { heartbeat_interval: 45_000 }, s: null, t: null });
    c.send({ op: 1, d: null });
    await standin.waitFor(() => c.payloads.length >= 2);
    expect(c.payloads[1]).toMatchObject({ op: 11 });
    c.ws.close(1000);
  });

  it('closes with Discord close codes: 4003 before IDENTIFY, 4004 bad token, 4001 unknown opcode, 4002 not JSON, 4012 bad version, 4013 invalid intents, 4005 twice', async () => {
    const identify = (token: string, intents = 1) => ({ op: 2, d: { token, intents, properties: { os: 'linux', browser: 'x', device: 'x' } } });
    const cases: Array<[string, unknown[], number]> = [
      ['?v=10&encoding=json', [{ op: 3, d: { status: 'online' } }], 4003],
      ['?v=10&encoding=json', [identify('wrong')], 4004],
      ['?v=10&encoding=json', [{ op: 99, d: null }], 4001],
      ['?v=10&encoding=json', ['not json'], 4002],
      ['?v=9&encoding=json', [], 4012],
      ['?v=10&encoding=json', [identify(standin.token, 1 << 30)], 4013],
      ['?v=10&encoding=json', [identify(standin.token), identify(standin.token)], 4005],
    ];
    for (const [query, payloads, code] of cases) {
      const c = await connect(query);
      for (const p of payloads) c.ws.send(typeof p === 'string' ? p : JSON.stringify(p));
      expect(await c.closed).toBe(code);
    }
  });

  it('speaks zlib-stream transport compression when asked', async () => {
    const c = await connect('?v=10&encoding=json&compress=zlib-stream', true);
    await standin.waitFor(() => c.payloads.length >= 1);
    expect(c.payloads[0]).toMatchObject({ op: 10 });
    c.send({ op: 2, d: { token: standin.token, intents: 1, properties: { os: 'linux', browser: 'x', device: 'x' } } });
    await standin.waitFor(() => c.payloads.find((p) => p.t === 'READY'));
    expect(c.payloads.find((p) => p.t === 'READY')).toMatchObject({ s: 1, d: { resume_gateway_url: standin.resumeGatewayUrl, application: { id: standin.applicationId } } });
    c.ws.close(1000);
  });
});
