/** What a command handler is given: the caller, the chat, and the services behind the ports. */
import type { Account, Caller, IdentityRef } from './domain';
import type { Clock, IdGenerator, Logger, Notifier, PasswordHasher, PriceFeed, Store } from './ports';
import type { CoinCatalog } from './coin-catalog';
import type { AttemptLimiter } from './attempt-limiter';
import type { CommandRegistry } from './registry';

export interface CoreConfig {
  /** Virtual cash a new account starts with, in the base currency. */
  startBalance: string;
  /** Trading fee as a percentage of the trade's value ("0.1" = 0.1%). */
  feePercent: string;
  /** A trade refuses a quote older than this. */
  maxQuoteAgeMs: number;
  maxAlertsPerUser: number;
  activityRetentionDays: number;
  /** Trades worth more than this (base currency) ask for confirmation where buttons exist. */
  confirmTradesAbove: string;
  /** A command that changes something and arrives later than this after it was sent is refused. */
  maxCommandAgeMs: number;
  /** How often live prices are fetched (one request for every tracked coin). */
  priceRefreshMs: number;
}

export interface Services {
  store: Store;
  prices: PriceFeed;
  notifier: Notifier;
  passwords: PasswordHasher;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  config: CoreConfig;
  coins: CoinCatalog;
  /** Brute-force limits on logins, link codes and email changes, counted in the store. */
  attempts: AttemptLimiter;
  registry: CommandRegistry;
}

export type ChatType = 'private' | 'group';

export interface ChatRef {
  type: ChatType;
  /** Platform-prefixed conversation id, e.g. `telegram:-100123`. */
  id: string;
}

export interface CommandContext {
  services: Services;
  identity: IdentityRef;
  identityKey: string;
  account: Account | null;
  caller: Caller;
  chat: ChatRef;
  /** Unique per delivered chat message; the same message delivered twice carries the same key. */
  idempotencyKey: string;
  /** The adapter can show Confirm / Cancel buttons, so large trades may ask first. */
  canConfirm: boolean;
  /** The user pressed Confirm on this command. */
  confirmed: boolean;
}
