/**
 * Telegram's command menus, built from the core's registry: one for private chats and one for
 * groups for everyone (set at start), and staff commands in a staff member's own private chat
 * (Telegram menus are per chat, not per role), kept in step as their role changes.
 */
import type { BotCommand } from 'telegraf/types';
import type { Core } from '../../core/app';
import type { ChatType } from '../../core/context';
import { identityKey, type Caller, type IdentityRef } from '../../core/domain';
import type { Logger } from '../../core/ports';
import type { CommandRegistry } from '../../core/registry';
import { errorSummary } from './errors';
import type { TelegramCall } from './sender';

const STAFF_ROLES: readonly Caller[] = ['admin', 'analyst', 'moderator'];
/** A private chat's role is looked up again after this long (roles change from other chats). */
const MENU_RECHECK_MS = 60_000;
/** Commands after which the caller's role may have changed. */
const IDENTITY_COMMANDS = new Set(['signup', 'login', 'link', 'start', 'unlink']);

/** Builds the menu Telegram shows for a set of roles and a chat type: the registry's list, as
 *  Telegram's rules allow (top-level names of 1-32 [a-z0-9_], at most 100). */
export function menuCommands(registry: CommandRegistry, roles: readonly Caller[], chat: ChatType): BotCommand[] {
  return registry.menu(roles, chat)
    .filter((entry) => /^[a-z0-9_]{1,32}$/.test(entry.name))
    .slice(0, 100)
    .map((entry) => ({ command: entry.name, description: entry.summary.length > 256 ? `${entry.summary.slice(0, 255)}…` : entry.summary || entry.name }));
}

export interface Menus {
  /** Sets the menus everyone sees; a failure is logged, not fatal (the bot works without them). */
  register(): Promise<void>;
  /** After a command in a private chat: gives a staff member their menu there, or takes it away. */
  update(chatId: number, identity: IdentityRef, command: string | undefined): Promise<void>;
}

export function createMenus(options: { core: Core; call: TelegramCall; logger: Logger; now: () => number }): Menus {
  const { core, call, logger, now } = options;
  const known = new Map<number, { role: Caller; checkedAt: number }>();

  async function update(chatId: number, identity: IdentityRef, command: string | undefined): Promise<void> {
    const before = known.get(chatId);
    const clock = now();
    if (before && !IDENTITY_COMMANDS.has(command ?? '') && clock - before.checkedAt < MENU_RECHECK_MS) return;
    const { store } = core.services;
    const linked = await store.findIdentity(identityKey(identity));
    const account = linked ? await store.getAccount(linked.username) : null;
    const role: Caller = account?.role ?? 'guest';
    known.set(chatId, { role, checkedAt: clock });
    if (before?.role === role) return;
    const scope = { type: 'chat', chat_id: chatId };
    if (STAFF_ROLES.includes(role)) {
      await call('setMyCommands', { commands: menuCommands(core.registry, [role], 'private'), scope });
    } else if (before && STAFF_ROLES.includes(before.role)) {
      await call('deleteMyCommands', { scope });
    }
  }

  async function register(): Promise<void> {
    const everyone: Caller[] = ['guest', 'user'];
    for (const [type, chat] of [['all_private_chats', 'private'], ['all_group_chats', 'group']] as const) {
      try {
        await call('setMyCommands', { commands: menuCommands(core.registry, everyone, chat), scope: { type } });
      } catch (error) {
        logger.warn({ scope: type, ...errorSummary(error) }, 'could not set the Telegram command menu');
      }
    }
  }

  return { register, update };
}
