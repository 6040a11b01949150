// The registry as Discord application commands: the payload Discord would accept, one Discord
// command or sub-command per registry command and back, staff commands hidden in guilds, coin
// autocomplete, the registration script, and a bulk overwrite against the Discord stand-in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { REST, type APIChatInputApplicationCommandInteractionData, type APIAutocompleteApplicationCommandInteractionData, type APIApplicationCommandOption, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { args, optional } from '../core/args';
import { DEFAULT_COINS } from '../core/coins';
import { ALL_COMMANDS } from '../core/commands';
import { validateArgs } from '../core/dispatcher';
import type { Coin } from '../core/domain';
import { reply } from '../core/messages';
import { CommandRegistry, defineCommand, type AnyCommand } from '../core/registry';
import {
  answersEphemerally, applicationCommands, autocompleteRequest, coinChoices, commandFromInteraction, isStaffOnly, registerCommands, STAFF_ONLY_PERMISSIONS,
} from '../adapters/discord/commands';
import { startDiscordStandin, validateCommands, type DiscordStandin, type DiscordUser, type StandinGuild } from './support/discord-standin';

const ROOT = resolve(import.meta.dirname, '..');
const registry = new CommandRegistry(ALL_COMMANDS);
// Every command is a chat-input command (the type Discord's body also allows context menus in).
const payload = applicationCommands(registry) as RESTPostAPIChatInputApplicationCommandsJSONBody[];

/** A valid value for every argument of every command, as a Discord user would pick it. */
const SAMPLES: Record<string, Record<string, string | number>> = {
  start: { code: 'ABCD1234' },
  help: { command: 'buy' },
  about: {},
  whoami: {},
  signup: { username: 'ann_b', email: 'ann@example.com' },
  login: { email: 'ann@example.com', password: 'correct horse battery' },
  link: { code: '7KQ2M9XD' },
  unlink: {},
  price: { coins: 'btc eth' },
  'coins list': {},
  news: { coin: 'btc' },
  'chart price': { coin: 'btc', range: '30d' },
  'chart portfolio': { range: '90d' },
  leaderboard: { period: 'all' },
  'coins add': { id: 'pepe' },
  'coins remove': { id: 'pepe' },
  buy: { coin: 'btc', amount: '$250', order: 'at 60000 for 7d' },
  sell: { coin: 'eth', amount: '25%' },
  orders: {},
  'order cancel': { id: '3f9a1c2b' },
  watchlist: {},
  'watch add': { coin: 'btc' },
  'watch remove': { coin: 'eth' },
  portfolio: {},
  history: { page: 2 },
  'alert set': { coin: 'bitcoin', condition: 'move', value: '5%', options: '1h up repeat 30m for 7d' },
  alerts: {},
  'alert remove': { id: '3f9a1c2b7d4e' },
  'broadcast list': {},
  'broadcast add': { coin: 'eth', condition: 'above', value: '4000' },
  'broadcast remove': { id: '3f9a1c2b7d4e' },
  'broadcast pause': {},
  'broadcast resume': {},
  'settings show': {},
  'settings currency': { currency: 'eur' },
  'settings email': { setting: 'off' },
  'settings alerts': { where: 'here' },
  'settings timezone': { zone: 'Europe/Athens' },
  'settings digest': { setting: 'on', hour: 18 },
  'settings leaderboard': { setting: 'off' },
  market: {},
  analysis: { coin: 'btc' },
  stats: {},
  users: { page: 3 },
  transactions: { page: 1, username: 'ann_b' },
  activity: { username: 'ann_b', page: 2 },
  role: { username: 'ann_b', role: 'analyst' },
};

const STAFF = ['role', 'users', 'activity', 'transactions', 'stats', 'market', 'analysis', 'coins add', 'coins remove'];

/** Every registry name the payload offers: "buy" for a command, "coins add" for a sub-command. */
function offered(body: typeof payload): string[] {
  return body.flatMap((command) => {
    const subs = (command.options ?? []).filter((o) => o.type === 1);
    return subs.length ? subs.map((s) => `${command.name} ${s.name}`) : [command.name];
  });
}

