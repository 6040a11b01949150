/**
 * The design document's role matrix, checked for every command and every caller. The expected
 * table is written out here, independently of the registry's declarations, and every registered
 * command must appear in it: a new command without a row fails this test.
 */
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import type { Caller } from '../core/domain';
import { renderPlainText } from '../core/messages';
import { createStaffAccount } from '../core/staff-accounts';
import { makeTestBot, type TestBot } from './support/harness';

const G: Caller = 'guest', U: Caller = 'user', A: Caller = 'admin', N: Caller = 'analyst', M: Caller = 'moderator';
const EVERYONE = [G, U, A, N, M];
const ACCOUNTS = [U, A, N, M];

/** command → callers allowed (from shared/seed/cryptopulse-design.md, "USER ROLE ACCESS MATRIX"). */
const EXPECTED: Record<string, Caller[]> = {
  start: EVERYONE, help: EVERYONE, about: EVERYONE, whoami: EVERYONE,
  signup: EVERYONE, login: EVERYONE, link: EVERYONE, // Signup and Login: every role
  unlink: ACCOUNTS,
  price: EVERYONE, 'coins list': EVERYONE, // public market data
  news: EVERYONE, // public market information, like /price
  'chart price': ACCOUNTS, // View Charts: every account
  'chart portfolio': [U], // a chart of the portfolio: Portfolio Management, user only
  leaderboard: EVERYONE, // ranks only users who opted in; anyone in a group may look
  buy: [U], sell: [U], portfolio: [U], history: [U], // Buy/Sell/Portfolio/Own history: user only
  orders: [U], 'order cancel': [U], // limit and stop orders are buying and selling: user only
  watchlist: [U], 'watch add': [U], 'watch remove': [U], // a watchlist is kept with the portfolio: user only
  'alert set': [U], alerts: [U], 'alert remove': [U], // Price Alerts: user only
  // Group broadcasts: every caller passes the matrix, because a group's own administrators may
  // be guests; the handler decides (and refuses every caller in a private chat, as here).
  'broadcast list': EVERYONE, 'broadcast add': EVERYONE, 'broadcast remove': EVERYONE, 'broadcast pause': EVERYONE, 'broadcast resume': EVERYONE,
  'settings show': ACCOUNTS, 'settings currency': ACCOUNTS, 'settings email': ACCOUNTS, // Settings, Currency, Email: all
  'settings timezone': ACCOUNTS,
  'settings alerts': [U], 'settings digest': [U], // where a user's alerts and digest go: Price Alerts, user only
  'settings leaderboard': [U], // ranks a user's portfolio: user only
  market: [N], // Market Analysis: analyst only
  analysis: [N], // Market Analysis: analyst only
  stats: [A, N, M], // System Statistics
  users: [A, M], transactions: [A, M], // View All Users, Transaction History (All)
  activity: [M], // User Activity Monitor
  role: [A], 'coins add': [A], 'coins remove': [A], // Add/Remove Coins, managing roles
};

const LOGIN_EMAIL = 'the_staffer@example.com';
const LOGIN_PASSWORD = 'matrix-password-1';
const UNISWAP_V2 = { id: 'uniswap-v2', symbol: 'uni', name: 'Uniswap V2 clone' };
let newcomers = 0;
let alertsMade = 0;

/** A line per command with arguments that are valid for it, given the fixtures below, so that
 *  "may run" means the handler itself ran (not a usage or validation error). Functions prepare
 *  what the line needs (a fresh link code, an alert to remove) just before it is sent. A command
 *  without a row here fails the test below. */
const VALID: Record<string, string | ((caller: Caller) => string | Promise<string>)> = {
  start: '/start',
  help: '/help price',
  about: '/about',
  whoami: '/whoami',
  signup: () => `/signup newcomer_${++newcomers} newcomer_${newcomers}@example.com`,
  login: `/login ${LOGIN_EMAIL} ${LOGIN_PASSWORD}`,
  // A guest redeems a code from another chat; an account holder asks for one.
  link: async (caller) => (caller === 'guest' ? `/link ${await freshLinkCode()}` : '/link'),
  unlink: '/unlink',
  price: '/price btc eth',
  'coins list': '/coins',
  news: '/news btc',
  'chart price': '/chart btc 7d',
  'chart portfolio': '/chart portfolio 7d',
  leaderboard: '/leaderboard 30d',
  buy: '/buy btc $10',
  sell: '/sell btc 10%',
  portfolio: '/portfolio',
  history: '/history',
  orders: '/orders',
  'order cancel': async () => `/order cancel ${await anOrderOfTheUser()}`,
  watchlist: '/watchlist',
  // Each run needs the coin off (add) or on (remove) the_user's watchlist.
  'watch add': async () => {
    await bot.store.removeFromWatchlist('the_user', 'bitcoin');
    return '/watch add btc';
  },
  'watch remove': async () => {
    await bot.store.addToWatchlist('the_user', 'ethereum', 25);
    return '/watch remove eth';
  },
  'alert set': '/alert btc above 1000000',
  alerts: '/alerts',
  'alert remove': async () => `/alert remove ${await anAlertOfTheUser()}`,
  'broadcast list': '/broadcast list',
  'broadcast add': '/broadcast add btc above 1000000',
  'broadcast remove': '/broadcast remove 3f9a1c2b7d4e',
  'broadcast pause': '/broadcast pause',
  'broadcast resume': '/broadcast resume',
  'settings show': '/settings',
  'settings alerts': '/settings alerts dm',
  'settings timezone': '/settings timezone Europe/Athens',
  'settings digest': '/settings digest on',
  'settings leaderboard': '/settings leaderboard on',
  'settings currency': '/settings currency eur',
  'settings email': '/settings email on',
  market: '/market',
  analysis: '/analysis btc',
  stats: '/stats',
  users: '/users',
  transactions: '/transactions 1 the_user',
  activity: '/activity the_user',
  role: '/role role_target analyst',
  'coins add': async () => {
    await bot.store.removeCoin('pepe'); // known upstream (the test feed), not tracked yet
    bot.core.services.coins.invalidate();
    return '/coins add pepe';
  },
  'coins remove': async () => {
    if (!(await bot.store.listCoins()).some((c) => c.id === 'uniswap-v2')) await bot.store.addCoin(UNISWAP_V2);
    bot.core.services.coins.invalidate();
    return '/coins remove uniswap-v2';
  },
};

