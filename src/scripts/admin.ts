/**
 * Operator commands outside chat, mainly to create the first admin:
 *   npm run admin -- create --username root --email root@example.com [--role admin]
 *                           [--password-prompt | --generate-password] [--identity telegram:12345]
 *   npm run admin -- role --username ann --role moderator
 * Uses the same configuration (STORE, DATA_DIR, ...) as the bot.
 */
import 'dotenv/config';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createStaffAccount } from '../../core/staff-accounts';
import { ROLES, type Role } from '../../core/domain';
import { UserError } from '../../core/errors';
import { BcryptPasswords, systemClock } from '../../infra/support/system';
import { ConfigError, loadConfig } from '../config';
import { openStore } from '../compose';

const USAGE = `Usage:
  npm run admin -- create --username <name> --email <address> [--role admin|moderator|analyst|user]
                          [--generate-password] [--identity <platform>:<user id>]
  npm run admin -- role --username <name> --role <role>`;

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
      const account = await createStaffAccount(
        { store, passwords: new BcryptPasswords(), clock: systemClock, startBalance: config.START_BALANCE },
        { username: values.username ?? '', email: values.email ?? '', role: (values.role ?? 'admin') as Role, password, identity: values.identity },
      );
      console.log(`Created ${account.role} ${account.username} <${account.email}>.`);
      if (values.identity) console.log(`Linked to ${values.identity}.`);
      if (password) console.log(`Password (shown once): ${password}\nSign in from a private chat with: /login ${account.email} <password>`);
      if (!password && !values.identity) console.log('No password and no identity: add --identity or --generate-password so someone can sign in.');
    } else if (action === 'role') {
      if (!values.username || !ROLES.includes(values.role as Role)) throw new UserError(`role needs --username and --role (${ROLES.join(', ')})`);
      const updated = await store.updateAccount(values.username, { role: values.role as Role });
      if (!updated) throw new UserError(`there is no account ${values.username}`);
      console.log(`${updated.username} is now ${updated.role}.`);
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
