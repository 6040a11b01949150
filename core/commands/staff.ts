import { ACCESS } from '../access';
import { args, optional } from '../args';
import { ROLES } from '../domain';
import { UserError } from '../errors';
import { formatMoney } from '../format';
import { reply } from '../messages';
import { defineCommand } from '../registry';
import { pageAt, pageButtons, requireAccount, timeFor, viewOf } from '../view';
import { transactionTable } from './trading';

export const users = defineCommand({
  name: 'users',
  summary: 'List accounts',
  args: { page: args.page() },
  examples: ['/users', '/users 2'],
  roles: ACCESS.staffOversight,
  chats: 'any',
  answersPrivately: true,
  async run(ctx, { page = 1 }) {
    const { items, hasNext } = await pageAt((r) => ctx.services.store.listAccounts(r), page);
    return reply('info', {
      title: `Accounts, page ${page}`,
      table: {
        columns: ['Username', 'Role', 'Email', 'Since'],
        rows: items.map((a) => [a.username, a.role, a.email, timeFor(ctx, a.createdAt)]),
      },
      buttons: pageButtons((n) => `/users ${n}`, page, hasNext),
      // Email addresses are personal data: never into a group.
    });
  },
});

export const role = defineCommand({
  name: 'role',
  aliases: ['setrole'],
  summary: "Set an account's role",
  args: { username: args.username('the account'), role: args.role() },
  examples: ['/role ada moderator'],
  roles: ACCESS.admin,
  chats: 'any',
  changes: 'state',
  async run(ctx, { username, role: newRole }) {
    const me = requireAccount(ctx);
    const { store } = ctx.services;
    const target = await store.getAccount(username);
    if (!target) throw new UserError(`There is no account ${username}. /users lists them.`);
    if (target.username === me.username && newRole !== 'admin') {
      throw new UserError('You cannot remove your own admin role: ask another admin, so the bot always keeps one.');
    }
    if (target.role === newRole) return reply('info', { text: `${username} is already ${newRole}.` });
    await store.updateAccount(username, { role: newRole });
    return reply('success', { text: `${username} is now ${newRole} (was ${target.role}).` });
  },
});

export const stats = defineCommand({
  name: 'stats',
  summary: 'System statistics',
  args: {},
  examples: ['/stats'],
  roles: ACCESS.statistics,
  chats: 'any',
  async run(ctx) {
    const s = await ctx.services.store.stats();
    const view = viewOf(ctx);
    return reply('info', {
      title: 'System statistics',
      fields: [
        { label: 'Accounts', value: `${s.accounts} (${ROLES.map((r) => `${s.accountsByRole[r] ?? 0} ${r}`).join(', ')})` },
        { label: 'Linked chats', value: String(s.identities) },
        { label: 'Transactions', value: String(s.transactions) },
        { label: 'Bought', value: formatMoney(s.buyVolume, view) },
        { label: 'Sold', value: formatMoney(s.sellVolume, view) },
        { label: 'Active alerts', value: String(s.activeAlerts) },
        { label: 'Tracked coins', value: String(s.trackedCoins) },
        { label: 'Prices', value: ctx.services.prices.simulated ? 'simulated' : 'CoinGecko' },
      ],
    });
  },
});

export const activity = defineCommand({
  name: 'activity',
  summary: "A user's recent commands and trades",
  args: { username: args.username('the account'), page: args.page() },
  examples: ['/activity ada', '/activity ada 2'],
  roles: ACCESS.activityMonitor,
  chats: 'any',
  answersPrivately: true,
  async run(ctx, { username, page = 1 }) {
    const { store } = ctx.services;
    if (!(await store.getAccount(username))) throw new UserError(`There is no account ${username}. /users lists them.`);
    const { items, hasNext } = await pageAt((r) => store.listActivity(username, r), page);
    return reply('info', {
      title: `Activity of ${username}, page ${page}`,
      table: {
        columns: ['Time', 'Platform', 'Command', 'Result'],
        rows: items.map((e) => [timeFor(ctx, e.at), e.platform, e.detail, e.outcome]),
      },
      buttons: pageButtons((n) => `/activity ${username} ${n}`, page, hasNext),
    });
  },
});

export const transactions = defineCommand({
  name: 'transactions',
  aliases: ['txs'],
  summary: "Every account's transactions, or one user's",
  args: { page: args.page(), username: optional(args.username('only this account')) },
  examples: ['/transactions', '/transactions 2', '/transactions 1 ada'],
  roles: ACCESS.staffOversight,
  chats: 'any',
  answersPrivately: true,
  async run(ctx, { page = 1, username }) {
    const { store } = ctx.services;
    if (username && !(await store.getAccount(username))) throw new UserError(`There is no account ${username}. /users lists them.`);
    const { items, hasNext } = await pageAt((r) => (username ? store.listTransactions(username, r) : store.listAllTransactions(r)), page);
    return reply('info', {
      title: `${username ? `Transactions of ${username}` : 'All transactions'}, page ${page}`,
      table: transactionTable(ctx, items, !username),
      buttons: pageButtons((n) => `/transactions ${n}${username ? ` ${username}` : ''}`, page, hasNext),
    });
  },
});
