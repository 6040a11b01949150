import { createHash, randomInt } from 'node:crypto';
import { ACCESS } from '../access';
import { args, optional } from '../args';
import { LIMITS } from '../attempt-limiter';
import { postingAddress, type CommandContext } from '../context';
import { FIAT_CURRENCIES } from '../currencies';
import type { Account } from '../domain';
import { UserError } from '../errors';
import { formatMoney, formatTime, formatWait } from '../format';
import { dec } from '../money';
import { reply, type RichMessage } from '../messages';
import { ConflictError } from '../ports';
import { defineCommand } from '../registry';
import { requireAccount, viewOf } from '../view';

const LINK_CODE_TTL_MS = 10 * 60_000;
/** The digest's hour when /settings digest on names none: the start of most people's day. */
const DEFAULT_DIGEST_HOUR = 8;
/** Crockford-style alphabet: no I, L, O, U, so a code read aloud or retyped survives. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Link codes are stored hashed: a leaked table does not link anyone. */
const hashLinkCode = (code: string) => createHash('sha256').update(code.toUpperCase()).digest('hex');

function newLinkCode(): string {
  return Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
}

function alreadyLinked(account: Account): UserError {
  return new UserError(`This chat is already linked to the account ${account.username}. /unlink it first to use another account.`);
}

export async function redeemLinkCode(ctx: CommandContext, code: string): Promise<RichMessage> {
  if (ctx.account) throw alreadyLinked(ctx.account);
  const { store, clock, attempts } = ctx.services;
  // Codes are long enough that guessing is hopeless; the limit keeps it that way.
  const guesses = { policy: LIMITS.linkCodeByIdentity, key: ctx.identityKey };
  const wait = await attempts.attempt(guesses);
  if (wait > 0) throw new UserError(`Too many wrong link codes: try again in ${formatWait(wait)}.`);
  const username = await store.consumeLinkCode(hashLinkCode(code), clock.now());
  if (!username) throw new UserError('That link code is unknown, used or expired. Run /link again where you are signed in to get a new one.');
  await attempts.reset(guesses);
  try {
    await store.linkIdentity({ key: ctx.identityKey, platform: ctx.identity.platform, username, linkedAt: clock.now() });
  } catch (error) {
    if (error instanceof ConflictError) throw new UserError('This chat was linked to an account a moment ago. /whoami shows which.');
    throw error;
  }
  return reply('success', { text: `Linked: this ${ctx.identity.platform} account now uses ${username}'s portfolio and alerts.` });
}

export const signup = defineCommand({
  name: 'signup',
  aliases: ['register'],
  summary: 'Create your account and link this chat to it',
  args: { username: args.username('the username you want'), email: args.email() },
  examples: ['/signup satoshi satoshi@example.com'],
  roles: ACCESS.public,
  chats: 'any',
  changes: 'state',
  async run(ctx, { username, email }) {
    if (ctx.account) throw alreadyLinked(ctx.account);
    const { store, clock, config } = ctx.services;
    const now = clock.now();
    const account: Account = { username, email, passwordHash: null, role: 'user', createdAt: now, currency: 'usd', emailNotifications: false };
    try {
      await store.createAccount(account, config.startBalance, { key: ctx.identityKey, platform: ctx.identity.platform, username, linkedAt: now });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      if (error.what === 'username') throw new UserError(`The username ${username} is taken: choose another.`);
      if (error.what === 'email') throw new UserError('That email address already has an account: /link it from a chat where you use it.');
      throw new UserError('This chat was linked to an account a moment ago. /whoami shows which.');
    }
    return reply('success', {
      title: `Welcome, ${username}!`,
      text: `Your account starts with ${formatMoney(dec(config.startBalance), viewOf(ctx))} of virtual cash. Try /price btc, then /buy btc $100. /link connects your other chat apps.`,
    });
  },
});

