import { ACCESS } from '../access';
import { args, optional } from '../args';
import { UserError } from '../errors';
import { reply } from '../messages';
import { defineCommand, usageOf } from '../registry';
import { timeFor } from '../view';
import { redeemLinkCode } from './account';


export const start = defineCommand({
  name: 'start',
  summary: 'Welcome, and what to do first',
  args: { code: optional(args.text('link code from another chat', /^[A-Za-z0-9_-]{1,64}$/, 'That is not a link code.')) },
  examples: ['/start'],
  roles: ACCESS.public,
  chats: 'any',
  sensitive: true,
  async run(ctx, { code }) {
    // Telegram deep links (t.me/bot?start=CODE) arrive as /start CODE.
    if (code) return redeemLinkCode(ctx, code);
    const who = ctx.account ? `Welcome back, ${ctx.account.username}.` : 'Welcome to CryptoPulse: paper-trade crypto at live prices with virtual cash, and get price alerts.';
    const next = ctx.account
      ? ctx.caller === 'user'
        ? 'Try /price btc, /buy btc $100, /portfolio, or /help for everything.'
        : `You are signed in as ${ctx.caller}. /help lists what you can run.`
      : 'Create an account with /signup <username> <email>, or link this chat to an existing account with /link <code>. /help lists everything.';
    return reply('info', { title: 'CryptoPulse', text: `${who}\n${next}` });
  },
});

export const help = defineCommand({
  name: 'help',
  aliases: ['commands'],
  summary: 'List the commands you can run, or explain one',
  args: { command: optional(args.text('a command name', /^\/?[a-z_]{1,32}( [a-z_]{1,32})?$/, 'Name a command, like /help buy.')) },
  examples: ['/help', '/help buy'],
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx, { command }) {
    const { registry } = ctx.services;
    if (command) {
      const words = command.replace(/^\//, '').split(' ');
      const found = registry.resolve(words);
      const family = registry.commands.filter((c) => c.name.startsWith(`${words[0]} `));
      const shown = [...(found ? [found.command] : []), ...family.filter((c) => c !== found?.command)];
      if (!shown.length) throw new UserError(`There is no /${command.replace(/^\//, '')} command. /help lists them.`);
      return reply('info', {
        // As asked: "/help alert" is about the alert group, whose default is /alert set.
        title: `/${words.slice(0, found?.consumed ?? 1).join(' ')}`,
        text: shown.map((c) => [
          `${usageOf(c)}: ${c.summary}`,
          ...Object.entries(c.args).map(([name, arg]) => `  ${name}: ${arg.description}${arg.optional ? ' (optional)' : ''}`),
          `  Examples: ${c.examples.join(', ')}`,
          `  Who: ${c.roles.join(', ')}${c.chats === 'private' ? ' (private chat only)' : ''}`,
          ...(registry.allowed(c, ctx.caller) ? [] : [`  You (${ctx.caller}) may not run it.`]),
        ].join('\n')).join('\n\n'),
      });
    }
    const lines = ctx.services.registry.available([ctx.caller], ctx.chat.type).map((c) => `${usageOf(c)}: ${c.summary}`);
    return reply('info', { title: `Commands for ${ctx.caller === 'guest' ? 'a new visitor' : `a ${ctx.caller}`}`, text: lines.join('\n'), footer: '/help <command> explains one in detail.' });
  },
});

export const about = defineCommand({
  name: 'about',
  summary: 'What this bot is and where its prices come from',
  args: {},
  examples: ['/about'],
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx) {
    const status = ctx.services.prices.source();
    const every = `${Math.round(ctx.services.config.priceRefreshMs / 1000)} s`;
    const source = ctx.services.prices.simulated
      ? 'Prices are SIMULATED right now (a random walk from reference prices): CoinGecko is not in use.'
      : status.standingInFor
        ? `Prices come from ${status.active} right now (in USDT, about one US dollar), refreshed every ${every}: ${status.standingInFor.source} has been unavailable since ${timeFor(ctx, status.standingInFor.since)} and takes back over as soon as it answers.`
        : `Prices come from ${status.active} and refresh every ${every}.`;
    return reply('info', {
      title: 'About CryptoPulse',
      text: `A paper-trading bot: every account starts with virtual cash to buy and sell crypto at market prices, with no real money involved.\n${source}`,
    });
  },
});

export const whoami = defineCommand({
  name: 'whoami',
  summary: 'Show your account and linked chats',
  args: {},
  examples: ['/whoami'],
  roles: ACCESS.public,
  chats: 'any',
  answersPrivately: true,
  async run(ctx) {
    if (!ctx.account) {
      return reply('info', { text: `This chat identity (${ctx.identityKey}) is not linked to an account. /signup <username> <email> creates one; /link <code> links an existing one.` });
    }
    const identities = await ctx.services.store.listIdentities(ctx.account.username);
    return reply('info', {
      title: ctx.account.username,
      fields: [
        { label: 'Role', value: ctx.account.role },
        { label: 'Email', value: ctx.account.email },
        { label: 'Member since', value: timeFor(ctx, ctx.account.createdAt) },
        { label: 'Currency', value: ctx.account.currency.toUpperCase() },
        { label: 'Time zone', value: ctx.account.timezone ?? 'UTC' },
        { label: 'Linked chats', value: identities.map((i) => i.platform + (i.key === ctx.identityKey ? ' (this one)' : '')).join(', ') },
      ],
      // The email address is personal: keep it out of group chats.
    });
  },
});
