/** Accounts, identities and staff commands as users and staff see them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../core/ports';
import { createStaffAccount } from '../core/staff-accounts';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { createLogger } from '../infra/support/logger';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
});
afterEach(() => bot.close());

const staffDeps = () => ({ ...bot.core.services, startBalance: bot.core.services.config.startBalance });

function linkCodeIn(text: string): string {
  return /\b([0-9A-Z]{8})\b/.exec(text)![1]!;
}

describe('signup and identities', () => {
  it('signs up with a valid username and email, once', async () => {
    expect(await bot.say('ann', '/signup ann ann@example.com')).toMatch(/Welcome, ann![\s\S]*\$10,000\.00 of virtual cash/);
    expect(await bot.say('ann', '/signup ann2 other@example.com')).toMatch(/already linked to the account ann/);
    expect(await bot.say('bob', '/signup ann bob@example.com')).toMatch(/The username ann is taken/);
    expect(await bot.say('bob', '/signup bob ANN@example.com')).toMatch(/already has an account/);
    expect(await bot.say('bob', '/signup Bo bob@example.com')).toMatch(/3 to 32 characters/);
    expect(await bot.say('bob', '/signup bob not-an-email')).toMatch(/not a valid email/);
    expect(await bot.say('bob', '/signup bob')).toMatch(/Missing email[\s\S]*Usage: \/signup <username> <email>/);
  });

  it('links a second platform with a one-time code, then unlinks', async () => {
    await bot.signup('ann');
    const codeReply = await bot.send('ann', '/link');
    expect(codeReply.private).toBe(true);
    const code = linkCodeIn(codeReply.text!);
    expect(codeReply.linkCode).toBe(code);
    expect(await bot.say('42', `/link ${code}`, { platform: 'telegram' })).toMatch(/Linked: this telegram account now uses ann's portfolio/);
    expect(await bot.say('43', `/link ${code}`, { platform: 'telegram' })).toMatch(/unknown, used or expired/);
    await bot.say('42', '/buy btc $10', { platform: 'telegram' });
    expect((await bot.store.getPortfolio('ann'))!.cash).toBe('9990');
    expect(await bot.say('ann', '/whoami')).toMatch(/Linked chats:\s+console \(this one\), telegram/);
    expect(await bot.say('42', '/unlink', { platform: 'telegram' })).toMatch(/no longer linked/);
    expect(await bot.say('ann', '/unlink')).toMatch(/would lock you out/);
  });

  it('expires link codes after 10 minutes', async () => {
    await bot.signup('ann');
    const code = linkCodeIn((await bot.send('ann', '/link')).text!);
    bot.clock.advance(10 * 60_000);
    expect(await bot.say('99', `/link ${code}`, { platform: 'discord' })).toMatch(/unknown, used or expired/);
  });

  it('redeems a code through /start, as a Telegram deep link does', async () => {
    await bot.signup('ann');
    const code = linkCodeIn((await bot.send('ann', '/link')).text!);
    expect(await bot.say('77', `/start ${code}`, { platform: 'telegram' })).toMatch(/Linked/);
  });

  it('keeps link codes and logins out of group chats', async () => {
    await bot.signup('ann');
    expect(await bot.say('ann', '/link', { chat: 'group' })).toMatch(/only works in a private chat/);
    const login = await bot.dispatch('zed', '/login ann@example.com hunter22hunter', { chat: 'group' });
    expect(login.message.text).toMatch(/only works in a private chat/);
    expect(login.deleteInput).toBe(true);
  });
});

describe('password login', () => {
  beforeEach(async () => {
    await createStaffAccount(staffDeps(), { username: 'mod', email: 'mod@example.com', role: 'moderator', password: 'correct horse battery' });
  });

  it('links the chat with the right password and refuses a wrong one', async () => {
    expect(await bot.say('m1', '/login mod@example.com wrong-password')).toBe('Wrong email or password.');
    expect(await bot.say('m1', '/login nobody@example.com whatever')).toBe('Wrong email or password.');
    expect(await bot.say('m1', '/login mod@example.com "correct horse battery"')).toMatch(/Wrong email or password|Too many/);
  });

  it('logs in with a password without spaces', async () => {
    await createStaffAccount(staffDeps(), { username: 'ana', email: 'ana@example.com', role: 'analyst', password: 'Tr0ub4dor&3xyz' });
    expect(await bot.say('a1', '/login ana@example.com Tr0ub4dor&3xyz')).toMatch(/Signed in: this chat is now linked to ana \(analyst\)/);
    expect(await bot.say('a1', '/market')).not.toMatch(/may not run/);
  });

  it('makes each failed login past the fifth wait twice as long, per identity, up to an hour', async () => {
    for (let i = 0; i < 5; i++) expect(await bot.say('attacker', `/login mod@example.com guess${i}`)).toBe('Wrong email or password.');
    const waits: number[] = [];
    for (let i = 5; i < 13; i++) {
      const refused = await bot.say('attacker', `/login mod@example.com guess${i}`);
      const minutes = Number(/^Too many failed logins: try again in (\d+) min\.$/.exec(refused)?.[1]);
      waits.push(minutes);
      // A refused attempt is not counted: asking again at once is told the same wait.
      expect(await bot.say('attacker', `/login mod@example.com guess${i}`)).toBe(refused);
      bot.clock.advance(minutes * 60_000 - 1);
      expect(await bot.say('attacker', `/login mod@example.com guess${i}`)).toBe('Too many failed logins: try again in 1 s.');
      bot.clock.advance(1);
      expect(await bot.say('attacker', `/login mod@example.com guess${i}`)).toBe('Wrong email or password.');
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    // Another identity aiming at the same account is held back too, but by the account's short cap.
    expect(await bot.say('attacker2', '/login mod@example.com guess13')).toBe('Too many failed logins: try again in 5 min.');
  });

  it('never records the password in the activity log', async () => {
    await bot.say('m2', '/login mod@example.com s3cret-password');
    await createStaffAccount(staffDeps(), { username: 'boss', email: 'boss@example.com', role: 'moderator', identity: 'console:boss' });
    const activity = await bot.store.listActivity('boss', { limit: 10 });
    expect(activity.items).toHaveLength(0);
    await bot.store.linkIdentity({ key: 'console:m3', platform: 'console', username: 'mod', linkedAt: 0 });
    await bot.say('m3', '/login mod@example.com another-secret');
    const modActivity = await bot.store.listActivity('mod', { limit: 10 });
    expect(modActivity.items.map((e) => e.detail)).toContainEqual(expect.stringMatching(/^\/login\b/));
    expect(JSON.stringify(modActivity.items)).not.toContain('another-secret');
  });
});

describe('logs', () => {
  /** The bot's real logger (pino, JSON, every level), writing each line into `lines`. */
  function capturedLogger() {
    const lines: string[] = [];
    const logger = createLogger({ level: 'trace', pretty: false, destination: { write: (line: string) => void lines.push(line) } });
    return { logger, lines };
  }

  /** Makes the store's next call of `method` fail as a database does (not a UserError). */
  function failNextCall(store: Store, method: 'findIdentity' | 'getAccountByEmail' | 'consumeLinkCode' | 'recordActivity'): void {
    const target = store as unknown as Record<string, unknown>;
    target[method] = async () => {
      delete target[method]; // back to the real method
      throw Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' });
    };
  }

  it('the logger redacts secret keys in a logged object', () => {
    const { logger, lines } = capturedLogger();
    logger.info({ password: 'pw-in-object', nested: { token: 'tok-123' } }, 'test');
    expect(lines.join('')).not.toMatch(/pw-in-object|tok-123/);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('keep passwords and link codes out of every line, at every level, through a whole journey', async () => {
    const { logger, lines } = capturedLogger();
    await bot.close();
    bot = await makeTestBot({ logger });
    const STAFF_PASSWORD = 'Staff-Pa55word-Alpha';
    const WRONG_PASSWORD = 'Wrong-Guess-Pa55-Beta';
    const secrets = [STAFF_PASSWORD, WRONG_PASSWORD];

    // Signup, and an admin-made account with a password.
    await bot.signup('ann');
    await createStaffAccount(staffDeps(), { username: 'mod', email: 'mod@example.com', role: 'moderator', password: STAFF_PASSWORD });
    // A failed login, then the right one.
    expect(await bot.say('m1', `/login mod@example.com ${WRONG_PASSWORD}`)).toBe('Wrong email or password.');
    expect(await bot.say('m1', `/login mod@example.com ${STAFF_PASSWORD}`)).toMatch(/Signed in/);
    // The password alone, and email and password swapped.
    await bot.say('m2', `/login ${STAFF_PASSWORD}`);
    await bot.say('m2', `/login ${STAFF_PASSWORD} mod@example.com`);
    // ...and the same in a group, where the line is refused.
    await bot.say('m2', `/login mod@example.com ${STAFF_PASSWORD}`, { chat: 'group' });

    // The store fails while a password is on the line: the dispatcher's error log runs.
    failNextCall(bot.store, 'getAccountByEmail');
    expect(await bot.say('m3', `/login mod@example.com ${STAFF_PASSWORD}`)).toMatch(/Something went wrong on our side/);
    // Recording the activity fails, with a password where the email belongs.
    failNextCall(bot.store, 'recordActivity');
    await bot.say('m3', `/login ${STAFF_PASSWORD} mod@example.com`);

    // A password sent on its own (a reply to the wrong prompt) while the store fails.
    failNextCall(bot.store, 'findIdentity');
    expect(await bot.say('m4', STAFF_PASSWORD)).toMatch(/Something went wrong on our side/);

    // A link code, and its use from another identity: first while the store fails, then for real.
    const code = (await bot.send('ann', '/link')).linkCode!;
    expect(code).toMatch(/^[0-9A-Z]{8}$/);
    secrets.push(code);
    failNextCall(bot.store, 'consumeLinkCode');
    expect(await bot.say('42', `/link ${code}`, { platform: 'telegram' })).toMatch(/Something went wrong on our side/);
    expect(await bot.say('42', `/link ${code}`, { platform: 'telegram' })).toMatch(/Linked/);

    // The capture works: it holds the dispatcher's error lines (JSON, one per line), one for each
    // store failure; the three that stop a command are 'command failed'.
    const entries = lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message?: string } });
    expect(entries.filter((e) => e.err?.message?.includes('database is locked'))).toHaveLength(4);
    expect(entries.filter((e) => e.msg === 'command failed').length).toBeGreaterThanOrEqual(3);
    // And no line holds a secret.
    for (const secret of secrets) {
      expect(lines.filter((line) => line.includes(secret)), secret).toEqual([]);
    }
  });
});