export const login = defineCommand({
  name: 'login',
  summary: 'Link this chat to an account an admin made for you, with its password',
  args: { email: args.email(), password: args.password() },
  examples: ['/login ada@example.com correct-horse'],
  roles: ACCESS.public,
  chats: 'private',
  sensitive: true,
  async run(ctx, { email, password }) {
    if (ctx.account) throw alreadyLinked(ctx.account);
    const { store, passwords, attempts, clock } = ctx.services;
    // Counted before the password is checked (and forgotten when it is right), so that attempts
    // arriving together cannot all be checked before any of them counts.
    const counters = [
      { policy: LIMITS.loginByIdentity, key: ctx.identityKey },
      { policy: LIMITS.loginByAccount, key: email.toLowerCase() },
    ];
    const wait = await attempts.attempt(...counters);
    if (wait > 0) throw new UserError(`Too many failed logins: try again in ${formatWait(wait)}.`);
    const account = await store.getAccountByEmail(email);
    const valid = await passwords.verify(password, account?.passwordHash ?? null);
    if (!account || !valid) throw new UserError('Wrong email or password.');
    await attempts.reset(...counters);
    try {
      await store.linkIdentity({ key: ctx.identityKey, platform: ctx.identity.platform, username: account.username, linkedAt: clock.now() });
    } catch (error) {
      if (error instanceof ConflictError) throw new UserError('This chat was linked to an account a moment ago. /whoami shows which.');
      throw error;
    }
    return reply('success', { text: `Signed in: this chat is now linked to ${account.username} (${account.role}).` });
  },
});

export const link = defineCommand({
  name: 'link',
  summary: 'Get a one-time code to link another chat app, or enter one here',
  args: { code: optional(args.text('the code from /link in your other chat', /^[A-Za-z0-9]{8}$/, 'A link code is 8 letters and digits, like 7KQ2M9XD.')) },
  examples: ['/link', '/link 7KQ2M9XD'],
  roles: ACCESS.public,
  chats: 'private',
  answersPrivately: true,
  sensitive: true,
  changes: 'state',
  async run(ctx, { code }) {
    if (code) return redeemLinkCode(ctx, code);
    const account = requireAccount(ctx);
    const { store, clock } = ctx.services;
    const fresh = newLinkCode();
    await store.saveLinkCode(hashLinkCode(fresh), account.username, clock.now() + LINK_CODE_TTL_MS);
    return reply('info', {
      title: 'Link code',
      text: `${fresh}\nSend /link ${fresh} to this bot from your other chat app within 10 minutes. The code works once.`,
      linkCode: fresh,
    });
  },
});

export const unlink = defineCommand({
  name: 'unlink',
  aliases: ['logout'],
  summary: 'Disconnect this chat from your account',
  args: {},
  examples: ['/unlink'],
  roles: ACCESS.everyAccount,
  chats: 'any',
  changes: 'state',
  async run(ctx) {
    const account = requireAccount(ctx);
    const { store } = ctx.services;
    const identities = await store.listIdentities(account.username);
    if (identities.length <= 1 && !account.passwordHash) {
      throw new UserError('This is the only chat linked to your account, and the account has no password: unlinking would lock you out. /link another chat first.');
    }
    await store.unlinkIdentity(ctx.identityKey);
    return reply('success', { text: `This chat is no longer linked to ${account.username}.` });
  },
});

/** Where fired alerts go, in words, as the caller reads it in this chat. */
function alertDestination(account: Account, here: string): string {
  switch (account.alertDelivery ?? 'dm') {
    case 'dm':
      return 'your direct chats with me';
    case 'off':
      return 'no chat (email only, if it is on)';
    case 'here':
      return account.alertChat === here ? 'this chat' : `one chosen chat (${account.alertChat?.split(':')[0] ?? 'unknown'})`;
  }
}

function digestSetting(account: Account): string {
  return account.digestHour === undefined || account.digestHour === null
    ? 'off'
    : `on, daily at ${String(account.digestHour).padStart(2, '0')}:00 your time`;
}

