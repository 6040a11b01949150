/**
 * The contract every chat front end implements (Telegram, the terminal chat, and Discord and Slack
 * to come), beside the core's other ports. The composition root builds one adapter per configured
 * platform, starts them side by side, routes pushed messages (fired alerts) to them, and stops
 * them: it never needs to know which platform an adapter serves beyond `platform`.
 *
 * Addresses are the core's platform-prefixed strings, so the core can keep one and post to it
 * later without knowing the platform: a person is a linked identity (`telegram:42`,
 * `slack:T1:U9`), a conversation is a chat id (`telegram:-100123`, `discord:<channel id>`). A user
 * id is not a chat id: Discord and Slack need a DM opened first, which the adapter does itself;
 * only on Telegram does a user's id also name their private chat.
 */
import type { LinkedIdentity, Platform } from './domain';
import type { RichMessage } from './messages';
import type { Delivery } from './ports';

/** What a platform can show, so callers (and the core, later) can choose what to send. */
export interface ChatCapabilities {
  /** Pressable buttons that run a command (inline keyboards, components, Block Kit actions).
   *  Without them an adapter shows buttons as typed-command hints. */
  buttons: boolean;
  /** A message's image shown as a picture; without, as its link. */
  images: boolean;
  /** How a reply meant for the caller alone reaches them from a shared chat: in their direct
   *  chat with the bot ('dm'), visible only to them in place ('ephemeral'), or not at all ('none':
   *  shown in the chat, marked as private). */
  privateReplies: 'dm' | 'ephemeral' | 'none';
  /** The longest text one message may carry (characters); the adapter splits longer replies.
   *  Infinity where there is no limit. */
  maxMessageLength: number;
}

export interface ChatAdapter {
  readonly platform: Platform;
  readonly capabilities: ChatCapabilities;
  /** Connects and starts taking events; resolves once it does, rejects when it cannot. */
  start(): Promise<void>;
  /** Stops taking new events, lets the ones in flight finish, and flushes queued sends (each
   *  adapter bounds how long it waits). Resolves when done; never rejects. */
  stop(): Promise<void>;
  /** The first half of stop(), for a graceful shutdown (src/shutdown.ts): stops taking new events
   *  and lets the ones in flight finish, but keeps sending, so queued pushes (the outbox) can
   *  still go out through it before stop(). Resolves when done; never rejects. Absent: the
   *  adapter has no such half, and the shutdown calls stop() for it later. */
  stopReceiving?(): Promise<void>;
  /** Whether it can take events and send now (started and not stopped; the gateway connected
   *  where the platform has one), as far as the adapter knows without asking the platform:
   *  readiness (/readyz) reports a configured platform that is not. Absent: always. */
  connected?(): boolean;
  /**
   * Sends a message to a person outside any conversation (a fired alert), in their direct chat
   * with the bot, opening it first where the platform needs that. 'sent' when the platform took
   * the whole message; 'gone' when the platform says the bot can no longer write there (blocked,
   * the user left every shared server); 'failed' otherwise, including an identity of another
   * platform. Never throws.
   */
  deliverToUser(identity: LinkedIdentity, message: RichMessage): Promise<Delivery>;
  /** Sends a message into a conversation by its posting address (`telegram:-100123`, a forum
   *  topic `telegram:-100123/7`: see postingAddress), with the same outcomes. Never throws. */
  deliverToChat(chatAddress: string, message: RichMessage): Promise<Delivery>;
}

/** The platform's own part of a prefixed address (`telegram:-100123` → `-100123`, an identity key
 *  `slack:T1:U9` → `T1:U9`), or undefined when the address belongs to another platform. */
export function addressOn(platform: Platform, address: string): string | undefined {
  const prefix = `${platform}:`;
  return address.startsWith(prefix) && address.length > prefix.length ? address.slice(prefix.length) : undefined;
}
