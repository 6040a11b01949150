/** Accounts, identities and staff commands as users and staff see them. */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStaffAccount } from '../core/staff-accounts';
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

  it('rate-limits failed attempts per identity and per account', async () => {
    for (let i = 0; i < 5; i++) await bot.say('attacker', `/login mod@example.com guess${i}`);
    expect(await bot.say('attacker', '/login mod@example.com guess5')).toMatch(/Too many failed logins: try again in 15 min/);
    // Another identity aiming at the same account is also held back.
    expect(await bot.say('attacker2', '/login mod@example.com guess6')).toMatch(/Too many failed logins/);
    bot.clock.advance(15 * 60_000 + 1);
    expect(await bot.say('attacker', '/login mod@example.com guess7')).toBe('Wrong email or password.');
  });

  it('never records the password in the activity log or the logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const logger = createLogger({ level: 'info', pretty: false, destination: sink });
    logger.info({ password: 'pw-in-object', nested: { token: 'tok-123' } }, 'test');
    expect(lines.join('')).not.toMatch(/pw-in-object|tok-123/);
    expect(lines.join('')).toContain('[redacted]');

    await bot.say('m2', '/login mod@example.com s3cret-password');
    await createStaffAccount(staffDeps(), { username: 'boss', email: 'boss@example.com', role: 'moderator', identity: 'console:boss' });
    const activity = await bot.store.listActivity('boss', { limit: 10 });
    expect(activity.items).toHaveLength(0);
    await bot.store.linkIdentity({ key: 'console:m3', platform: 'console', username: 'mod', linkedAt: 0 });
    await bot.say('m3', '/login mod@example.com another-secret');
    const modActivity = await bot.store.listActivity('mod', { limit: 10 });
    expect(modActivity.items.map((e) => e.detail)).toContain('/login mod@example.com ****');
    expect(JSON.stringify(modActivity.items)).not.toContain('another-secret');
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