describe('staff commands', () => {
  beforeEach(async () => {
    await bot.staff('root', 'admin');
    await bot.staff('mod', 'moderator');
    await bot.staff('ana', 'analyst');
    await bot.signup('ann');
    await bot.say('ann', '/buy btc $100');
  });

  it('admins set roles, but never remove their own admin role', async () => {
    expect(await bot.say('root', '/role ann moderator')).toBe('ann is now moderator (was user).');
    expect(await bot.say('root', '/role root user')).toMatch(/cannot remove your own admin role/);
    expect(await bot.say('root', '/role ghost user')).toMatch(/There is no account ghost/);
    expect(await bot.say('root', '/role ann king')).toMatch(/The role must be one of: user, admin, analyst, moderator/);
  });

  it('admins add coins checked against CoinGecko and remove them; shared symbols ask which one', async () => {
    expect(await bot.say('root', '/coins add notacoin')).toMatch(/CoinGecko has no coin with the id “notacoin”/);
    expect(await bot.say('root', '/coins add pepe')).toMatch(/Now tracking Pepe/);
    expect(await bot.say('root', '/coins add pepe')).toMatch(/already tracked/);
    expect(await bot.say('root', '/coins add uniswap-v2')).toMatch(/symbol UNI is shared/);
    expect(await bot.say('ann', '/price uni')).toMatch(/which one\? uniswap \(Uniswap\), uniswap-v2/);
    expect(await bot.say('root', '/coins remove pepe')).toMatch(/Stopped tracking Pepe/);
    expect(await bot.say('ann', '/price pepe')).toMatch(/not a tracked coin/);
  });

  it('moderators see users, a user\'s activity and all transactions', async () => {
    const users = await bot.send('mod', '/users');
    expect(users.table!.rows.map((r) => r[0])).toEqual(['ana', 'ann', 'mod', 'root']);
    expect(users.private).toBe(true);
    const activity = await bot.send('mod', '/activity ann');
    expect(activity.table!.rows[0]).toEqual([expect.any(String), 'console', '/buy btc $100', 'ok']);
    const all = await bot.send('mod', '/transactions');
    expect(all.table!.rows[0]![0]).toBe('ann');
    expect(await bot.say('mod', '/transactions 1 ghost')).toMatch(/There is no account ghost/);
  });

  it('analysts see statistics and top movers', async () => {
    bot.feed.set('solana', '140', '12.5').set('dogecoin', '0.15', '-8.25');
    expect(await bot.say('ana', '/stats')).toMatch(/Accounts:\s+4 \(1 user, 1 admin, 1 analyst, 1 moderator\)[\s\S]*Transactions:\s+1[\s\S]*Bought:\s+\$100\.00/);
    const market = await bot.send('ana', '/market');
    expect(market.table!.rows[0]).toEqual(['SOL', 'Solana', '$140.00', '+12.50%']);
    expect(market.table!.rows[5]).toEqual(['DOGE', 'Dogecoin', '$0.1500', '-8.25%']); // losers follow, worst first
  });
});

