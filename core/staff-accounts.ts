/**
 * Accounts made outside chat: the first admin (command line or configuration) and staff accounts
 * an operator creates with a password. Same validation as /signup.
 */
import { z } from 'zod';
import { args, passwordSchema } from './args';
import type { Clock, PasswordHasher, Store } from './ports';
import { ROLES, type Account, type LinkedIdentity, type Platform, PLATFORMS, type Role } from './domain';
import { UserError } from './errors';
import { ConflictError } from './ports';

const NewStaffAccount = z.object({
  username: args.username().schema,
  email: args.email().schema,
  role: z.enum(ROLES, `role must be one of ${ROLES.join(', ')}`),
  password: z.string().min(10, 'a password needs at least 10 characters').pipe(passwordSchema).optional(),
  /** `platform:user-id`, e.g. telegram:12345 or console:local. */
  identity: z.string().regex(new RegExp(`^(${PLATFORMS.join('|')}):\\S+$`), 'identity looks like telegram:12345 or console:local').optional(),
});

export type NewStaffAccount = z.input<typeof NewStaffAccount>;

export interface StaffAccountDeps {
  store: Store;
  passwords: PasswordHasher;
  clock: Clock;
  /** Virtual cash the account's portfolio starts with. */
  startBalance: string;
}

/** What ensureStaffAccount did, for the operator to read. */
export interface StaffAccountResult {
  account: Account;
  status: 'created' | 'updated' | 'unchanged';
}

function parseStaffAccount(input: NewStaffAccount) {
  const parsed = NewStaffAccount.safeParse(input);
  if (!parsed.success) throw new UserError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

function identityOf(key: string, username: string, now: number): LinkedIdentity {
  return { key, platform: key.split(':')[0] as Platform, username, linkedAt: now };
}

export async function createStaffAccount(services: StaffAccountDeps, input: NewStaffAccount): Promise<Account> {
  const { username, email, role, password, identity } = parseStaffAccount(input);
  const now = services.clock.now();
  const account: Account = {
    username, email, role: role as Role, createdAt: now, currency: 'usd', emailNotifications: false,
    passwordHash: password ? await services.passwords.hash(password) : null,
  };
  try {
    await services.store.createAccount(account, services.startBalance, identity ? identityOf(identity, username, now) : undefined);
  } catch (error) {
    if (error instanceof ConflictError) throw new UserError(conflictMessage(error, input));
    throw error;
  }
  return account;
}

function conflictMessage(error: ConflictError, input: NewStaffAccount): string {
  switch (error.what) {
    case 'email': return `the email ${input.email} belongs to another account: nothing was created`;
    case 'identity': return `the chat identity ${input.identity} is linked to another account: nothing was created`;
    default: return `that ${error.what} is already in use`;
  }
}

/**
 * Makes sure a staff account exists with this role (and password and chat identity, when given):
 * creates it, or brings an existing one up to date. Idempotent, and safe when two instances run it
 * at once. An existing account is only ever changed when its email is the one given: anyone may
 * sign up with the username an operator is about to configure, and must not be handed the role
 * or the operator's chat identity for it. A chat identity already linked to another account is
 * never moved. Both refusals throw a UserError that says what to fix.
 */
export async function ensureStaffAccount(services: StaffAccountDeps, input: NewStaffAccount): Promise<StaffAccountResult> {
  const { username, email, role, password, identity } = parseStaffAccount(input);
  const { store, clock } = services;
  let existing = await store.getAccount(username);
  if (!existing) {
    try {
      return { account: await createStaffAccount(services, input), status: 'created' };
    } catch (error) {
      // Another instance created it a moment ago: carry on as for an existing account.
      existing = await store.getAccount(username);
      if (!existing) throw error;
    }
  }
  if (existing.email !== email) {
    throw new UserError(`the account ${username} exists with a different email address, so it was not given the ${role} role${identity ? ` or linked to ${identity}` : ''}. Choose another username, or give that account's email if it really is yours.`);
  }
  const linked = identity ? await store.findIdentity(identity) : null;
  if (identity && linked && linked.username !== username) {
    throw new UserError(`the chat identity ${identity} is linked to another account (${linked.username}), so it was not moved to ${username}. Unlink it there first.`);
  }
  let status: StaffAccountResult['status'] = 'unchanged';
  let account = existing;
  if (existing.role !== role || password) {
    const patch = { role: role as Role, ...(password ? { passwordHash: await services.passwords.hash(password) } : {}) };
    account = (await store.updateAccount(username, patch)) ?? existing;
    status = 'updated';
  }
  if (identity && !linked) {
    try {
      await store.linkIdentity(identityOf(identity, username, clock.now()));
      status = 'updated';
    } catch (error) {
      // Linked a moment ago: by another instance doing the same (fine) or to someone else (not).
      const now = await store.findIdentity(identity);
      if (!(error instanceof ConflictError) || now?.username !== username) throw new UserError(`the chat identity ${identity} was just linked to another account: not moved`);
    }
  }
  return { account, status };
}

/** The first admin from configuration: an admin account with this email, linked to this identity. */
export function ensureBootstrapAdmin(services: StaffAccountDeps, input: { username: string; email: string; identity?: string }): Promise<StaffAccountResult> {
  return ensureStaffAccount(services, { ...input, role: 'admin' });
}
