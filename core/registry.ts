/**
 * The command registry: every command is declared once, and parsing, validation, permissions,
 * help and the platforms' command menus all derive from that declaration.
 *
 * Names follow the strictest platform's shape (Discord's application commands): a top-level name
 * is either one command with arguments ("buy") or a group of sub-commands ("coins add", "coins
 * remove"), never both. Typing the group's name alone, or with arguments that are not a
 * sub-command, runs the group's default sub-command: "/coins" is "/coins list" and "/alert btc
 * above 1" is "/alert set btc above 1", so text chats keep their short forms.
 */
import type { ArgSpec } from './args';
import type { Caller } from './domain';
import type { RichMessage } from './messages';
import type { ChatType, CommandContext } from './context';

export type ChatScope = 'private' | 'any';

type ArgValues<A extends Record<string, ArgSpec<any>>> = {
  [K in keyof A]: A[K] extends ArgSpec<infer T> ? T : never;
};

export interface CommandSpec<A extends Record<string, ArgSpec<any>> = Record<string, ArgSpec<any>>> {
  /** One word ("buy") or a group and a sub-command ("coins add"). */
  name: string;
  /** A sub-command that runs when its group's name is typed without one of its sub-commands. */
  groupDefault?: boolean;
  aliases?: string[];
  summary: string;
  /** Positional arguments, in order. */
  args: A;
  examples: string[];
  roles: readonly Caller[];
  /** 'private': refused in groups (passwords, link codes). */
  chats: ChatScope;
  /** What running it changes. 'trade' goes through the store's idempotent trade; 'state' is any
   *  other change, which a redelivered message must not run twice. Either way, a message that
   *  reaches the bot long after it was sent is refused rather than run late. */
  changes?: 'trade' | 'state';
  /** Everything typed after the command word is secret (a password, a link code): it is never
   *  recorded, logged or echoed, and a platform deletes it from a group where it can. */
  sensitive?: boolean;
  /** Its answers are for the caller alone (account details, staff lists): the dispatcher marks
   *  them private, and platforms that must decide before the answer exists (Discord's deferred
   *  replies) read it here. */
  answersPrivately?: boolean;
  /** Why a role is refused, when the matrix has a reason worth telling ("admins do not trade"). */
  deniedNote?: string;
  run(ctx: CommandContext, args: ArgValues<A>): Promise<RichMessage>;
}

export type AnyCommand = CommandSpec<Record<string, ArgSpec<any>>>;

/** Keeps the argument types of one declaration while storing it with the others. */
export function defineCommand<A extends Record<string, ArgSpec<any>>>(spec: CommandSpec<A>): AnyCommand {
  return spec as unknown as AnyCommand;
}

/** How the command is typed: "/alert [set] <coin> <above|below> <price>" (a group's default
 *  sub-command may be left out). */
export function usageOf(command: AnyCommand): string {
  const parts = Object.entries(command.args).map(([name, arg]) => {
    const label = arg.choices && arg.choices.length <= 4 ? arg.choices.join('|') : name;
    const shown = arg.rest ? `${label}...` : label;
    return arg.optional ? `[${shown}]` : `<${shown}>`;
  });
  const [group, sub] = command.name.split(' ');
  const name = command.groupDefault ? `/${group} [${sub}]` : `/${command.name}`;
  return [name, ...parts].join(' ');
}

/** A top-level entry of a platform's command menu: a command, or a group of sub-commands. */
export interface MenuEntry {
  name: string;
  summary: string;
  /** The group's sub-commands the callers may run, default first; empty for a plain command. */
  subcommands: AnyCommand[];
}

export class CommandRegistry {
  private readonly byName = new Map<string, AnyCommand>();
  /** Group name → its default sub-command. */
  private readonly defaults = new Map<string, AnyCommand>();

  constructor(readonly commands: readonly AnyCommand[]) {
    for (const command of commands) {
      for (const name of [command.name, ...(command.aliases ?? [])]) {
        if (this.byName.has(name)) throw new Error(`Command name /${name} is declared twice`);
        this.byName.set(name, command);
      }
      const [group, sub] = command.name.split(' ');
      if (command.groupDefault) {
        if (!sub) throw new Error(`/${command.name} is not a sub-command, so it cannot be its group's default`);
        if (this.defaults.has(group!)) throw new Error(`The group /${group} has two default sub-commands`);
        this.defaults.set(group!, command);
      }
    }
    for (const command of commands) {
      const group = command.name.split(' ')[0]!;
      if (command.name.includes(' ') && this.byName.get(group)?.name === group) {
        throw new Error(`/${group} is both a command and a group of sub-commands: make it a sub-command (e.g. /${group} list, groupDefault)`);
      }
    }
  }

  /** Finds the command for the leading words: a sub-command ("coins add"), a plain command
   *  ("buy"), or a group's default sub-command ("coins" → "coins list"). */
  resolve(words: string[]): { command: AnyCommand; consumed: number } | undefined {
    const [first, second] = words;
    if (first === undefined) return undefined;
    if (second !== undefined) {
      const sub = this.byName.get(`${first} ${second}`);
      if (sub) return { command: sub, consumed: 2 };
    }
    const command = this.byName.get(first) ?? this.defaults.get(first);
    return command && { command, consumed: 1 };
  }

  /** The command with exactly this name ("coins add") or alias, for structured input. */
  byExactName(name: string): AnyCommand | undefined {
    return this.byName.get(name);
  }

  allowed(command: AnyCommand, caller: Caller): boolean {
    return command.roles.includes(caller);
  }

  /** The commands any of `callers` may run in this kind of chat: what /help lists and what every
   *  platform's command menu is built from. */
  available(callers: readonly Caller[], chat: ChatType): AnyCommand[] {
    return this.commands.filter((c) => callers.some((caller) => this.allowed(c, caller)) && (c.chats === 'any' || chat === 'private'));
  }

  /** The top-level entries of a command menu for these callers in this kind of chat: each plain
   *  command, and each group once with the sub-commands they may run (its default's summary
   *  describes the group). */
  menu(callers: readonly Caller[], chat: ChatType): MenuEntry[] {
    const entries = new Map<string, MenuEntry>();
    for (const command of this.available(callers, chat)) {
      const [name, sub] = command.name.split(' ');
      if (!sub) {
        entries.set(name!, { name: name!, summary: command.summary, subcommands: [] });
        continue;
      }
      const entry = entries.get(name!) ?? { name: name!, summary: command.summary, subcommands: [] };
      if (command.groupDefault) {
        entry.summary = command.summary;
        entry.subcommands.unshift(command);
      } else entry.subcommands.push(command);
      entries.set(name!, entry);
    }
    return [...entries.values()];
  }

  /** The closest known names to a mistyped one, for "did you mean". */
  suggest(word: string, caller: Caller): string[] {
    const names = this.commands.filter((c) => this.allowed(c, caller)).flatMap((c) => [c.name.split(' ')[0]!, ...(c.aliases ?? [])]);
    const scored = [...new Set(names)]
      .map((name) => ({ name, distance: editDistance(word, name) }))
      .filter(({ name, distance }) => distance <= Math.max(1, Math.floor(name.length / 3)) || name.startsWith(word))
      .sort((a, b) => a.distance - b.distance);
    return scored.slice(0, 3).map((s) => s.name);
  }
}

/** Levenshtein distance, small inputs only. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