describe('alerts', () => {
  beforeEach(async () => {
    await bot.signup('ann');
    bot.feed.set('bitcoin', '50000');
  });

  it('sets, lists and removes alerts, within the per-user limit', async () => {
    const set = await bot.say('ann', '/alert btc above 60000');
    const id = /Alert (\w+) set: Bitcoin above \$60,000\.00/.exec(set)![1]!;
    expect(await bot.say('ann', '/alert btc above 40000')).toMatch(/already at or above that/);
    expect(await bot.say('ann', '/alerts')).toContain(id);
    expect(await bot.say('ann', `/alert remove ${id}`)).toBe(`Alert ${id} removed.`);
    expect(await bot.say('ann', `/alert remove ${id}`)).toMatch(/You have no alert/);
    expect(await bot.say('ann', '/alert btc sideways 1')).toMatch(/Choose one of: above, below/);
  });

  it('stops at the limit', async () => {
    bot = await makeTestBot({ config: { maxAlertsPerUser: 2 } });
    await bot.signup('ann');
    bot.feed.set('bitcoin', '50000');
    await bot.say('ann', '/alert btc above 60000');
    await bot.say('ann', '/alert btc below 40000');
    expect(await bot.say('ann', '/alert btc above 70000')).toMatch(/You have 2 active alerts, the most allowed/);
  });

  it('converts a target typed in the display currency', async () => {
    bot.feed.rates = { ...bot.feed.rates, eur: '0.8' };
    await bot.say('ann', '/settings currency eur');
    await bot.say('ann', '/alert btc above 48000');
    const [alert] = await bot.store.listAlerts('ann');
    expect(alert!.targetPrice).toBe('60000');
  });
});

