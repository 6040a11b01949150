/**
 * The one way into the core. Adapters hand it what a user typed; it answers with a rich message.
 * Pipeline: parse → identify the caller → find the command → check role and chat → validate the
 * arguments → run once per delivered message → record the activity. Nothing thrown escapes it.
 */
import type { ZodError } from 'zod';
import type { ChatRef, CommandContext, Services } from './context';
import { identityKey, type IdentityRef } from './domain';
import { UserError } from './errors';
import { errorMessage, type RichMessage } from './messages';
import { usageOf, type AnyCommand } from './registry';

export interface IncomingCommand {
  identity: IdentityRef;
  chat: ChatRef;
  /** What the user typed, e.g. "/buy btc $250" (a leading "/" and an "@BotName" suffix are optional). */
  text: string;
  /** The platform's id for this delivery (message id, interaction id); a redelivery repeats it. */
  messageId: string;
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

export class Dispatcher {
  constructor(private readonly services: Services) {}

  async dispatch(input: IncomingCommand): Promise<DispatchResult> {
    const key = identityKey(input.identity);
    try {
      return await this.run(input, key);
    } catch (error) {
      // Only the command word is logged: the rest of the line may hold a password.
      const command = input.text.trim().split(/\s+/, 1)[0]?.slice(0, 40);
      this.services.logger.error({ err: error, command, identity: key, messageId: input.messageId }, 'command failed');
      return { message: errorMessage('Something went wrong on our side and nothing was changed. Please try again in a moment.') };
    }
  }

  private async run(input: IncomingCommand, key: string): Promise<DispatchResult> {
    const { registry, store } = this.services;
    const text = input.text.trim();
    if (text.length > MAX_INPUT) return { message: errorMessage('That message is too long to be a command.') };
    const words = text.split(/\s+/);
    const head = (words[0] ?? '').replace(/^\//, '').replace(/@\S*$/, '').toLowerCase();
    if (!head) return { message: errorMessage('Commands start with /. Try /help.') };
    words[0] = head;

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
      await this.record(ctx, `/${head}`, 'error');
      const suggestions = registry.suggest(head, caller);
      const hint = suggestions.length ? ` Did you mean ${suggestions.map((s) => `/${s}`).join(' or ')}?` : '';
      return { message: errorMessage(`I don't know /${head}.${hint} /help lists the commands.`) };
    }
    const { command } = found;
    const tokens = words.slice(found.consumed);
    const detail = maskSecrets(command, tokens);
    const secretInGroup = input.chat.type === 'group' && Object.values(command.args).some((a) => a.secret) && tokens.length > 0;

    const refusal = this.refusal(command, ctx);
    if (refusal) {
      await this.record(ctx, detail, 'denied');
      return { message: refusal, command: command.name, deleteInput: secretInGroup };
    }
    const parsed = parseArgs(command, tokens);
    if (!parsed.ok) {
      await this.record(ctx, detail, 'error');
      return { message: errorMessage(parsed.error, usageOf(command)), command: command.name, deleteInput: secretInGroup };
    }
    if (command.mutates && !(await store.claimOnce(`once:${ctx.idempotencyKey}`, this.services.clock.now() + ONCE_TTL_MS))) {
      return { message: errorMessage('Already done: this message was handled before.'), command: command.name };
    }
    try {
      const message = await command.run(ctx, parsed.values as never);
      await this.record(ctx, detail, 'ok');
      return { message, command: command.name, deleteInput: secretInGroup };
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      await this.record(ctx, detail, 'error');
      return { message: errorMessage(error.message), command: command.name, deleteInput: secretInGroup };
    }
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

  private async record(ctx: CommandContext, detail: string, outcome: 'ok' | 'error' | 'denied'): Promise<void> {
    await this.services.store.recordActivity({
      at: this.services.clock.now(), identityKey: ctx.identityKey, platform: ctx.identity.platform,
      username: ctx.account?.username ?? null, command: detail.split(' ')[0]!, detail, outcome,
    });
  }
}

/** The command line as recorded: secret arguments masked, and clipped. */
function maskSecrets(command: AnyCommand, tokens: string[]): string {
  const specs = Object.values(command.args);
  const shown = tokens.map((token, i) => (specs[Math.min(i, specs.length - 1)]?.secret ? '****' : token));
  return [`/${command.name}`, ...shown].join(' ').slice(0, 200);
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
