/**
 * Accounts made outside chat: the first admin (command line or configuration) and staff accounts
 * an operator creates with a password. Same validation as /signup.
 */
import { z } from 'zod';
import { args } from './args';
import type { Clock, PasswordHasher, Store } from './ports';
import { ROLES, type Account, type LinkedIdentity, type Platform, PLATFORMS, type Role } from './domain';
import { UserError } from './errors';
import { ConflictError } from './ports';

const NewStaffAccount = z.object({
  username: args.username().schema,
  email: args.email().schema,
  role: z.enum(ROLES, `role must be one of ${ROLES.join(', ')}`),
  password: z.string().min(10, 'a password needs at least 10 characters').optional(),
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

export async function createStaffAccount(services: StaffAccountDeps, input: NewStaffAccount): Promise<Account> {
  const parsed = NewStaffAccount.safeParse(input);
  if (!parsed.success) throw new UserError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const { username, email, role, password, identity } = parsed.data;
  const now = services.clock.now();
  const account: Account = {
    username, email, role: role as Role, createdAt: now, currency: 'usd', emailNotifications: false,
    passwordHash: password ? await services.passwords.hash(password) : null,
  };
  const link: LinkedIdentity | undefined = identity
    ? { key: identity, platform: identity.split(':')[0] as Platform, username, linkedAt: now }
    : undefined;
  try {
    await services.store.createAccount(account, services.startBalance, link);
  } catch (error) {
    if (error instanceof ConflictError) throw new UserError(`that ${error.what} is already in use`);
    throw error;
  }
  return account;
}

/** Makes sure the configured first admin exists (and is linked to its identity); idempotent. */
export async function ensureBootstrapAdmin(services: StaffAccountDeps, input: { username: string; email: string; identity?: string }): Promise<'created' | 'exists'> {
  const existing = await services.store.getAccount(input.username);
  if (!existing) {
    await createStaffAccount(services, { ...input, role: 'admin' });
    return 'created';
  }
  if (existing.role !== 'admin') await services.store.updateAccount(existing.username, { role: 'admin' });
  if (input.identity && !(await services.store.findIdentity(input.identity))) {
    await services.store.linkIdentity({ key: input.identity, platform: input.identity.split(':')[0] as Platform, username: existing.username, linkedAt: services.clock.now() });
  }
  return 'exists';
}