describe('email settings', () => {
  it('says email is unavailable when no email service is configured', async () => {
    bot.notifier.enabled = false;
    await bot.signup('ann');
    expect(await bot.say('ann', '/settings email on')).toMatch(/Email is not available on this bot/);
  });

  it('subscribes, explains the confirmation email, and sends trade confirmations', async () => {
    await bot.signup('ann');
    expect(await bot.say('ann', '/settings email ann@work.example')).toMatch(/AWS \(Amazon SNS\) first sends a confirmation email to that address/);
    expect(bot.notifier.subscriptions.get('ann')).toBe('ann@work.example');
    await bot.say('ann', '/buy btc $100');
    expect(bot.notifier.sent).toEqual([]); // queued with the trade, sent by the outbox worker
    await bot.deliverOutbox();
    expect(bot.notifier.sent).toEqual([expect.objectContaining({ username: 'ann', subject: expect.stringMatching(/bought .* BTC/) })]);
    await bot.say('ann', '/settings email off');
    expect(bot.notifier.subscriptions.has('ann')).toBe(false);
  });

  it('caps address changes, since each one mails a confirmation to someone', async () => {
    await bot.signup('ann');
    for (const n of [1, 2, 3]) expect(await bot.say('ann', `/settings email ann${n}@example.com`)).toMatch(/Email notifications go to/);
    expect(await bot.say('ann', '/settings email victim@example.com')).toMatch(/changed your email address 3 times today: try again in 24 h/);
    expect(await bot.say('ann', '/settings email on')).toMatch(/go to ann3@example\.com/);
    bot.clock.advance(24 * 60 * 60_000 + 1);
    expect(await bot.say('ann', '/settings email victim@example.com')).toMatch(/go to victim@example\.com/);
  });
});

