/**
 * The first admin and operator-made staff accounts: an existing account is only promoted or
 * linked when its email is the configured one, a linked chat identity never moves, and two
 * instances starting at once both start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../core/errors';
import { ensureBootstrapAdmin, ensureStaffAccount, type StaffAccountDeps } from '../core/staff-accounts';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { BcryptPasswords } from '../infra/support/system';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;
let deps: StaffAccountDeps;
beforeEach(async () => {
  bot = await makeTestBot();
  deps = { ...bot.core.services, startBalance: '10000' };
});
afterEach(() => bot.close());

const OPERATOR = { username: 'root', email: 'ops@company.io', identity: 'console:ops' };

describe('bootstrap admin', () => {
  it('refuses to promote or link an account someone else signed up with that username', async () => {
    await bot.say('mallory', '/signup root mallory@evil.io');
    await expect(ensureBootstrapAdmin(deps, OPERATOR)).rejects.toThrow(/account root exists with a different email address, so it was not given the admin role or linked to console:ops/);
    expect((await bot.store.getAccount('root'))?.role).toBe('user');
    expect(await bot.store.findIdentity('console:ops')).toBeNull();
    expect(await bot.say('ops', '/whoami')).toMatch(/not linked to an account/);
    expect(await bot.say('mallory', '/role mallory admin')).toMatch(/Your role \(user\) may not run \/role/);
  });

  it('refuses to create an admin with an email another account holds', async () => {
    await bot.say('mallory', '/signup mallory ops@company.io');
    await expect(ensureBootstrapAdmin(deps, OPERATOR)).rejects.toThrow(/the email ops@company.io belongs to another account: nothing was created/);
    expect(await bot.store.getAccount('root')).toBeNull();
  });

  it('never moves a chat identity linked to someone else onto the admin account', async () => {
    await bot.say('ops', '/signup eve eve@example.com');
    await bot.store.createAccount({ username: 'root', email: 'ops@company.io', passwordHash: null, role: 'user', createdAt: 0, currency: 'usd', emailNotifications: false }, '0');
    await expect(ensureBootstrapAdmin(deps, OPERATOR)).rejects.toThrow(/console:ops is linked to another account \(eve\)/);
    expect((await bot.store.findIdentity('console:ops'))?.username).toBe('eve');
    expect((await bot.store.getAccount('root'))?.role).toBe('user');
  });

  it('creates the admin, then promotes and links the same account (same email) idempotently', async () => {
    expect((await ensureBootstrapAdmin(deps, OPERATOR)).status).toBe('created');
    expect((await ensureBootstrapAdmin(deps, OPERATOR)).status).toBe('unchanged');
    await bot.store.updateAccount('root', { role: 'user' });
    await bot.store.unlinkIdentity('console:ops');
    expect((await ensureBootstrapAdmin(deps, { ...OPERATOR, email: 'OPS@company.io' })).status).toBe('updated');
    expect(await bot.say('ops', '/whoami')).toMatch(/Role:\s+admin/);
  });

  it('lets two instances starting at once on one store both start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-bootstrap-'));
    const stores = [0, 1].map(() => SqliteStore.open({ file: join(dir, 'db.sqlite') }));
    try {
      const results = await Promise.all(stores.map((store) => ensureBootstrapAdmin({ store, passwords: new BcryptPasswords(4), clock: bot.clock, startBalance: '0' }, OPERATOR)));
      expect(results.map((r) => r.status).sort()).toEqual(['created', 'unchanged']);
      expect((await stores[0]!.getAccount('root'))?.role).toBe('admin');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('operator-made staff accounts', () => {
  it('changes an existing account only when the email is its own', async () => {
    await bot.say('mallory', '/signup ann mallory@evil.io');
    await expect(ensureStaffAccount(deps, { username: 'ann', email: 'ann@example.com', role: 'moderator' })).rejects.toBeInstanceOf(UserError);
    expect((await bot.store.getAccount('ann'))?.role).toBe('user');
    const { status, account } = await ensureStaffAccount(deps, { username: 'ann', email: 'mallory@evil.io', role: 'moderator' });
    expect([status, account.role]).toEqual(['updated', 'moderator']);
  });
});

describe('passwords', () => {
  it('refuses a password longer than bcrypt reads (72 bytes) instead of cutting it short', async () => {
    const long = 'é'.repeat(37); // 74 bytes in UTF-8, though only 37 characters
    await expect(ensureStaffAccount(deps, { username: 'mod', email: 'mod@example.com', role: 'moderator', password: long })).rejects.toThrow(/at most 72 bytes/);
    expect(await bot.say('x', `/login mod@example.com ${long}`)).toMatch(/A password can be at most 72 bytes/);
    await expect(new BcryptPasswords(4).hash(long)).rejects.toThrow(/72 bytes/);
    await ensureStaffAccount(deps, { username: 'mod', email: 'mod@example.com', role: 'moderator', password: 'é'.repeat(36) });
    expect(await bot.say('x', `/login mod@example.com ${'é'.repeat(36)}`)).toMatch(/Signed in/);
  });

  it('hashes with bcrypt at cost 12 by default', async () => {
    expect(await new BcryptPasswords().hash('correct horse battery')).toMatch(/^\$2[aby]\$12\$/);
  });
});
