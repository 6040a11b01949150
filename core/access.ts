/**
 * Who may run what: the design document's role matrix (shared/seed/cryptopulse-design.md),
 * one constant per row. Commands name the row they implement; "guest" is a chat identity not yet
 * linked to an account, who may only look around and sign up.
 */
import type { Caller } from './domain';

const ALL_ROLES = ['user', 'admin', 'analyst', 'moderator'] as const;

export const ACCESS = {
  /** Login, Signup, About, and public market information. */
  public: ['guest', ...ALL_ROLES],
  /** Settings, Currency Selection, Email Notifications, View Charts / News. */
  everyAccount: ALL_ROLES,
  /** Portfolio Management, Buy, Sell, Transaction History (Own), Price Alerts. */
  trading: ['user'],
  /** Add/Remove Coins; managing users and roles. */
  admin: ['admin'],
  /** View All Users, Transaction History (All). */
  staffOversight: ['admin', 'moderator'],
  /** System Statistics. */
  statistics: ['admin', 'analyst', 'moderator'],
  /** Market Analysis. */
  marketAnalysis: ['analyst'],
  /** User Activity Monitor. */
  activityMonitor: ['moderator'],
} as const satisfies Record<string, readonly Caller[]>;

export const TRADING_DENIED_NOTE = 'Only user accounts trade: staff accounts (admin, analyst, moderator) do not.';
