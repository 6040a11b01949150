/**
 * Operator commands outside chat, mainly to create the first admin:
 *   npm run admin -- create --username root --email root@example.com [--role admin]
 *                           [--password-prompt | --generate-password] [--identity telegram:12345]
 *   npm run admin -- role --username ann --email ann@example.com --role moderator
 * Uses the same configuration (STORE, DATA_DIR, ...) as the bot. An existing account is only
 * changed when the email given is its own: a username alone says nothing about who holds it.
 */
import 'dotenv/config';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ensureStaffAccount } from '../../core/staff-accounts';
import { ROLES, type Role } from '../../core/domain';
import { UserError } from '../../core/errors';
import { BcryptPasswords, systemClock } from '../../infra/support/system';
import { ConfigError, loadConfig } from '../config';
import { openStore } from '../compose';

const USAGE = `Usage:
  npm run admin -- create --username <name> --email <address> [--role admin|moderator|analyst|user]
                          [--generate-password] [--identity <platform>:<user id>]
  npm run admin -- role --username <name> --email <address> --role <role>`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      username: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' },
      identity: { type: 'string' }, 'generate-password': { type: 'boolean' },
    },
  });
  const config = loadConfig();
  const store = await openStore(config);
  try {
    const [action] = positionals;
    if (action === 'create') {
      // A generated password is printed once, to the operator's terminal only, never logged.
      const password = values['generate-password'] ? randomBytes(12).toString('base64url') : undefined;
      const { account, status } = await ensureStaffAccount(
        { store, passwords: new BcryptPasswords(), clock: systemClock, startBalance: config.START_BALANCE },
        { username: values.username ?? '', email: values.email ?? '', role: (values.role ?? 'admin') as Role, password, identity: values.identity },
      );
      const done = { created: 'Created', updated: 'Updated', unchanged: 'Already up to date:' }[status];
      console.log(`${done} ${account.role} ${account.username} <${account.email}>.`);
      if (values.identity) console.log(`Linked to ${values.identity}.`);
      if (password) console.log(`Password (shown once): ${password}\nSign in from a private chat with: /login ${account.email} <password>`);
      if (!password && !values.identity && status === 'created') console.log('No password and no identity: add --identity or --generate-password so someone can sign in.');
    } else if (action === 'role') {
      if (!values.username || !values.email || !ROLES.includes(values.role as Role)) throw new UserError(`role needs --username, --email (the account's own, as a check) and --role (${ROLES.join(', ')})`);
      const account = await store.getAccount(values.username);
      if (!account) throw new UserError(`there is no account ${values.username}`);
      if (account.email !== values.email.trim().toLowerCase()) throw new UserError(`the account ${values.username} has a different email address: its role was not changed`);
      const updated = await store.updateAccount(values.username, { role: values.role as Role });
      console.log(`${updated!.username} is now ${updated!.role} (was ${account.role}).`);
    } else {
      throw new UserError(USAGE);
    }
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  const known = error instanceof UserError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(known ? (error as Error).message : error);
  process.exit(known ? 2 : 1);
});
