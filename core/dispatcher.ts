/**
 * The one way into the core. Adapters hand it what a user typed (a text line), or a command and
 * its argument values where the platform has typed options (Discord); it answers with a rich
 * message. Pipeline: parse → identify the caller → find the command → check role and chat →
 * validate the arguments → run once per delivered message → record the activity. Nothing thrown
 * escapes it.
 */
import type { ZodError } from 'zod';
import type { ChatRef, CommandContext, Services } from './context';
import { identityKey, type IdentityRef } from './domain';
import { UserError } from './errors';
import { formatTime } from './format';
import { errorMessage, type RichMessage } from './messages';
import type { CommandOutcome } from './ports';
import { usageOf, type AnyCommand } from './registry';
import { ChatMemberRecorder } from './market/chat-members';

/** A command chosen from a platform's typed options rather than typed as a line. */
export interface StructuredCommand {
  /** The registry's name, e.g. "coins add". */
  name: string;
  /** Raw values by argument name, as the platform delivered them; validated like typed words
   *  (a `rest` argument's words are separated by spaces). */
  args: Record<string, string | number | boolean | undefined>;
}

interface IncomingBase {
  identity: IdentityRef;
  chat: ChatRef;
  /** The platform's id for this delivery (message id, interaction id); a redelivery repeats it. */
  messageId: string;
  /** When the user sent it (ms), where the platform says: a command that changes something and
   *  arrives much later (the bot was down, the platform kept it) is refused rather than run late. */
  sentAt?: number;
  /** The adapter renders buttons, so a large trade may ask for confirmation first. */
  canConfirm?: boolean;
  /** This is the user pressing a 'confirm' button. */
  confirmed?: boolean;
  /** Asks the platform whether the caller administers this group or channel (see
   *  CommandContext.isChatAdmin); absent: they do not, as far as the adapter can tell. */
  isChatAdmin?: () => Promise<boolean>;
}

export type IncomingCommand = IncomingBase & (
  /** What the user typed, e.g. "/buy btc $250" (a leading "/" and an "@BotName" suffix are optional). */
  | { text: string }
  | { command: StructuredCommand }
);

/** The input understood as far as it can be without knowing the caller. */
type Request =
  | { ok: false; message: RichMessage }
  | { ok: true; head: string; found?: AnyCommand; words: string[]; parse: () => Parsed };

export interface DispatchResult {
  message: RichMessage;
  command?: string;
  /** The input carried a secret (a password) in a shared chat: delete it if the platform allows. */
  deleteInput?: boolean;
}

const MAX_INPUT = 1000;
/** Non-trade side effects remember a delivery this long to ignore its redelivery. */
const ONCE_TTL_MS = 24 * 60 * 60_000;
/** Control and format characters (terminal escapes, bidi overrides, zero-width marks): never part
 *  of a command, and dangerous to echo back into a terminal or a chat. */
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu;

type Outcome = 'ok' | 'error' | 'denied';

/** What the metrics learn of one dispatch: the command (once found) and how it ended. */
interface Tally {
  command: string;
  outcome: CommandOutcome;
}
const METRIC_OUTCOME: Record<Outcome, CommandOutcome> = { ok: 'ok', error: 'user_error', denied: 'denied' };

export class Dispatcher {
  /** Each running command's tally, by its context: record() is where every command that got a
   *  context ends, so it notes the outcome there without threading the tally through each return. */
  private readonly tallies = new WeakMap<CommandContext, Tally>();
  /** Who used the bot in which group, for /leaderboard. */
  private readonly members: ChatMemberRecorder;

  constructor(private readonly services: Services) {
    this.members = new ChatMemberRecorder(services);
  }

  async dispatch(input: IncomingCommand): Promise<DispatchResult> {
    const key = identityKey(input.identity);
    const started = this.services.clock.now();
    // Until run() learns more: input that is no command at all (empty, too long).
    const tally: Tally = { command: '(none)', outcome: 'user_error' };
    try {
      return await this.run(input, key, tally);
    } catch (error) {
      tally.outcome = 'error';
      // Only the command's name is logged: the rest of the line may hold a password, and an
      // unknown first word may be one.
      const command = 'text' in input ? this.services.registry.resolve(commandWords(input.text))?.command.name : input.command.name;
      this.services.logger.error({ err: error, command, identity: key, messageId: input.messageId }, 'command failed');
      return { message: errorMessage('Something went wrong on our side and nothing was changed. Please try again in a moment.') };
    } finally {
      this.services.metrics?.commandDone(tally.command, tally.outcome, (this.services.clock.now() - started) / 1000);
    }
  }