const command = (name: string, extra: Partial<AnyCommand> = {}): AnyCommand => defineCommand({
  name, summary: name, args: {}, examples: [], roles: ['user'], chats: 'any', run: async () => reply('info', { text: name }), ...extra,
});

describe('the application commands', () => {
  it('are accepted by Discord as a global and as a guild bulk overwrite', () => {
    expect(() => validateCommands(payload, { global: true })).not.toThrow();
    expect(() => validateCommands(payload, { global: false })).not.toThrow();
    // The validator does refuse a bad payload: an upper-case name, a description over 100.
    expect(() => validateCommands([{ ...payload[0], name: 'Start' }], { global: true })).toThrow(/Invalid Form Body/);
    expect(() => validateCommands([{ ...payload[0], description: 'x'.repeat(101) }], { global: true })).toThrow(/Invalid Form Body/);
  });

  it('offer every registry command exactly once, as a command or a group\'s sub-command', () => {
    const names = offered(payload);
    expect(names.length).toBe(ALL_COMMANDS.length);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(ALL_COMMANDS.map((c) => c.name).sort());
    expect(payload.map((c) => c.name)).toEqual([...new Set(ALL_COMMANDS.map((c) => c.name.split(' ')[0]!))]);
    // A group's default is an ordinary sub-command, listed first.
    const coins = payload.find((c) => c.name === 'coins')!;
    expect(coins.options?.map((o) => [o.type, o.name])).toEqual([[1, 'list'], [1, 'add'], [1, 'remove']]);
    // Private-only and secret-carrying commands are registered too (answered ephemerally in guilds).
    expect(payload.map((c) => c.name)).toEqual(expect.arrayContaining(['login', 'link', 'start']));
    expect(['login', 'link', 'start', 'whoami', 'activity'].every((n) => answersEphemerally(registry, n))).toBe(true);
    expect(answersEphemerally(registry, 'buy')).toBe(false);
  });

  it('type each argument: choices, whole-number pages, text for amounts and prices, coin autocomplete, one option for several words', () => {
    const leaf = (path: string): APIApplicationCommandOption[] => {
      const [root, sub] = path.split(' ');
      const top = payload.find((c) => c.name === root)!;
      const options = top.options ?? [];
      return sub ? ((options.find((o) => o.name === sub) as { options?: APIApplicationCommandOption[] }).options ?? []) : options;
    };
    expect(leaf('buy')).toEqual([
      { type: 3, name: 'coin', description: 'Coin id or symbol, e.g. btc or bitcoin', required: true, autocomplete: true },
      { type: 3, name: 'amount', description: 'Cash in US dollars like $250, or a coin quantity like 0.5', required: true },
      // "at 60000 for 7d" makes it an order: the rest of the line, one optional text option.
      expect.objectContaining({ type: 3, name: 'order', required: false }),
    ]);
    expect(leaf('alert set')).toEqual([
      expect.objectContaining({ name: 'coin', type: 3, autocomplete: true }),
      { type: 3, name: 'condition', description: 'Above, below or move', required: true, choices: ['above', 'below', 'move'].map((c) => ({ name: c, value: c })) },
      // A price stays text: the core reads "$65000" and 0.00000001 exactly, a double would not.
      { type: 3, name: 'value', description: 'A price in your currency (above, below) or a percent like 5% (move)', required: true },
      // The rest of the line ("1h up repeat 30m for 7d") is one optional text option.
      expect.objectContaining({ type: 3, name: 'options', required: false }),
    ]);
    // An hour is a whole number Discord bounds itself.
    expect(leaf('settings digest')[1]).toEqual({ type: 4, name: 'hour', description: 'The hour of your day it comes, 0-23 (8 unless you say)', required: false, min_value: 0, max_value: 23 });
    expect(leaf('history')).toEqual([{ type: 4, name: 'page', description: 'Page number', required: false, min_value: 1, max_value: 99999 }]);
    expect(leaf('price')).toEqual([{ type: 3, name: 'coins', description: 'One or more coin ids or symbols, separated by spaces', required: true, autocomplete: true }]);
    expect(leaf('role')[1]).toMatchObject({ name: 'role', choices: ['user', 'admin', 'analyst', 'moderator'].map((r) => ({ name: r, value: r })) });
    expect(leaf('settings currency')[0]!).toMatchObject({ name: 'currency', type: 3 });
    // Adding a coin names a new CoinGecko id: nothing to complete from. Removing one does.
    expect(leaf('coins add')[0]).not.toHaveProperty('autocomplete');
    expect(leaf('coins remove')[0]).toMatchObject({ autocomplete: true });
    // Usable in servers and in DMs with the bot.
    for (const c of payload) expect(c).toMatchObject({ contexts: [0, 1], integration_types: [0] });
  });

  it('hide staff-only commands in guilds (default_member_permissions "0"), and a group only when all of it is staff', () => {
    expect(ALL_COMMANDS.filter(isStaffOnly).map((c) => c.name).sort()).toEqual([...STAFF].sort());
    const hidden = payload.filter((c) => c.default_member_permissions === STAFF_ONLY_PERMISSIONS).map((c) => c.name);
    expect(STAFF_ONLY_PERMISSIONS).toBe('0');
    expect(hidden.sort()).toEqual(['activity', 'analysis', 'market', 'role', 'stats', 'transactions', 'users']);
    expect(payload.find((c) => c.name === 'coins')).not.toHaveProperty('default_member_permissions');
    expect(payload.filter((c) => !hidden.includes(c.name)).every((c) => c.default_member_permissions === undefined)).toBe(true);

    const staffGroup = new CommandRegistry([command('vault open', { roles: ['admin'], groupDefault: true }), command('vault close', { roles: ['admin', 'moderator'] })]);
    expect(applicationCommands(staffGroup)[0] as RESTPostAPIChatInputApplicationCommandsJSONBody).toMatchObject({ name: 'vault', default_member_permissions: '0' });
  });

  it('refuse a declaration Discord cannot take: a required argument after an optional one, a bad name', () => {
    const late = new CommandRegistry([command('move', { args: { page: args.page(), coin: args.coin() } })]);
    expect(() => applicationCommands(late)).toThrow(/\/move: the required argument coin follows the optional page/);
    const upper = new CommandRegistry([command('move', { args: { Coin: args.coin() } })]);
    expect(() => applicationCommands(upper)).toThrow(/not a valid Discord name/);
    // A number that takes fractions is text, not an INTEGER option (nothing is rounded on the way).
    const fractional = new CommandRegistry([command('tip', { args: { amount: { kind: 'number', description: 'amount', schema: z.coerce.number() } } })]);
    expect((applicationCommands(fractional)[0] as RESTPostAPIChatInputApplicationCommandsJSONBody).options).toEqual([{ type: 3, name: 'amount', description: 'Amount', required: true }]);
    // Optional after required is fine.
    const fine = new CommandRegistry([command('move', { args: { coin: args.coin(), page: args.page(), note: optional(args.text('note', /.*/, 'x')) } })]);
    expect(() => applicationCommands(fine)).not.toThrow();
  });

  it('cut long summaries to 100 characters with an ellipsis', () => {
    const long = new CommandRegistry([command('long', { summary: 'a'.repeat(150), args: { what: args.text('b'.repeat(130), /.*/, 'x') } })]);
    const [c] = applicationCommands(long) as RESTPostAPIChatInputApplicationCommandsJSONBody[];
    expect(c!.description).toHaveLength(100);
    expect(c!.description.endsWith('…')).toBe(true);
    expect(c!.options![0]!.description).toMatch(/^Bb{98}…$/);
    expect(() => validateCommands([c], { global: true })).not.toThrow();
  });
});

