/**
 * The registry as Discord application commands, and Discord's chat-input interactions back into
 * the core's StructuredCommand. Everything is derived from the command declarations: the same
 * names, arguments, choices and roles that help, validation and the other platforms' menus use.
 *
 * Shape: one top-level command per registry menu entry. A plain command's arguments become options
 * in declared order; a group ("coins", "alert", "settings") becomes a command whose options are
 * SUB_COMMANDs, its default sub-command among them (/coins list). Aliases are not registered (the
 * registry's canonical names are the only ones a Discord menu needs).
 *
 * Option types:
 *   - `choice` → STRING with `choices` (at most 25; a longer list would stay a plain STRING);
 *   - `number` → INTEGER (with the bounds the schema enforces) only when the schema takes whole
 *     numbers (a page); anything the core parses from text ("$250", "25%", "65000.5") stays
 *     STRING, so no value is rounded or reformatted on the way (a double would turn 0.0000001 into
 *     "1e-7", which the core rightly refuses);
 *   - coin arguments (args.coin(), args.coins()) are STRING with `autocomplete: true`;
 *   - a `rest` argument (several words) is one STRING option, described as space-separated.
 *
 * Who sees what. Every command any role may run in any kind of chat is registered, /login and
 * /link included: Discord has no per-role menus, and the core's role and chat checks stay the
 * authority on every call. Private-only commands (`chats: 'private'`) and commands that carry a
 * secret are answered ephemerally in a guild (see `answersEphemerally`), so nothing they say is
 * shown to the channel; the core still refuses to run them there ("message me directly"). Staff
 * commands (no 'user' or 'guest' may run them) carry `default_member_permissions: "0"`: Discord then
 * hides them in guilds from everyone but members with the Administrator permission (and the owner)
 * until a server admin grants them to a role under Server Settings → Integrations. That is a
 * convenience only, never the check: a Discord admin who is not a CryptoPulse admin is still
 * refused by the core, and in a DM with the bot (where Discord applies no member permissions)
 * staff run them as anyone else, the core deciding. A group is hidden only when every one of its
 * sub-commands is staff-only (/coins list is public, so /coins add and /coins remove, inside the
 * same command, are visible and refused by the core to non-admins).
 *
 * Where: `contexts: [Guild, BotDM]` and `integration_types: [GuildInstall]`, so every command works
 * in servers and in DMs with the bot (the deprecated `dm_permission` is not sent: `contexts`
 * replaces it). Discord applies both only to global commands; a guild registration (for
 * development) shows the commands in that guild only.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  Routes,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandInteractionDataOption,
  type APIApplicationCommandOptionChoice,
  type APIApplicationCommandSubcommandOption,
  type APIAutocompleteApplicationCommandInteractionData,
  type APIChatInputApplicationCommandInteractionData,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsResult,
  type REST,
} from 'discord.js';
import type { ArgSpec } from '../../core/args';
import type { StructuredCommand } from '../../core/dispatcher';
import type { Caller, Coin } from '../../core/domain';
import type { AnyCommand, CommandRegistry, MenuEntry } from '../../core/registry';
import type { CommandWriter } from '../../core/command-text';

/** Every caller: the menu is built from what any of them may run. */
export const ALL_CALLERS: readonly Caller[] = ['guest', 'user', 'admin', 'analyst', 'moderator'];

/** Discord's limits for chat-input commands (checked again by Discord on registration). */
export const COMMAND_LIMITS = { name: 32, description: 100, options: 25, choices: 25, commands: 100, choiceName: 100, choiceValue: 100 } as const;
const NAME = /^[-_\p{L}\p{N}]{1,32}$/u;

/** "0": no permission is enough, so only Administrator (and the owner) see it by default. */
export const STAFF_ONLY_PERMISSIONS = '0';

/** How a Discord user finds a command a core text names: the full slash command of its menu
 *  ("/coins" is "/coins list" there, "/b" is "/buy"). */
export const discordCommand: CommandWriter = (command) => `/${command.name}`;

/** Staff-only: neither a guest nor a user account may run it. */
export function isStaffOnly(command: AnyCommand): boolean {
  return !command.roles.includes('user') && !command.roles.includes('guest');
}

/** In a guild, the reply to this command goes to its caller only (ephemeral): a private-only
 *  command (the core refuses it there, and says so to the caller alone), one that carries a
 *  secret (a password, a link code), or one whose answers are private (account details, staff
 *  lists). Known before the answer exists, so a deferred reply is ephemeral from the start. */
export function answersEphemerally(registry: CommandRegistry, name: string): boolean {
  const command = registry.byExactName(name);
  return command !== undefined && (command.chats === 'private' || command.sensitive === true || command.answersPrivately === true);
}

