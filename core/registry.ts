/**
 * The command registry: every command is declared once, and parsing, validation, permissions,
 * help and the platforms' command menus all derive from that declaration.
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
  /** One word ("buy") or a parent and a sub-command ("coins add"). */
  name: string;
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
  /** Why a role is refused, when the matrix has a reason worth telling ("admins do not trade"). */
  deniedNote?: string;
  run(ctx: CommandContext, args: ArgValues<A>): Promise<RichMessage>;
}

export type AnyCommand = CommandSpec<Record<string, ArgSpec<any>>>;

/** Keeps the argument types of one declaration while storing it with the others. */
export function defineCommand<A extends Record<string, ArgSpec<any>>>(spec: CommandSpec<A>): AnyCommand {
  return spec as unknown as AnyCommand;
}

export function usageOf(command: AnyCommand): string {
  const parts = Object.entries(command.args).map(([name, arg]) => {
    const label = arg.choices && arg.choices.length <= 4 ? arg.choices.join('|') : name;
    const shown = arg.rest ? `${label}...` : label;
    return arg.optional ? `[${shown}]` : `<${shown}>`;
  });
  return [`/${command.name}`, ...parts].join(' ');
}

export class CommandRegistry {
  private readonly byName = new Map<string, AnyCommand>();

  constructor(readonly commands: readonly AnyCommand[]) {
    for (const command of commands) {
      for (const name of [command.name, ...(command.aliases ?? [])]) {
        if (this.byName.has(name)) throw new Error(`Command name /${name} is declared twice`);
        this.byName.set(name, command);
      }
    }
  }

  /** Finds the command for the leading words: a sub-command ("coins add") wins over its parent. */
  resolve(words: string[]): { command: AnyCommand; consumed: number } | undefined {
    const [first, second] = words;
    if (second !== undefined) {
      const sub = this.byName.get(`${first} ${second}`);
      if (sub) return { command: sub, consumed: 2 };
    }
    const command = first === undefined ? undefined : this.byName.get(first);
    return command && { command, consumed: 1 };
  }

  allowed(command: AnyCommand, caller: Caller): boolean {
    return command.roles.includes(caller);
  }

  /** The commands any of `callers` may run in this kind of chat: what /help lists and what every
   *  platform's command menu is built from. */
  available(callers: readonly Caller[], chat: ChatType): AnyCommand[] {
    return this.commands.filter((c) => callers.some((caller) => this.allowed(c, caller)) && (c.chats === 'any' || chat === 'private'));
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