describe('interactions back to core commands', () => {
  it('has a valid sample for every command (so the round trip below covers them all)', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(ALL_COMMANDS.map((c) => c.name).sort());
    for (const c of ALL_COMMANDS) {
      const raw = Object.fromEntries(Object.entries(SAMPLES[c.name]!).map(([k, v]) => [k, String(v)]));
      expect(validateArgs(c, raw), `/${c.name}`).toEqual(expect.objectContaining({ ok: true }));
    }
  });

  it('maps a sub-command to its registry name and passes values as Discord typed them', () => {
    const data = (name: string, options: unknown[]) => ({ id: '1', name, type: 1, options }) as unknown as APIChatInputApplicationCommandInteractionData;
    expect(commandFromInteraction(registry, data('coins', [{ type: 1, name: 'add', options: [{ type: 3, name: 'id', value: 'pepe' }] }]))).toEqual({ name: 'coins add', args: { id: 'pepe' } });
    expect(commandFromInteraction(registry, data('coins', [{ type: 1, name: 'list' }]))).toEqual({ name: 'coins list', args: {} });
    expect(commandFromInteraction(registry, data('history', [{ type: 4, name: 'page', value: 3 }]))).toEqual({ name: 'history', args: { page: 3 } });
    expect(commandFromInteraction(registry, data('history', []))).toEqual({ name: 'history', args: {} });
    // Not ours: an unknown name, an alias (never registered), a group without its sub-command,
    // a sub-command that does not exist, a sub-command group.
    expect(commandFromInteraction(registry, data('launch', []))).toBeUndefined();
    expect(commandFromInteraction(registry, data('pf', []))).toBeUndefined();
    expect(commandFromInteraction(registry, data('coins', []))).toBeUndefined();
    expect(commandFromInteraction(registry, data('coins', [{ type: 1, name: 'burn' }]))).toBeUndefined();
    expect(commandFromInteraction(registry, data('coins', [{ type: 2, name: 'x', options: [{ type: 1, name: 'add' }] }]))).toBeUndefined();
  });

  describe('through the Discord stand-in', () => {
    let standin: DiscordStandin;
    let rest: REST;
    let admin: DiscordUser;
    let member: DiscordUser;
    let guild: StandinGuild;

    beforeEach(async () => {
      standin = await startDiscordStandin({ now: () => Date.UTC(2026, 0, 15, 12) });
      rest = new REST({ api: standin.api, retries: 0 }).setToken(standin.token);
      admin = standin.user({ username: 'root' });
      member = standin.user({ username: 'ann' });
      guild = standin.guild({ name: 'Traders', admins: [admin], members: [member] });
    });
    afterEach(async () => {
      await standin.close();
    });

    it('a guild registration puts exactly the payload, and replaces what was there', async () => {
      await rest.put(`/applications/${standin.applicationId}/guilds/${guild.id}/commands`, { body: [{ name: 'stale', description: 'old' }] });
      const stored = await registerCommands({ rest, applicationId: standin.applicationId, guildId: guild.id, registry });
      const shape = (list: Array<Record<string, unknown>>) => list.map((c) => ({
        name: c.name, description: c.description, options: c.options, default_member_permissions: c.default_member_permissions ?? null, contexts: c.contexts,
      }));
      expect(shape(standin.commands(guild.id) as never)).toEqual(shape(payload as never));
      expect(stored.map((c) => c.name)).toEqual(payload.map((c) => c.name));
      expect(standin.commands()).toEqual([]);
      const put = standin.requests.filter((r) => r.method === 'PUT');
      expect(put.at(-1)).toMatchObject({ path: `/applications/${standin.applicationId}/guilds/${guild.id}/commands`, status: 200 });
      expect(put.at(-1)!.body).toEqual(JSON.parse(JSON.stringify(payload)));
    });

    it('every command round-trips: a Discord user runs it with sample values and the core gets the same name and values', async () => {
      await registerCommands({ rest, applicationId: standin.applicationId, guildId: guild.id, registry });
      for (const c of ALL_COMMANDS) {
        const sample = SAMPLES[c.name]!;
        const interaction = await standin.slash(admin, guild, c.name, sample);
        const structured = commandFromInteraction(registry, interaction.data as APIChatInputApplicationCommandInteractionData);
        expect(structured, `/${c.name}`).toEqual({ name: c.name, args: sample });
        // And the dispatcher's validation accepts what came through.
        const raw = Object.fromEntries(Object.entries(structured!.args).map(([k, v]) => [k, String(v)]));
        expect(validateArgs(c, raw).ok, `/${c.name}`).toBe(true);
      }
      // Optional options left out arrive absent.
      const bare = await standin.slash(admin, guild, 'transactions', {});
      expect(commandFromInteraction(registry, bare.data as APIChatInputApplicationCommandInteractionData)).toEqual({ name: 'transactions', args: {} });
    });

    it('staff commands are hidden from plain members in a guild but work in a DM, where the core decides', async () => {
      await registerCommands({ rest, applicationId: standin.applicationId, guildId: guild.id, registry });
      await expect(standin.slash(member, guild, 'stats')).rejects.toThrow(/Discord hides it from ann/);
      await expect(standin.slash(member, guild, 'role', { username: 'ann_b', role: 'admin' })).rejects.toThrow(/hides it/);
      await expect(standin.slash(admin, guild, 'stats')).resolves.toBeDefined();
      // /coins is public as a whole: /coins add is visible, and the core refuses non-admins.
      await expect(standin.slash(member, guild, 'coins add', { id: 'pepe' })).resolves.toBeDefined();

      // Global registration: usable in DMs with the bot, staff commands included.
      await registerCommands({ rest, applicationId: standin.applicationId, registry });
      expect(standin.commands().map((c) => c.name)).toEqual(payload.map((c) => c.name));
      const dm = await standin.slash(member, 'dm', 'stats');
      expect(commandFromInteraction(registry, dm.data as APIChatInputApplicationCommandInteractionData)).toEqual({ name: 'stats', args: {} });
      const login = await standin.slash(member, 'dm', 'login', { email: 'ann@example.com', password: 'pw' });
      expect(commandFromInteraction(registry, login.data as APIChatInputApplicationCommandInteractionData)).toEqual({ name: 'login', args: { email: 'ann@example.com', password: 'pw' } });
    });

    it('an autocomplete interaction names the command, the focused coin option and what was typed', async () => {
      await registerCommands({ rest, applicationId: standin.applicationId, guildId: guild.id, registry });
      const buy = await standin.autocomplete(member, guild, 'buy', { coin: 'bi', amount: '$5' }, 'coin');
      expect(autocompleteRequest(registry, buy.data as APIAutocompleteApplicationCommandInteractionData)).toEqual({ command: 'buy', arg: 'coin', typed: 'bi', coin: true });
      const remove = await standin.autocomplete(admin, guild, 'coins remove', { id: 'do' }, 'id');
      expect(autocompleteRequest(registry, remove.data as APIAutocompleteApplicationCommandInteractionData)).toEqual({ command: 'coins remove', arg: 'id', typed: 'do', coin: true });
      // Options that are not coins do not autocomplete at all.
      await expect(standin.autocomplete(member, guild, 'buy', { coin: 'btc', amount: '$' }, 'amount')).rejects.toThrow(/does not autocomplete/);
    });
  });
});

