/**
 * Core texts name commands the way a text chat types them: "/buy btc $250", "/coins", "/alert btc
 * above 1", "/link <code>". Each platform writes a command its own way: Telegram and the terminal
 * as typed; Discord as the slash command a user picks from its menu (a group's default
 * sub-command named, "/coins list", an alias by its command's name); Slack under its one slash
 * command ("/pulse buy"). `writeCommands` finds the commands a text names through the registry,
 * so what is a command is data, not a pattern each adapter guesses, and lets the platform write
 * each one.
 */
import type { RichMessage } from './messages';
import type { AnyCommand, CommandRegistry } from './registry';

/** How a platform writes a command a text names. `typed` is how the text names it, without the
 *  slash ("coins", "coins add", "b"); the result replaces "/<typed>". */
export type CommandWriter = (command: AnyCommand, typed: string) => string;

/** "/word", "/word word" or a usage line's "/word [word]" (a default sub-command that may be left
 *  out), not inside a word, a path or an address (https://t.me/bot). */
const MENTION = /(?<![\w/.:@-])\/([a-z][a-z0-9_]*)(?: (\[?)([a-z][a-z0-9_]*)(\]?))?/g;

export function writeCommands(text: string, registry: CommandRegistry, write: CommandWriter): string {
  return text.replace(MENTION, (whole, first: string, open: string, second: string | undefined, close: string) => {
    const bracketed = open === '[' && close === ']';
    // A second word counts only as it is ("coins add") or in whole brackets ("alert [set]").
    const sub = second !== undefined && (bracketed || (!open && !close)) ? second : undefined;
    const found = registry.resolve(sub === undefined ? [first] : [first, sub]);
    if (!found) return whole;
    if (found.consumed === 2) return write(found.command, bracketed ? `${first} [${sub}]` : `${first} ${sub}`);
    return write(found.command, first) + whole.slice(1 + first.length);
  });
}

/** The message with every command it names written the platform's way (button commands are not
 *  shown to the user, so they stay as they are). */
export function writeCommandsIn(message: RichMessage, registry: CommandRegistry, write: CommandWriter): RichMessage {
  const w = (text: string) => writeCommands(text, registry, write);
  return {
    ...message,
    ...(message.title !== undefined && { title: w(message.title) }),
    ...(message.text !== undefined && { text: w(message.text) }),
    ...(message.footer !== undefined && { footer: w(message.footer) }),
    ...(message.fields && { fields: message.fields.map((f) => ({ label: f.label, value: w(f.value) })) }),
  };
}
