/**
 * The design document's role matrix, checked for every command and every caller. The expected
 * table is written out here, independently of the registry's declarations, and every registered
 * command must appear in it: a new command without a row fails this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../core/domain';
import { makeTestBot, type TestBot } from './support/harness';

const G: Caller = 'guest', U: Caller = 'user', A: Caller = 'admin', N: Caller = 'analyst', M: Caller = 'moderator';
const EVERYONE = [G, U, A, N, M];
const ACCOUNTS = [U, A, N, M];

/** command → callers allowed (from shared/seed/cryptopulse-design.md, "USER ROLE ACCESS MATRIX"). */
const EXPECTED: Record<string, Caller[]> = {
  start: EVERYONE, help: EVERYONE, about: EVERYONE, whoami: EVERYONE,
  signup: EVERYONE, login: EVERYONE, link: EVERYONE, // Signup and Login: every role
  unlink: ACCOUNTS,
  price: EVERYONE, coins: EVERYONE, // public market data
  buy: [U], sell: [U], portfolio: [U], history: [U], // Buy/Sell/Portfolio/Own history: user only
  alert: [U], alerts: [U], 'alert remove': [U], // Price Alerts: user only
  settings: ACCOUNTS, 'settings currency': ACCOUNTS, 'settings email': ACCOUNTS, // Settings, Currency, Email: all
  market: [N], // Market Analysis: analyst only
  stats: [A, N, M], // System Statistics
  users: [A, M], transactions: [A, M], // View All Users, Transaction History (All)
  activity: [M], // User Activity Monitor
  role: [A], 'coins add': [A], 'coins remove': [A], // Add/Remove Coins, managing roles
};

const CALLERS: Caller[] = [G, U, A, N, M];
let bot: TestBot;

beforeAll(async () => {
  bot = await makeTestBot();
  await bot.signup('the_user');
  await bot.staff('the_admin', 'admin');
  await bot.staff('the_analyst', 'analyst');
  await bot.staff('the_moderator', 'moderator');
});
afterAll(() => bot.close());

/** A fresh chat identity for each check (linked to the caller's account, unless a guest), so
 *  one check's side effects (a signup, an unlink) cannot change the next one's caller. */
let identities = 0;
async function speaker(caller: Caller): Promise<string> {
  const name = `speaker_${++identities}`;
  if (caller !== 'guest') {
    await bot.store.linkIdentity({ key: `console:${name}`, platform: 'console', username: `the_${caller}`, linkedAt: bot.clock.now() });
  }
  return name;
}

describe('role matrix', () => {
  it('has an expected row for every registered command, and no stale rows', () => {
    const registered = bot.core.registry.commands.map((c) => c.name).sort();
    expect(registered).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, allowed] of Object.entries(EXPECTED)) {
    for (const caller of CALLERS) {
      const may = allowed.includes(caller);
      it(`${caller} ${may ? 'may' : 'may not'} run /${name}`, async () => {
        const command = bot.core.registry.commands.find((c) => c.name === name)!;
        const reply = await bot.say(await speaker(caller), command.examples[0]!);
        const refused = /may not run|You need an account for/.test(reply);
        expect(refused, reply).toBe(!may);
      });
    }
  }

  it('tells an admin why they cannot trade', async () => {
    expect(await bot.say('the_admin', '/buy btc $10')).toMatch(/Only user accounts trade/);
  });

  it('help lists exactly what the caller may run', async () => {
    const help = await bot.say('the_analyst', '/help');
    expect(help).toContain('/market');
    expect(help).toContain('/stats');
    expect(help).not.toContain('/buy');
    expect(help).not.toContain('/users');
  });
});