describe('coin autocomplete', () => {
  const coins: Coin[] = DEFAULT_COINS.map(({ id, symbol, name }) => ({ id, symbol, name }));

  it('matches id, symbol and name, prefixes first, in catalogue order; shows "SYMBOL · Name" and answers the id', () => {
    expect(coinChoices(coins, 'bit')).toEqual([
      { name: 'BTC · Bitcoin', value: 'bitcoin' },
      { name: 'BCH · Bitcoin Cash', value: 'bitcoin-cash' },
    ]);
    // "usd": prefix of tether's symbol usdt and of usd-coin; nothing contains it otherwise.
    expect(coinChoices(coins, 'USD').map((c) => c.value)).toEqual(['tether', 'usd-coin']);
    // "coin": prefix of nothing; inside binancecoin, usd-coin, dogecoin, bitcoin, bitcoin-cash.
    const coin = coinChoices(coins, 'coin').map((c) => c.value);
    expect(coin).toEqual(coins.filter((c) => [c.id, c.name.toLowerCase()].some((k) => k.includes('coin'))).map((c) => c.id));
    // "do" starts dogecoin, and polkadot's symbol dot.
    expect(coinChoices(coins, 'do').map((c) => c.value)).toEqual(['dogecoin', 'polkadot']);
    // Prefix matches come before substring matches, whatever the catalogue's order.
    const wrapped: Coin[] = [{ id: 'wrapped-bitcoin', symbol: 'wbtc', name: 'Wrapped Bitcoin' }, { id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' }];
    expect(coinChoices(wrapped, 'bit').map((c) => c.value)).toEqual(['bitcoin', 'wrapped-bitcoin']);
    expect(coinChoices(coins, 'zzz')).toEqual([]);
  });

  it('offers at most 25, the first ones when nothing is typed', () => {
    const many: Coin[] = Array.from({ length: 40 }, (_, i) => ({ id: `coin-${i}`, symbol: `c${i}`, name: `Coin ${i}` }));
    expect(coinChoices(many, '')).toHaveLength(25);
    expect(coinChoices(many, '').map((c) => c.value)).toEqual(many.slice(0, 25).map((c) => c.id));
    expect(coinChoices(many, 'coin-3').map((c) => c.value)).toEqual(['coin-3', 'coin-30', 'coin-31', 'coin-32', 'coin-33', 'coin-34', 'coin-35', 'coin-36', 'coin-37', 'coin-38', 'coin-39']);
  });

  it('completes the last word of a several-coins option, keeping the earlier ones', () => {
    expect(coinChoices(coins, 'btc et')).toEqual([{ name: 'btc ETH · Ethereum', value: 'btc ethereum' }, { name: 'btc USDT · Tether', value: 'btc tether' }]);
    expect(coinChoices(coins, 'btc ').length).toBe(Math.min(25, coins.length));
    expect(coinChoices(coins, 'btc ')[0]).toEqual({ name: 'btc BTC · Bitcoin', value: 'btc bitcoin' });
  });

  it('keeps names and values within Discord\'s 100 characters', () => {
    const long: Coin[] = [{ id: 'a'.repeat(64), symbol: 's'.repeat(40), name: 'N'.repeat(90) }];
    const [choice] = coinChoices(long, 'a');
    expect(choice!.name.length).toBeLessThanOrEqual(100);
    expect(choice!.value).toBe('a'.repeat(64));
    // A value that would pass 100 characters is not offered rather than cut.
    expect(coinChoices(long, `${'b'.repeat(40)} a`)).toEqual([]);
  });
});

describe('npm run discord:register', () => {
  it('--print prints exactly the payload, with no token and no network', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DISCORD_')));
    // Any .env the developer has must not matter either.
    env.DOTENV_CONFIG_PATH = resolve(ROOT, 'test', 'no-such.env');
    const { stdout } = await promisify(execFile)('npm', ['run', 'discord:register', '--', '--print'], { cwd: ROOT, env, timeout: 60_000 });
    const json = stdout.slice(stdout.indexOf('\n[') + 1);
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(payload)));
  }, 60_000);

  it('without --print and without a token, says which variable is missing', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DISCORD_')));
    env.DOTENV_CONFIG_PATH = resolve(ROOT, 'test', 'no-such.env');
    const run = promisify(execFile)('npx', ['tsx', 'src/scripts/discord-register.ts'], { cwd: ROOT, env, timeout: 60_000 });
    await expect(run).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('DISCORD_TOKEN and DISCORD_APPLICATION_ID are required') });
  }, 60_000);

  it('registers against DISCORD_API_URL, in DISCORD_GUILD_ID when set', async () => {
    const standin = await startDiscordStandin();
    try {
      const guild = standin.guild({ name: 'Dev' });
      const env: Record<string, string | undefined> = {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DISCORD_'))),
        DOTENV_CONFIG_PATH: resolve(ROOT, 'test', 'no-such.env'),
        DISCORD_TOKEN: standin.token, DISCORD_APPLICATION_ID: standin.applicationId, DISCORD_API_URL: standin.api, DISCORD_GUILD_ID: guild.id,
      };
      const { stdout } = await promisify(execFile)('npx', ['tsx', 'src/scripts/discord-register.ts'], { cwd: ROOT, env, timeout: 60_000 });
      expect(stdout).toContain(`Registered ${payload.length} commands in server ${guild.id}`);
      expect(standin.commands(guild.id).map((c) => c.name)).toEqual(payload.map((c) => c.name));
      expect(standin.commands()).toEqual([]);
    } finally {
      await standin.close();
    }
  }, 60_000);
});