  private async run(input: IncomingCommand, key: string, tally: Tally): Promise<DispatchResult> {
    const { store } = this.services;
    const request = this.understand(input);
    if (!request.ok) return { message: request.message };

    const linked = await store.findIdentity(key);
    const account = linked ? await store.getAccount(linked.username) : null;
    const caller = account?.role ?? 'guest';
    const ctx: CommandContext = {
      services: this.services, identity: input.identity, identityKey: key, account, caller, chat: input.chat,
      idempotencyKey: `${input.chat.id}:${input.messageId}`,
      canConfirm: input.canConfirm ?? false, confirmed: input.confirmed ?? false,
      isChatAdmin: async () => input.chat.type === 'group' && input.isChatAdmin !== undefined && (await input.isChatAdmin()),
    };
    // They wrote from a direct chat the bot had marked blocked: it is open again.
    if (linked?.unreachableSince !== undefined && input.chat.type === 'private') await store.clearUnreachable(key);
    // A linked user in a group is one of its members for /leaderboard (never fails the command).
    if (account && input.chat.type === 'group') await this.members.seen(input.chat.id, account.username, this.services.clock.now());

    const command = request.found;
    this.tallies.set(ctx, tally);
    // The registry's name, never the typed word (see below).
    tally.command = command?.name ?? '(unknown)';
    if (!command) {
      // The unknown word is not recorded: it may be a password typed without its command.
      await this.record(ctx, '(unknown command)', 'error');
      return { message: errorMessage(this.unknownCommand(request.head, ctx)) };
    }
    const detail = command.sensitive ? `/${command.name}` : [`/${command.name}`, ...request.words].join(' ').slice(0, 200);
    const result = (message: RichMessage): DispatchResult => ({
      message, command: command.name, deleteInput: command.sensitive === true && input.chat.type === 'group' && request.words.length > 0,
    });

    const refusal = this.refusal(command, ctx);
    if (refusal) {
      await this.record(ctx, detail, 'denied');
      return result(refusal);
    }
    const parsed = request.parse();
    if (!parsed.ok) {
      await this.record(ctx, detail, 'error');
      return result(errorMessage(parsed.error, usageOf(command)));
    }
    const late = command.changes && this.lateness(input, ctx.account?.timezone);
    if (late) {
      await this.record(ctx, detail, 'error');
      return result(errorMessage(late));
    }
    if (command.changes === 'state' && !(await store.claimOnce(`once:${ctx.idempotencyKey}`, this.services.clock.now() + ONCE_TTL_MS))) {
      tally.outcome = 'duplicate';
      return result(errorMessage('Already done: this message was handled before.'));
    }
    let message: RichMessage;
    let outcome: Outcome = 'ok';
    try {
      message = await command.run(ctx, parsed.values as never);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      message = errorMessage(error.message);
      outcome = 'error';
    }
    if (command.answersPrivately) message = { ...message, private: true };
    // The command has run (a trade may have committed): from here on nothing may turn the
    // answer into "nothing was changed".
    await this.record(ctx, detail, outcome);
    return result(message);
  }

