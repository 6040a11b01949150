/**
 * Where a user's pushed message goes, as outbox destinations (see OutboxMessage.destination):
 * `user:<identity key>` (a direct chat), `chat:<chat address>` (a group or topic) and
 * `email:<username>`.
 */
import { chatOfPostingAddress } from '../context';
import type { Account, ChatState, LinkedIdentity, OutboxMessage, Platform } from '../domain';

export type PushKind = Exclude<OutboxMessage['kind'], 'broadcast'>;

export interface DestinationOptions {
  /** The notifier is configured (Notifier.enabled). */
  emailEnabled: boolean;
  kind: PushKind;
}

/**
 * - alert:  /settings alerts decides: 'dm' (the default) every linked direct chat the bot can
 *           still reach (the terminal too), 'here' the chat the user chose, 'off' no chat;
 * - digest: always the direct chats: it shows the portfolio's value, which has no place in a
 *           group the user picked for alerts, and /settings alerts off silences alerts, not a
 *           digest the user turned on separately;
 * - notice: the direct chats (the caller picks which, see OutboxWorker);
 * - trade:  email only (the chat already showed the trade's reply).
 * Email is added for every kind when the user has it on and email is configured.
 */
export function userDestinations(account: Account, identities: LinkedIdentity[], options: DestinationOptions): string[] {
  const out: string[] = [];
  const direct = () => identities.filter((i) => i.unreachableSince === undefined).map((i) => `user:${i.key}`);
  if (options.kind === 'alert') {
    const mode = account.alertDelivery ?? 'dm';
    if (mode === 'dm') out.push(...direct());
    else if (mode === 'here' && account.alertChat) out.push(`chat:${account.alertChat}`);
  } else if (options.kind === 'digest' || options.kind === 'notice') {
    out.push(...direct());
  }
  if (account.emailNotifications && options.emailEnabled) out.push(`email:${account.username}`);
  return [...new Set(out)];
}

/** A destination's parts: `user:telegram:42` → { type: 'user', address: 'telegram:42' }. */
export function parseDestination(destination: string): { type: 'user' | 'chat' | 'email'; address: string } | undefined {
  const colon = destination.indexOf(':');
  const type = destination.slice(0, colon);
  const address = destination.slice(colon + 1);
  if (colon < 0 || !address || (type !== 'user' && type !== 'chat' && type !== 'email')) return undefined;
  return { type, address };
}

/** The addresses whose ChatState says whether the bot can post to `addresses`: each one and, for a
 *  forum topic, its group too (removed from the group, the bot can post in none of its topics). */
export function withTheirGroups(addresses: string[]): string[] {
  return [...new Set(addresses.flatMap((a) => [a, chatOfPostingAddress(a)]))];
}

/** Why the bot cannot post to an address (from states read for withTheirGroups): its own
 *  unreachable mark or its group's; undefined when neither is marked. */
export function unreachableMark(states: Map<string, ChatState>, address: string): { since: number; reason?: string } | undefined {
  const own = states.get(address);
  const group = states.get(chatOfPostingAddress(address));
  const since = own?.unreachableSince ?? group?.unreachableSince;
  return since === undefined ? undefined : { since, reason: own?.unreachableReason ?? group?.unreachableReason };
}

const PLATFORM_NAMES: Record<Platform, string> = { telegram: 'Telegram', discord: 'Discord', slack: 'Slack', console: 'the terminal' };

/** "Telegram", "the terminal": for messages that name where something happened. */
export function platformName(platform: string): string {
  return PLATFORM_NAMES[platform as Platform] ?? platform;
}

/** The platform of a chat address or identity key (`telegram:-100123` → 'telegram'), or 'other':
 *  a metrics label from a fixed set, whatever a stored address holds. */
export function platformOfAddress(address: string): Platform | 'other' {
  const prefix = address.slice(0, address.indexOf(':'));
  return (PLATFORM_NAMES as Record<string, string>)[prefix] ? (prefix as Platform) : 'other';
}