/** Allowed callers whose valid line the handler itself turns down, by its own rule (not the
 *  role matrix): a chat already linked to an account cannot sign up or log in again. */
const HANDLER_DECLINES: Record<string, { callers: Caller[]; answer: RegExp }> = {
  signup: { callers: ACCOUNTS, answer: /already linked to the account/ },
  login: { callers: ACCOUNTS, answer: /already linked to the account/ },
  ...Object.fromEntries(['list', 'add', 'remove', 'pause', 'resume'].map((sub) => [`broadcast ${sub}`, { callers: EVERYONE, answer: /Broadcasts are for groups and channels/ }])),
};

const CALLERS: Caller[] = [G, U, A, N, M];
let bot: TestBot;
const handlers = new Map<string, MockInstance>();

beforeAll(async () => {
  bot = await makeTestBot();
  await bot.signup('the_user');
  await bot.staff('the_admin', 'admin');
  await bot.staff('the_analyst', 'analyst');
  await bot.staff('the_moderator', 'moderator');
  // Fixtures the valid lines need: an account to change the role of, an account with a password
  // to log in to, and a holding to sell (every coin is quoted at the clock's time by the harness).
  await bot.staff('role_target', 'user');
  await createStaffAccount({ ...bot.core.services, startBalance: bot.core.services.config.startBalance },
    { username: 'the_staffer', email: LOGIN_EMAIL, role: 'moderator', password: LOGIN_PASSWORD });
  const bought = await bot.send('the_user', '/buy btc $100');
  if (bought.tone !== 'success') throw new Error(`fixture purchase failed: ${renderPlainText(bought)}`);
  // Spies that call through: they tell whether a command's own handler ran, and how it ended.
  for (const command of bot.core.registry.commands) handlers.set(command.name, vi.spyOn(command, 'run'));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await bot.close();
});

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

/** A one-time link code for the_user, asked for from a chat of theirs. */
async function freshLinkCode(): Promise<string> {
  const reply = await bot.send(await speaker('user'), '/link');
  if (!reply.linkCode) throw new Error(`no link code: ${renderPlainText(reply)}`);
  return reply.linkCode;
}

async function anAlertOfTheUser(): Promise<string> {
  const alertId = `matrix${++alertsMade}`;
  const now = bot.clock.now();
  await bot.store.createAlert({ alertId, username: 'the_user', coinId: 'bitcoin', condition: 'above', targetPrice: '1000000', state: 'armed', createdAt: now, updatedAt: now, fireCount: 0, version: 1 }, 100);
  return alertId;
}

/** An open order of the_user's (a limit buy far below the price), by its id. */
async function anOrderOfTheUser(): Promise<string> {
  const placed = await bot.say('the_user', '/buy btc $10 at 1000');
  const id = /Order ([0-9a-f]{8}) placed/.exec(placed)?.[1];
  if (!id) throw new Error(`no order placed: ${placed}`);
  return id;
}

describe('role matrix', () => {
  it('has an expected row for every registered command, and no stale rows', () => {
    const registered = bot.core.registry.commands.map((c) => c.name).sort();
    expect(registered).toEqual(Object.keys(EXPECTED).sort());
  });

  it('has a valid argument line for every registered command, and no stale lines', () => {
    const registered = bot.core.registry.commands.map((c) => c.name).sort();
    expect(Object.keys(VALID).sort()).toEqual(registered);
  });

  for (const [name, allowed] of Object.entries(EXPECTED)) {
    for (const caller of CALLERS) {
      const may = allowed.includes(caller);
      it(`${caller} ${may ? 'may' : 'may not'} run /${name}`, async () => {
        const row = VALID[name];
        expect(row, `no valid argument line for /${name}`).toBeDefined();
        const who = await speaker(caller);
        const line = typeof row === 'function' ? await row(caller) : row!;
        const handler = handlers.get(name)!;
        handler.mockClear(); // preparing the line may have run other commands
        const reply = await bot.send(who, line);
        const text = renderPlainText(reply);
        const refused = /may not run|You need an account for/.test(text);
        if (!may) {
          expect(refused, text).toBe(true);
          expect(handler).not.toHaveBeenCalled();
          return;
        }
        expect(refused, text).toBe(false);
        // The command's own handler ran on this line: it passed the role check and validation.
        expect(handler, `/${name} never reached its handler: ${text}`).toHaveBeenCalledTimes(1);
        expect(text).not.toMatch(/Usage:/);
        const declines = HANDLER_DECLINES[name];
        if (declines?.callers.includes(caller)) {
          expect(handler.mock.settledResults[0]?.type, text).toBe('rejected');
          expect(text).toMatch(declines.answer);
        } else {
          // ...and answered, without a UserError of its own.
          expect(handler.mock.settledResults[0]?.type, text).toBe('fulfilled');
          expect(reply.tone, text).not.toBe('error');
        }
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
