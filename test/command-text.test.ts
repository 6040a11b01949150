/**
 * Core texts name commands as a text chat types them; each platform writes them its own way
 * (core/command-text.ts). Which words are commands comes from the registry.
 */
import { describe, expect, it } from 'vitest';
import { discordCommand } from '../adapters/discord/commands';
import { writeCommands, writeCommandsIn, type CommandWriter } from '../core/command-text';
import { ALL_COMMANDS } from '../core/commands';
import { CommandRegistry } from '../core/registry';

const registry = new CommandRegistry(ALL_COMMANDS);
/** Slack's shape: every command under one slash command, as typed. */
const underPulse: CommandWriter = (_command, typed) => `/pulse ${typed}`;

describe('commands named in core texts', () => {
  it('are written as Discord\'s slash commands: groups with their default sub-command, aliases by name', () => {
    const write = (text: string) => writeCommands(text, registry, discordCommand);
    expect(write('Try /price btc, then /buy btc $100.')).toBe('Try /price btc, then /buy btc $100.');
    expect(write('/coins lists them; /coins add pepe tracks one')).toBe('/coins list lists them; /coins add pepe tracks one');
    expect(write('Set one: /alert btc above 100000. /alert remove <id> frees one.')).toBe('Set one: /alert set btc above 100000. /alert remove <id> frees one.');
    expect(write('(/b btc 1) or /currency eur')).toBe('(/buy btc 1) or /settings currency eur');
    // Usage lines, where a default sub-command may be left out in text chats.
    expect(write('Usage: /alert [set] <coin> <above|below> <price>')).toBe('Usage: /alert set <coin> <above|below> <price>');
    expect(write('/coins [list]: List the coins')).toBe('/coins list: List the coins');
  });

  it('are written under one slash command where the platform has one', () => {
    expect(writeCommands('Send /link 7KQ2M9XD, or /help.', registry, underPulse)).toBe('Send /pulse link 7KQ2M9XD, or /pulse help.');
    expect(writeCommands('Usage: /alert [set] <coin>', registry, underPulse)).toBe('Usage: /pulse alert [set] <coin>');
  });

  it('leave what is not a command alone: unknown words, paths and links', () => {
    const text = 'See https://t.me/bot?start=X, a/b, /etc/hosts and /nonsense; 50/50.';
    expect(writeCommands(text, registry, underPulse)).toBe(text);
  });

  it('are rewritten in every part of a message a user reads, not in button commands', () => {
    const message = writeCommandsIn({
      tone: 'info', title: '/coins', text: 'Use /coins add', footer: '/help coins',
      fields: [{ label: '/coins', value: '/settings' }], buttons: [{ label: 'Next', command: '/coins 2' }],
    }, registry, discordCommand);
    expect(message).toEqual({
      tone: 'info', title: '/coins list', text: 'Use /coins add', footer: '/help coins',
      fields: [{ label: '/coins', value: '/settings show' }], buttons: [{ label: 'Next', command: '/coins 2' }],
    });
  });
});