export const settings = defineCommand({
  name: 'settings show',
  groupDefault: true,
  summary: 'Show your settings',
  args: {},
  examples: ['/settings'],
  roles: ACCESS.everyAccount,
  chats: 'any',
  answersPrivately: true,
  async run(ctx) {
    const account = requireAccount(ctx);
    const email = !ctx.services.notifier.enabled ? 'not available on this bot' : account.emailNotifications ? `on (${account.email})` : 'off';
    return reply('info', {
      title: 'Settings',
      fields: [
        { label: 'Currency', value: `${account.currency.toUpperCase()} (/settings currency <code>)` },
        { label: 'Email notifications', value: `${email} (/settings email on|off|<address>)` },
        { label: 'Fired alerts go to', value: `${alertDestination(account, postingAddress(ctx.chat))} (/settings alerts dm|here|off)` },
        { label: 'Time zone', value: `${account.timezone ?? 'UTC'} (/settings timezone <zone>)` },
        { label: 'Daily digest', value: `${digestSetting(account)} (/settings digest on [hour]|off)` },
        ...(account.role === 'user' ? [{ label: 'Leaderboards', value: `${account.leaderboard ? 'on' : 'off'} (/settings leaderboard on|off)` }] : []),
      ],
    });
  },
});

export const settingsAlerts = defineCommand({
  name: 'settings alerts',
  summary: 'Choose where fired alerts go: your direct chats, this chat, or no chat',
  args: { where: args.choice('dm, here or off', ['dm', 'here', 'off'] as const) },
  examples: ['/settings alerts dm', '/settings alerts here', '/settings alerts off'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx, { where }) {
    const account = requireAccount(ctx);
    const { store, notifier } = ctx.services;
    if (where === 'here') {
      // The posting address, so a forum topic gets them rather than the group's general topic.
      await store.updateAccount(account.username, { alertDelivery: 'here', alertChat: postingAddress(ctx.chat) });
      const which = ctx.chat.type === 'group' ? 'this group (everyone here will see them)' : 'this chat';
      return reply('success', { text: `Fired alerts now go to ${which}, and to no other chat.` });
    }
    await store.updateAccount(account.username, { alertDelivery: where });
    if (where === 'dm') return reply('success', { text: 'Fired alerts now go to every direct chat with me that is linked to your account.' });
    const email = notifier.enabled && account.emailNotifications ? ' They still come by email (/settings email off stops that).' : '';
    return reply('success', { text: `Fired alerts no longer go to any chat: /alerts shows what fired.${email}` });
  },
});

export const settingsTimezone = defineCommand({
  name: 'settings timezone',
  aliases: ['timezone'],
  summary: 'Choose the time zone times are shown in (an IANA name like Europe/Athens)',
  args: { zone: args.timeZone() },
  examples: ['/settings timezone Europe/Athens', '/settings timezone America/New_York', '/settings timezone utc'],
  roles: ACCESS.everyAccount,
  chats: 'any',
  async run(ctx, { zone }) {
    const account = requireAccount(ctx);
    const { store, clock } = ctx.services;
    await store.updateAccount(account.username, { timezone: zone });
    return reply('success', { text: `Times now show in ${zone}: it is ${formatTime(clock.now(), zone)} there.` });
  },
});