  /** Finds the command and how to read its arguments, from a typed line or typed options. */
  private understand(input: IncomingCommand): Request {
    const { registry } = this.services;
    if ('command' in input) {
      const { name, args } = input.command;
      const found = registry.byExactName(name);
      const raw = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined).map(([k, v]) => [k, visible(String(v)).trim()]));
      // In declared order, as if typed, for the activity log.
      const words = found ? Object.keys(found.args).flatMap((k) => (raw[k] === undefined ? [] : [raw[k]!])) : [];
      return { ok: true, head: name.split(' ')[0]!, found, words, parse: () => validateArgs(found!, raw) };
    }
    if (input.text.length > MAX_INPUT) return { ok: false, message: errorMessage('That message is too long to be a command.') };
    const all = commandWords(input.text);
    if (!all[0]) return { ok: false, message: errorMessage('Commands start with /. Try /help.') };
    const resolved = registry.resolve(all);
    const words = all.slice(resolved?.consumed ?? 1);
    return { ok: true, head: all[0], found: resolved?.command, words, parse: () => parseArgs(resolved!.command, words) };
  }

  /** Why this caller may not run the command here, or undefined when they may. */
  private refusal(command: AnyCommand, ctx: CommandContext): RichMessage | undefined {
    if (!this.services.registry.allowed(command, ctx.caller)) {
      if (ctx.caller === 'guest') {
        return errorMessage(`You need an account for /${command.name}: /signup <username> <email> creates one, or /link <code> links this chat to an account you have.`);
      }
      return errorMessage(`Your role (${ctx.caller}) may not run /${command.name}.${command.deniedNote ? ` ${command.deniedNote}` : ''}`);
    }
    if (command.chats === 'private' && ctx.chat.type === 'group') {
      return errorMessage(`/${command.name} only works in a private chat with me, so nothing secret is shown to the group. Message me directly.`);
    }
    return undefined;
  }

  /** In a group the word is not echoed (nor hinted at): it may be a secret typed in the wrong place. */
  private unknownCommand(head: string, ctx: CommandContext): string {
    if (ctx.chat.type === 'group') return "That is not one of my commands. /help lists them.";
    const suggestions = this.services.registry.suggest(head, ctx.caller);
    const hint = suggestions.length ? ` Did you mean ${suggestions.map((s) => `/${s}`).join(' or ')}?` : '';
    return `I don't know /${head.slice(0, 40)}.${hint} /help lists the commands.`;
  }

  /** Why a command that changes something is too old to run, or undefined when it is fresh. */
  private lateness(input: IncomingCommand, timeZone?: string): string | undefined {
    if (input.sentAt === undefined) return undefined;
    const age = this.services.clock.now() - input.sentAt;
    if (age <= this.services.config.maxCommandAgeMs) return undefined;
    return `You sent this at ${formatTime(input.sentAt, timeZone)}, too long ago for me to act on it now: nothing was changed. Send it again if you still want it.`;
  }

  /** Bookkeeping never fails a command: by now the command may have committed. */
  private async record(ctx: CommandContext, detail: string, outcome: Outcome): Promise<void> {
    const tally = this.tallies.get(ctx);
    if (tally) tally.outcome = METRIC_OUTCOME[outcome];
    try {
      await this.services.store.recordActivity({
        at: this.services.clock.now(), identityKey: ctx.identityKey, platform: ctx.identity.platform,
        username: ctx.account?.username ?? null, command: detail.split(' ')[0]!, detail, outcome,
      });
    } catch (error) {
      this.services.logger.warn({ err: error, command: detail.split(' ')[0], identity: ctx.identityKey }, 'could not record activity');
    }
  }
}

/** The text without invisible characters (whitespace among them becomes a space). */
function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => (/\s/.test(c) ? ' ' : ''));
}

/** The typed line as words, invisible characters dropped, the command word normalised ("/Buy@Bot" → "buy"). */
function commandWords(text: string): string[] {
  const words = visible(text).trim().split(/\s+/).filter(Boolean);
  if (words[0] !== undefined) words[0] = words[0].replace(/^\//, '').replace(/@\S*$/, '').toLowerCase();
  return words[0] ? words : [];
}

type Parsed = { ok: true; values: Record<string, unknown> } | { ok: false; error: string };

/** Maps words to the declared positional arguments, then validates them. */
export function parseArgs(command: AnyCommand, tokens: string[]): Parsed {
  const raw: Record<string, string | string[]> = {};
  let next = 0;
  for (const [name, arg] of Object.entries(command.args)) {
    if (next >= tokens.length) break;
    raw[name] = arg.rest ? tokens.slice(next) : tokens[next]!;
    next = arg.rest ? tokens.length : next + 1;
  }
  const parsed = validateArgs(command, raw);
  if (parsed.ok && next < tokens.length) {
    return { ok: false, error: Object.keys(command.args).length ? `Too many words after /${command.name}: “${tokens.slice(next).join(' ').slice(0, 40)}” is not expected.` : `/${command.name} takes no arguments.` };
  }
  return parsed;
}

/** Validates raw values by argument name with each argument's schema: the one check every input
 *  goes through, typed words and platform options alike. */
export function validateArgs(command: AnyCommand, raw: Record<string, string | string[] | undefined>): Parsed {
  const unknown = Object.keys(raw).find((name) => !(name in command.args));
  if (unknown) return { ok: false, error: `/${command.name} has no option ${unknown.slice(0, 32)}.` };
  const values: Record<string, unknown> = {};
  for (const [name, arg] of Object.entries(command.args)) {
    let value = raw[name];
    if (arg.rest && typeof value === 'string') value = value.split(/\s+/).filter(Boolean);
    if (value === undefined || value.length === 0) {
      if (arg.optional) continue;
      return { ok: false, error: `Missing ${name}: ${arg.description}.` };
    }
    const result = arg.schema.safeParse(value);
    if (!result.success) return { ok: false, error: firstIssue(result.error) };
    values[name] = result.data;
  }
  return { ok: true, values };
}

function firstIssue(error: ZodError): string {
  return error.issues[0]?.message ?? 'That input is not valid.';
}