describe('brute-force limits in the store', () => {
  const OWNER_PASSWORD = 'Tr0ub4dor&3xyz';
  /** Milliseconds in "try again in 15 s." / "... 2 min." / "... 24 h.", or 0 when there is no wait. */
  const waitIn = (answer: string) => {
    const found = /try again in (\d+) (s|min|h)\.$/.exec(answer);
    return found ? Number(found[1]) * { s: 1000, min: 60_000, h: 3_600_000 }[found[2] as 's' | 'min' | 'h'] : 0;
  };

  it('hold across a restart: a new core on the same store file remembers them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryptopulse-limits-'));
    const file = join(dir, 'store.db');
    try {
      await bot.close();
      bot = await makeTestBot({ store: SqliteStore.open({ file }) });
      await createStaffAccount(staffDeps(), { username: 'boss', email: 'boss@example.com', role: 'moderator', password: OWNER_PASSWORD });
      await bot.signup('ann');
      for (let i = 0; i < 5; i++) expect(await bot.say('attacker', `/login boss@example.com guess${i}`)).toBe('Wrong email or password.');
      for (const n of [1, 2, 3]) expect(await bot.say('ann', `/settings email ann${n}@example.com`)).toMatch(/Email notifications go to/);

      await bot.close(); // the process ends; a new one starts on the same file, at the same time
      bot = await makeTestBot({ store: SqliteStore.open({ file }) });
      expect(await bot.say('attacker', '/login boss@example.com guess5')).toBe('Too many failed logins: try again in 1 min.');
      expect(await bot.say('ann', '/settings email victim@example.com')).toBe('You have changed your email address 3 times today: try again in 24 h.');
      bot.clock.advance(60_000);
      expect(await bot.say('attacker', '/login boss@example.com guess5')).toBe('Wrong email or password.');
    } finally {
      await bot.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('only delay the owner of an account strangers guess at, never lock them out', async () => {
    await createStaffAccount(staffDeps(), { username: 'boss', email: 'boss@example.com', role: 'moderator', password: OWNER_PASSWORD });
    // Strangers guess as fast as the account's delay lets them, each from an identity of their own.
    const waits: number[] = [];
    for (let i = 0; i < 25; i++) {
      let answer = await bot.say(`stranger${i}`, `/login BOSS@example.com guess${i}`); // any case of the email counts
      if (waitIn(answer)) {
        waits.push(waitIn(answer));
        bot.clock.advance(waitIn(answer));
        answer = await bot.say(`stranger${i}`, `/login boss@example.com guess${i}`);
      }
      expect(answer).toBe('Wrong email or password.');
    }
    expect(waits.slice(0, 6)).toEqual([15_000, 30_000, 60_000, 120_000, 240_000, 300_000]);
    expect(Math.max(...waits)).toBe(5 * 60_000);

    // The owner, from a chat the strangers never used, with the right password: a wait, then in.
    expect(await bot.say('owner', `/login boss@example.com ${OWNER_PASSWORD}`)).toBe('Too many failed logins: try again in 5 min.');
    bot.clock.advance(5 * 60_000);
    expect(await bot.say('owner', `/login boss@example.com ${OWNER_PASSWORD}`)).toMatch(/^Signed in: this chat is now linked to boss/);
    // Success forgets the account's failures.
    expect(await bot.say('stranger99', '/login boss@example.com guess99')).toBe('Wrong email or password.');
  });

  it('let only one of a burst of simultaneous guesses through once the free ones are used', async () => {
    await createStaffAccount(staffDeps(), { username: 'boss', email: 'boss@example.com', role: 'moderator', password: OWNER_PASSWORD });
    for (let i = 0; i < 4; i++) expect(await bot.say(`stranger${i}`, `/login boss@example.com guess${i}`)).toBe('Wrong email or password.');
    // Ten identities at once: each finds four failures, but only one of them may be the fifth.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => bot.say(`burst${i}`, `/login boss@example.com burst${i}`)));
    expect(answers.filter((a) => a === 'Wrong email or password.')).toHaveLength(1);
    expect(answers.filter((a) => /^Too many failed logins: try again in \d+ (s|min)\.$/.test(a))).toHaveLength(9);
  });

  it('hold back link-code guessing per identity, and forget it once a code works', async () => {
    await bot.signup('ann');
    const code = (await bot.send('ann', '/link')).linkCode!;
    const wrong = (n: number) => `ZZZZZZZ${n}`;
    for (let n = 0; n < 5; n++) expect(await bot.say('guesser', `/link ${wrong(n)}`, { platform: 'telegram' })).toMatch(/unknown, used or expired/);
    // The sixth has to wait, even with the right code, which stays unused meanwhile.
    expect(await bot.say('guesser', `/link ${code}`, { platform: 'telegram' })).toBe('Too many wrong link codes: try again in 1 min.');
    expect(await bot.say('guesser', `/start ${code}`, { platform: 'telegram' })).toBe('Too many wrong link codes: try again in 1 min.');
    // Other identities are not held back by it.
    expect(await bot.say('someone', `/link ${wrong(9)}`, { platform: 'telegram' })).toMatch(/unknown, used or expired/);
    bot.clock.advance(60_000);
    expect(await bot.say('guesser', `/link ${wrong(5)}`, { platform: 'telegram' })).toMatch(/unknown, used or expired/);
    expect(await bot.say('guesser', `/link ${code}`, { platform: 'telegram' })).toBe('Too many wrong link codes: try again in 2 min.');
    bot.clock.advance(2 * 60_000);
    expect(await bot.say('guesser', `/link ${code}`, { platform: 'telegram' })).toMatch(/^Linked: this telegram account now uses ann's portfolio/);
    expect(await bot.say('guesser', '/unlink', { platform: 'telegram' })).toMatch(/no longer linked/);
    const next = (await bot.send('ann', '/link')).linkCode!;
    expect(await bot.say('guesser', `/link ${wrong(6)}`, { platform: 'telegram' })).toMatch(/unknown, used or expired/);
    expect(await bot.say('guesser', `/link ${next}`, { platform: 'telegram' })).toMatch(/^Linked/);
  });

  it('cap email address changes at three a day per account, counting from the first', async () => {
    await bot.signup('ann');
    expect(await bot.say('ann', '/settings email ann1@example.com')).toMatch(/go to ann1@example\.com/);
    bot.clock.advance(10 * 3_600_000);
    for (const n of [2, 3]) expect(await bot.say('ann', `/settings email ann${n}@example.com`)).toMatch(/Email notifications go to/);
    expect(await bot.say('ann', '/settings email victim@example.com')).toBe('You have changed your email address 3 times today: try again in 14 h.');
    bot.clock.advance(14 * 3_600_000 - 1);
    expect(await bot.say('ann', '/settings email victim@example.com')).toBe('You have changed your email address 3 times today: try again in 1 s.');
    bot.clock.advance(1);
    expect(await bot.say('ann', '/settings email victim@example.com')).toMatch(/go to victim@example\.com/);
  });
});