export const settingsDigest = defineCommand({
  name: 'settings digest',
  summary: 'A daily summary (portfolio value, day\'s change, alerts fired) at an hour of your day, or none',
  args: { setting: args.choice('on or off', ['on', 'off'] as const), hour: optional(args.hour('the hour of your day it comes, 0-23 (8 unless you say)')) },
  examples: ['/settings digest on', '/settings digest on 18', '/settings digest off'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'The digest summarises a user account\'s portfolio.',
  async run(ctx, { setting, hour }) {
    const account = requireAccount(ctx);
    const { store } = ctx.services;
    if (setting === 'off') {
      if (hour !== undefined) throw new UserError('/settings digest off takes no hour.');
      await store.updateAccount(account.username, { digestHour: null });
      return reply('success', { text: 'The daily digest is off.' });
    }
    const at = hour ?? account.digestHour ?? DEFAULT_DIGEST_HOUR;
    await store.updateAccount(account.username, { digestHour: at });
    return reply('success', {
      text: `The daily digest comes at ${String(at).padStart(2, '0')}:00 ${account.timezone ?? 'UTC'} time.${account.timezone ? '' : ' /settings timezone <zone> sets your time zone.'}`,
    });
  },
});

export const settingsLeaderboard = defineCommand({
  name: 'settings leaderboard',
  summary: 'Join or leave the leaderboards: your portfolio\'s return ranked in groups you use me in',
  args: { setting: args.choice('on or off', ['on', 'off'] as const) },
  examples: ['/settings leaderboard on', '/settings leaderboard off'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'Leaderboards rank user accounts\' portfolios.',
  async run(ctx, { setting }) {
    const account = requireAccount(ctx);
    await ctx.services.store.updateAccount(account.username, { leaderboard: setting === 'on' });
    if (setting === 'off') return reply('success', { text: 'You are off the leaderboards: no group sees your return any more.' });
    return reply('success', {
      text: 'You are on the leaderboards: /leaderboard in a group where you use me ranks your return (not your balance) among its members, and in a private chat shows your rank among everyone.',
    });
  },
});

export const settingsCurrency = defineCommand({
  name: 'settings currency',
  aliases: ['currency'],
  summary: 'Choose the currency prices and balances are shown in',
  args: { currency: args.currency() },
  examples: ['/settings currency eur'],
  roles: ACCESS.everyAccount,
  chats: 'any',
  async run(ctx, { currency }) {
    const account = requireAccount(ctx);
    await ctx.services.store.updateAccount(account.username, { currency });
    return reply('success', { text: `Prices and balances now show in ${FIAT_CURRENCIES[currency].name} (${currency.toUpperCase()}). Your cash stays in USD underneath.` });
  },
});

export const settingsEmail = defineCommand({
  name: 'settings email',
  summary: 'Turn email for trades and alerts on or off, or change the address',
  args: { setting: args.text('on, off, or a new email address', /^(on|off|[^\s@]+@[^\s@]+\.[^\s@]+)$/i, 'Say on, off, or an email address.') },
  examples: ['/settings email on', '/settings email ada@example.com', '/settings email off'],
  roles: ACCESS.everyAccount,
  chats: 'any',
  answersPrivately: true,
  changes: 'state',
  async run(ctx, { setting }) {
    const account = requireAccount(ctx);
    const { notifier, store } = ctx.services;
    if (!notifier.enabled) throw new UserError('Email is not available on this bot: its operator has not configured an email service.');
    const choice = setting.toLowerCase();
    if (choice === 'off') {
      await notifier.unsubscribe(account.username);
      await store.updateAccount(account.username, { emailNotifications: false });
      return reply('success', { text: 'Email notifications are off.' });
    }
    let email = account.email;
    if (choice !== 'on' && choice !== account.email) {
      const parsed = args.email().schema.safeParse(choice);
      if (!parsed.success) throw new UserError('That is not a valid email address.');
      email = parsed.data;
      const owner = await store.getAccountByEmail(email);
      if (owner && owner.username !== account.username) throw new UserError('That email address belongs to another account.');
      // Each new address gets a confirmation email: cap how many strangers one account can mail.
      const wait = await ctx.services.attempts.attempt({ policy: LIMITS.emailChanges, key: account.username });
      if (wait > 0) throw new UserError(`You have changed your email address ${LIMITS.emailChanges.free} times today: try again in ${formatWait(wait)}.`);
    }
    // Subscribing a new address also drops the old one.
    await notifier.subscribe(account.username, email);
    await store.updateAccount(account.username, { email, emailNotifications: true });
    return reply('success', {
      text: `Email notifications go to ${email}. AWS (Amazon SNS) first sends a confirmation email to that address: click its link, or nothing will arrive.`,
    });
  },
});
