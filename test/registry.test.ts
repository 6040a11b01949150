/**
 * The registry's shape fits every platform: a top-level name is one command or a group of
 * sub-commands (Discord refuses a command that has both), while text chats keep their short forms.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { args } from '../core/args';
import { ALL_COMMANDS } from '../core/commands';
import { reply } from '../core/messages';
import { CommandRegistry, defineCommand, type AnyCommand } from '../core/registry';
import { makeTestBot, type TestBot } from './support/harness';

const command = (name: string, extra: Partial<AnyCommand> = {}): AnyCommand => defineCommand({
  name, summary: name, args: {}, examples: [], roles: ['user'], chats: 'any', run: async () => reply('info', { text: name }), ...extra,
});

describe('the registry', () => {
  it('refuses a name that is both a command and a group of sub-commands', () => {
    expect(() => new CommandRegistry([command('alert', { args: { coin: args.coin() } }), command('alert remove')])).toThrow(/\/alert is both a command and a group/);
    expect(() => new CommandRegistry([command('coins list', { groupDefault: true }), command('coins all', { groupDefault: true })])).toThrow(/two default sub-commands/);
    expect(() => new CommandRegistry([command('coins', { groupDefault: true })])).toThrow(/not a sub-command/);
  });

  it('holds the bot\'s own commands in that shape', () => {
    const registry = new CommandRegistry(ALL_COMMANDS);
    const names = ALL_COMMANDS.map((c) => c.name);
    for (const group of new Set(names.filter((n) => n.includes(' ')).map((n) => n.split(' ')[0]!))) {
      expect(names, `/${group} is a group`).not.toContain(group);
    }
    const menu = registry.menu(['user'], 'private');
    expect(menu.find((e) => e.name === 'coins')).toMatchObject({ summary: 'List the coins you can trade', subcommands: [{ name: 'coins list' }] });
    expect(menu.find((e) => e.name === 'alert')?.subcommands.map((c) => c.name)).toEqual(['alert set', 'alert remove']);
    expect(registry.menu(['admin'], 'private').find((e) => e.name === 'coins')?.subcommands.map((c) => c.name)).toEqual(['coins list', 'coins add', 'coins remove']);
    expect(menu.find((e) => e.name === 'buy')?.subcommands).toEqual([]);
  });
});

describe('short forms in text chats', () => {
  let bot: TestBot;
  beforeEach(async () => {
    bot = await makeTestBot();
    await bot.signup('ann');
  });
  afterEach(() => bot.close());

  it('run a group\'s default sub-command when only the group is named', async () => {
    expect(await bot.say('ann', '/coins')).toBe(await bot.say('ann', '/coins list'));
    expect(await bot.say('ann', '/settings')).toBe(await bot.say('ann', '/settings show'));
    expect(await bot.say('ann', '/alert btc above 1000000')).toMatch(/^Alert \w+ set: Bitcoin above \$1,000,000\.00\./);
    expect(await bot.say('ann', '/alert set eth below 1')).toMatch(/^Alert \w+ set: Ethereum below \$1\.00\./);
    expect(await bot.store.listAlerts('ann')).toHaveLength(2);
  });

  it('show the short form in help and usage lines', async () => {
    const help = await bot.say('ann', '/help alert');
    expect(help).toMatch(/^\/alert\n/);
    expect(help).toMatch(/^\/alert \[set\] <coin> <above\|below\|move> <value> \[options\.\.\.\]: Alert me when/m);
    expect(await bot.say('ann', '/alert btc sideways 5')).toMatch(/Usage: \/alert \[set\] <coin> <above\|below\|move> <value> \[options\.\.\.\]/);
  });
});