/** Cuts text to `max` characters with an ellipsis, between code points. */
export function truncate(text: string, max: number): string {
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, max - 1).join('').trimEnd()}…`;
}

function description(text: string): string {
  const trimmed = text.trim();
  const capitalised = trimmed ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : '…';
  return truncate(capitalised, COMMAND_LIMITS.description);
}

function checkedName(name: string, where: string): string {
  if (!NAME.test(name) || name !== name.toLowerCase()) {
    throw new Error(`${where}: "${name}" is not a valid Discord name (1-32 lower-case letters, digits, - or _)`);
  }
  return name;
}

/** A coin argument (args.coin(), args.coins()): offered tracked coins while it is typed. */
export function isCoinArg(arg: ArgSpec<unknown>): boolean {
  return arg.completes === 'coin';
}

/** The whole-number range a `number` argument accepts, or undefined when it is not a whole number
 *  (a price, which the core parses from text like "$65000" or "0.5"). */
export function integerRange(arg: ArgSpec<unknown>): { min: number; max: number } | undefined {
  if (arg.kind !== 'number' || arg.rest) return undefined;
  const accepts = (n: number) => arg.schema.safeParse(String(n)).success;
  const typedAs = (raw: string) => arg.schema.safeParse(raw);
  // Whole numbers only: "1.5" and "$2" refused, and the value read is the number itself.
  if (typedAs('1.5').success || typedAs('$2').success) return undefined;
  const two = typedAs('2');
  if (!two.success || two.data !== 2) return undefined;
  const min = accepts(0) ? 0 : 1;
  if (!accepts(min)) return undefined;
  // The largest accepted value, by doubling then bisecting (Discord allows up to 2^53).
  let high = 2;
  while (high < Number.MAX_SAFE_INTEGER && accepts(high)) high = Math.min(Number.MAX_SAFE_INTEGER, high * 2);
  if (accepts(high)) return { min, max: high };
  let low = min;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (accepts(mid)) low = mid;
    else high = mid;
  }
  return { min, max: low };
}

/** One argument as a Discord option. */
function optionOf(command: AnyCommand, name: string, arg: ArgSpec<unknown>): APIApplicationCommandBasicOption {
  const where = `/${command.name} ${name}`;
  const base = { name: checkedName(name, where), required: !arg.optional };
  if (arg.kind === 'choice' && arg.choices?.length && arg.choices.length <= COMMAND_LIMITS.choices && !arg.rest) {
    return {
      ...base, type: ApplicationCommandOptionType.String, description: description(arg.description),
      choices: arg.choices.map((c) => ({ name: truncate(c, COMMAND_LIMITS.choiceName), value: c })),
    };
  }
  const range = integerRange(arg);
  if (range) {
    return { ...base, type: ApplicationCommandOptionType.Integer, description: description(arg.description), min_value: range.min, max_value: range.max };
  }
  const text = arg.rest ? `${arg.description.trim()}, separated by spaces` : arg.description;
  return {
    ...base, type: ApplicationCommandOptionType.String, description: description(text),
    ...(isCoinArg(arg) ? { autocomplete: true } : {}),
  };
}

/** A command's arguments as options, in declared order; Discord wants every required option
 *  before the optional ones, and reordering would make the typed and the Discord forms differ. */
function optionsOf(command: AnyCommand): APIApplicationCommandBasicOption[] {
  const entries = Object.entries(command.args);
  const firstOptional = entries.findIndex(([, arg]) => arg.optional);
  const late = firstOptional < 0 ? undefined : entries.slice(firstOptional).find(([, arg]) => !arg.optional);
  if (late) {
    throw new Error(`/${command.name}: the required argument ${late[0]} follows the optional ${entries[firstOptional]![0]}; Discord needs required options first, so declare it earlier`);
  }
  if (entries.length > COMMAND_LIMITS.options) throw new Error(`/${command.name} has ${entries.length} arguments; Discord allows ${COMMAND_LIMITS.options}`);
  return entries.map(([name, arg]) => optionOf(command, name, arg));
}

/** A group: its sub-commands as SUB_COMMAND options, the default one first. */
function groupOf(entry: MenuEntry): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const members = entry.subcommands;
  if (members.length > COMMAND_LIMITS.options) throw new Error(`/${entry.name} has ${members.length} sub-commands; Discord allows ${COMMAND_LIMITS.options}`);
  const options = members.map((command): APIApplicationCommandSubcommandOption => {
    const inner = optionsOf(command);
    return {
      type: ApplicationCommandOptionType.Subcommand, name: checkedName(command.name.split(' ')[1]!, `/${command.name}`), description: description(command.summary),
      ...(inner.length ? { options: inner } : {}),
    };
  });
  return topLevel(entry.name, entry.summary, options, members.every(isStaffOnly));
}

function topLevel(name: string, summary: string, options: RESTPostAPIChatInputApplicationCommandsJSONBody['options'], staffOnly: boolean): RESTPostAPIChatInputApplicationCommandsJSONBody {
  return {
    type: ApplicationCommandType.ChatInput,
    name: checkedName(name, `/${name}`),
    description: description(summary),
    ...(options?.length ? { options } : {}),
    ...(staffOnly ? { default_member_permissions: STAFF_ONLY_PERMISSIONS } : {}),
    contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
    integration_types: [ApplicationIntegrationType.GuildInstall],
  };
}

/** The bulk-overwrite body: every command any caller may run, in help's order. */
export function applicationCommands(registry: CommandRegistry): RESTPutAPIApplicationCommandsJSONBody {
  const body = registry.menu(ALL_CALLERS, 'private').map((entry) => {
    if (entry.subcommands.length) return groupOf(entry);
    const command = registry.byExactName(entry.name);
    if (!command) throw new Error(`/${entry.name} is in the menu but not in the registry`);
    return topLevel(entry.name, command.summary, optionsOf(command), isStaffOnly(command));
  });
  if (body.length > COMMAND_LIMITS.commands) throw new Error(`${body.length} commands; Discord allows ${COMMAND_LIMITS.commands}`);
  return body;
}

type DataOption = APIApplicationCommandInteractionDataOption;

/** The registry name and raw values of a chat-input interaction, or undefined when it names no
 *  command of ours (an old registration, a sub-command group we never declare). Values are passed
 *  as Discord typed them; the dispatcher validates them like typed words. */
export function commandFromInteraction(registry: CommandRegistry, data: APIChatInputApplicationCommandInteractionData): StructuredCommand | undefined {
  const found = locate(registry, data.name, data.options);
  if (!found) return undefined;
  const args: StructuredCommand['args'] = {};
  for (const option of found.options) {
    if (!('value' in option)) return undefined;
    args[option.name] = option.value as string | number | boolean;
  }
  return { name: found.command.name, args };
}

function locate(registry: CommandRegistry, root: string, options: readonly DataOption[] | undefined): { command: AnyCommand; options: readonly DataOption[] } | undefined {
  const first = options?.[0];
  if (first?.type === ApplicationCommandOptionType.SubcommandGroup) return undefined;
  if (first?.type === ApplicationCommandOptionType.Subcommand) {
    if (options!.length !== 1) return undefined;
    const command = registry.byExactName(`${root} ${first.name}`);
    return command?.name === `${root} ${first.name}` ? { command, options: first.options ?? [] } : undefined;
  }
  const command = registry.byExactName(root);
  // The canonical name only: an alias or a group's name is not a registered Discord command.
  return command?.name === root ? { command, options: options ?? [] } : undefined;
}

/** What an autocomplete interaction asks for: the command, the focused argument and what the user
 *  has typed so far; `coin` is true when the argument takes coins (answer with `coinChoices`). */
export function autocompleteRequest(registry: CommandRegistry, data: APIAutocompleteApplicationCommandInteractionData): { command: string; arg: string; typed: string; coin: boolean } | undefined {
  const found = locate(registry, data.name, data.options as readonly DataOption[] | undefined);
  if (!found) return undefined;
  const focused = found.options.find((o) => 'focused' in o && o.focused);
  if (!focused || !('value' in focused)) return undefined;
  const arg = found.command.args[focused.name];
  if (!arg) return undefined;
  return { command: found.command.name, arg: focused.name, typed: String(focused.value), coin: isCoinArg(arg) };
}

/** Autocomplete choices for a coin option: coins whose id, symbol or name starts with what was
 *  typed, then those that contain it, in the catalogue's order; at most 25. Shown as
 *  "BTC · Bitcoin", the value being the coin id. For a several-coins option ("btc et"), the last
 *  word is completed and the earlier ones are kept in front of it. */
export function coinChoices(coins: Coin[], typed: string): APIApplicationCommandOptionChoice[] {
  const words = typed.trim().split(/\s+/).filter(Boolean);
  const endsWithSpace = /\s$/.test(typed) && words.length > 0;
  const current = endsWithSpace ? '' : (words.pop() ?? '').toLowerCase();
  const kept = words.join(' ');
  const keys = (c: Coin) => [c.id, c.symbol, c.name].map((k) => k.toLowerCase());
  const prefix = coins.filter((c) => keys(c).some((k) => k.startsWith(current)));
  const inside = coins.filter((c) => !prefix.includes(c) && keys(c).some((k) => k.includes(current)));
  const choices: APIApplicationCommandOptionChoice[] = [];
  for (const coin of [...prefix, ...inside]) {
    const label = `${coin.symbol.toUpperCase()} · ${coin.name}`;
    const value = kept ? `${kept} ${coin.id}` : coin.id;
    if (value.length > COMMAND_LIMITS.choiceValue || !coin.id) continue;
    choices.push({ name: truncate(kept ? `${kept} ${label}` : label, COMMAND_LIMITS.choiceName), value });
    if (choices.length === COMMAND_LIMITS.choices) break;
  }
  return choices;
}

/** Replaces the application's commands with the registry's in one bulk overwrite: in one guild
 *  (shown at once; for development) when `guildId` is given, otherwise globally (may take a while
 *  to show everywhere). Commands no longer declared disappear. Answers what Discord stored. */
export async function registerCommands({ rest, applicationId, guildId, registry }: {
  rest: REST;
  applicationId: string;
  guildId?: string;
  registry: CommandRegistry;
}): Promise<RESTPutAPIApplicationCommandsResult> {
  const body = applicationCommands(registry);
  const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
  return (await rest.put(route, { body })) as RESTPutAPIApplicationCommandsResult;
}
