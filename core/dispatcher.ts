/**
 * The one way into the core. Adapters hand it what a user typed; it answers with a rich message.
 * Pipeline: parse → identify the caller → find the command → check role and chat → validate the
 * arguments → run once per delivered message → record the activity. Nothing thrown escapes it.
 */
import type { ZodError } from 'zod';
import type { ChatRef, CommandContext, Services } from './context';
import { identityKey, type IdentityRef } from './domain';
import { UserError } from './errors';
import { formatTime } from './format';
import { errorMessage, type RichMessage } from './messages';
import { usageOf, type AnyCommand } from './registry';

export interface IncomingCommand {
  identity: IdentityRef;
  chat: ChatRef;
  /** What the user typed, e.g. "/buy btc $250" (a leading "/" and an "@BotName" suffix are optional). */
  text: string;
  /** The platform's id for this delivery (message id, interaction id); a redelivery repeats it. */
  messageId: string;
  /** When the user sent it (ms), where the platform says: a command that changes something and
   *  arrives much later (the bot was down, the platform kept it) is refused rather than run late. */
  sentAt?: number;
  /** The adapter renders buttons, so a large trade may ask for confirmation first. */
  canConfirm?: boolean;
  /** This is the user pressing a 'confirm' button. */
  confirmed?: boolean;
}

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

export class Dispatcher {
  constructor(private readonly services: Services) {}

  async dispatch(input: IncomingCommand): Promise<DispatchResult> {
    const key = identityKey(input.identity);
    try {
      return await this.run(input, key);
    } catch (error) {
      // Only the command's name is logged: the rest of the line may hold a password, and an
      // unknown first word may be one.
      const command = this.services.registry.resolve(commandWords(input.text))?.command.name;
      this.services.logger.error({ err: error, command, identity: key, messageId: input.messageId }, 'command failed');
      return { message: errorMessage('Something went wrong on our side and nothing was changed. Please try again in a moment.') };
    }
  }

  private async run(input: IncomingCommand, key: string): Promise<DispatchResult> {
    const { registry, store } = this.services;
    if (input.text.length > MAX_INPUT) return { message: errorMessage('That message is too long to be a command.') };
    const words = commandWords(input.text);
    const head = words[0];
    if (!head) return { message: errorMessage('Commands start with /. Try /help.') };

    const linked = await store.findIdentity(key);
    const account = linked ? await store.getAccount(linked.username) : null;
    const caller = account?.role ?? 'guest';
    const ctx: CommandContext = {
      services: this.services, identity: input.identity, identityKey: key, account, caller, chat: input.chat,
      idempotencyKey: `${input.chat.id}:${input.messageId}`,
      canConfirm: input.canConfirm ?? false, confirmed: input.confirmed ?? false,
    };

    const found = registry.resolve(words);
    if (!found) {
      // The unknown word is not recorded: it may be a password typed without its command.
      await this.record(ctx, '(unknown command)', 'error');
      return { message: errorMessage(this.unknownCommand(head, ctx)) };
    }
    const { command } = found;
    const tokens = words.slice(found.consumed);
    const detail = command.sensitive ? `/${command.name}` : [`/${command.name}`, ...tokens].join(' ').slice(0, 200);
    const result = (message: RichMessage): DispatchResult => ({
      message, command: command.name, deleteInput: command.sensitive === true && input.chat.type === 'group' && tokens.length > 0,
    });

    const refusal = this.refusal(command, ctx);
    if (refusal) {
      await this.record(ctx, detail, 'denied');
      return result(refusal);
    }
    const parsed = parseArgs(command, tokens);
    if (!parsed.ok) {
      await this.record(ctx, detail, 'error');
      return result(errorMessage(parsed.error, usageOf(command)));
    }
    const late = command.changes && this.lateness(input);
    if (late) {
      await this.record(ctx, detail, 'error');
      return result(errorMessage(late));
    }
    if (command.changes === 'state' && !(await store.claimOnce(`once:${ctx.idempotencyKey}`, this.services.clock.now() + ONCE_TTL_MS))) {
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
    // The command has run (a trade may have committed): from here on nothing may turn the
    // answer into "nothing was changed".
    await this.record(ctx, detail, outcome);
    return result(message);
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
  private lateness(input: IncomingCommand): string | undefined {
    if (input.sentAt === undefined) return undefined;
    const age = this.services.clock.now() - input.sentAt;
    if (age <= this.services.config.maxCommandAgeMs) return undefined;
    return `You sent this at ${formatTime(input.sentAt)}, too long ago for me to act on it now: nothing was changed. Send it again if you still want it.`;
  }

  /** Bookkeeping never fails a command: by now the command may have committed. */
  private async record(ctx: CommandContext, detail: string, outcome: Outcome): Promise<void> {
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

/** The typed line as words, invisible characters dropped, the command word normalised ("/Buy@Bot" → "buy"). */
function commandWords(text: string): string[] {
  const words = text.replace(INVISIBLE, (c) => (/\s/.test(c) ? ' ' : '')).trim().split(/\s+/).filter(Boolean);
  if (words[0] !== undefined) words[0] = words[0].replace(/^\//, '').replace(/@\S*$/, '').toLowerCase();
  return words[0] ? words : [];
}

type Parsed = { ok: true; values: Record<string, unknown> } | { ok: false; error: string };

/** Maps words to the declared positional arguments and validates each with its schema. */
export function parseArgs(command: AnyCommand, tokens: string[]): Parsed {
  const values: Record<string, unknown> = {};
  const entries = Object.entries(command.args);
  let next = 0;
  for (const [name, arg] of entries) {
    const raw = arg.rest ? tokens.slice(next) : tokens[next];
    const missing = raw === undefined || (Array.isArray(raw) && raw.length === 0);
    if (missing) {
      if (arg.optional) continue;
      return { ok: false, error: `Missing ${name}: ${arg.description}.` };
    }
    next = arg.rest ? tokens.length : next + 1;
    const result = arg.schema.safeParse(raw);
    if (!result.success) return { ok: false, error: firstIssue(result.error) };
    values[name] = result.data;
  }
  if (next < tokens.length) {
    return { ok: false, error: entries.length ? `Too many words after /${command.name}: “${tokens.slice(next).join(' ').slice(0, 40)}” is not expected.` : `/${command.name} takes no arguments.` };
  }
  return { ok: true, values };
}

function firstIssue(error: ZodError): string {
  return error.issues[0]?.message ?? 'That input is not valid.';
}
