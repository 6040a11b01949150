/**
 * The domain's records. Money fields are decimal strings at rest (see money.ts); the store hands
 * them back exactly as written.
 */
import type { FiatCode } from './currencies';

export const ROLES = ['user', 'admin', 'analyst', 'moderator'] as const;
export type Role = (typeof ROLES)[number];
/** A chat identity not yet linked to an account. */
export type Caller = Role | 'guest';

export const PLATFORMS = ['telegram', 'discord', 'slack', 'console'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface Account {
  username: string;
  email: string;
  /** bcrypt hash; null for accounts made by /signup, which log in through their chat identity. */
  passwordHash: string | null;
  role: Role;
  createdAt: number;
  currency: FiatCode;
  /** Whether trade confirmations and alerts also go out by email. */
  emailNotifications: boolean;
}

/** A chat user: (platform, workspace or server where it matters, platform user id). */
export interface IdentityRef {
  platform: Platform;
  /** Slack workspace (team) id; empty where the platform's user ids are global. */
  workspace?: string;
  userId: string;
}

export interface LinkedIdentity {
  key: string;
  platform: Platform;
  username: string;
  linkedAt: number;
}

/** `telegram:42`, `slack:T1:U9`: one string the stores can key on without knowing the platform. */
export function identityKey(identity: IdentityRef): string {
  return identity.workspace
    ? `${identity.platform}:${identity.workspace}:${identity.userId}`
    : `${identity.platform}:${identity.userId}`;
}

export interface Holding {
  coinId: string;
  quantity: string;
  /** Cash paid for the quantity still held, fees included. */
  costBasis: string;
}

export interface Portfolio {
  username: string;
  cash: string;
  holdings: Record<string, Holding>;
  realizedPnl: string;
  /** Bumped on every trade; optimistic stores condition their write on it. */
  version: number;
  createdAt: number;
  /** Timestamp (ms) of the account's latest trade, 0 before the first. Each trade is stamped
   *  after it (see applyPlan), so one account's ledger in time order is its commit order even
   *  when several processes with their own clocks trade on it. */
  lastTradeAt: number;
}

export type TradeSide = 'buy' | 'sell';

export interface Transaction {
  transactionId: string;
  username: string;
  type: TradeSide;
  coinId: string;
  quantity: string;
  price: string;
  /** Gross cash value of the trade (quantity x price, in cents). */
  amount: string;
  fee: string;
  timestamp: number;
  platform: Platform;
}

export type AlertCondition = 'above' | 'below';

export interface PriceAlert {
  alertId: string;
  username: string;
  coinId: string;
  condition: AlertCondition;
  targetPrice: string;
  active: boolean;
  createdAt: number;
  firedAt?: number;
}

export interface Coin {
  id: string;
  symbol: string;
  name: string;
}

export interface Quote {
  coinId: string;
  /** Price in the base currency. */
  price: string;
  change24hPercent: string | null;
  /** When this process received the quote (ms since epoch). */
  receivedAt: number;
  simulated: boolean;
}

export interface ActivityEntry {
  at: number;
  identityKey: string;
  platform: Platform;
  username: string | null;
  command: string;
  /** The command line as typed, clipped; only the command's name for commands whose arguments
   *  are secret (/login, /link), and "(unknown command)" for a word that is not one. */
  detail: string;
  outcome: 'ok' | 'error' | 'denied';
}

export interface SystemStats {
  accounts: number;
  accountsByRole: Record<Role, number>;
  identities: number;
  transactions: number;
  buyVolume: string;
  sellVolume: string;
  activeAlerts: number;
  trackedCoins: number;
}
