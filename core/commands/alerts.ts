import { ACCESS } from '../access';
import { args } from '../args';
import { UserError } from '../errors';
import { formatPrice, formatTime, toBase } from '../format';
import { toStored } from '../money';
import { reply } from '../messages';
import { defineCommand } from '../registry';
import { priceFooter, requireAccount, viewOf } from '../view';

export const alert = defineCommand({
  name: 'alert set',
  groupDefault: true,
  summary: 'Alert me when a coin goes above or below a price (in your currency)',
  args: { coin: args.coin(), condition: args.choice('above or below', ['above', 'below'] as const), price: args.price() },
  examples: ['/alert btc above 100000', '/alert eth below 2500'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'state',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx, { coin: token, condition, price }) {
    const account = requireAccount(ctx);
    const { store, coins, clock, ids, config, prices } = ctx.services;
    const coin = await coins.resolve(token);
    const view = viewOf(ctx);
    const target = toBase(price, view);
    const quote = prices.quote(coin.id);
    if (quote && (condition === 'above' ? target.lte(quote.price) : target.gte(quote.price))) {
      throw new UserError(`${coin.name} is already ${condition === 'above' ? 'at or above' : 'at or below'} that (now ${formatPrice(quote.price, view)}): pick a price it has not reached.`);
    }
    // Short enough to type in /alert remove, long enough (48 bits) not to collide.
    const alertId = ids.next().replace(/-/g, '').slice(0, 12).toLowerCase();
    const created = await store.createAlert({
      alertId, username: account.username, coinId: coin.id, condition, targetPrice: toStored(target), active: true, createdAt: clock.now(),
    }, config.maxAlertsPerUser);
    if (created === 'limit') throw new UserError(`You have ${config.maxAlertsPerUser} active alerts, the most allowed. /alerts lists them; /alert remove <id> frees one.`);
    return reply('success', {
      text: `Alert ${alertId} set: ${coin.name} ${condition} ${formatPrice(target, view)}.`,
      footer: priceFooter(ctx),
    });
  },
});

export const alertRemove = defineCommand({
  name: 'alert remove',
  aliases: ['unalert'],
  summary: 'Remove one of your price alerts',
  args: { id: args.text('alert id from /alerts', /^[a-z0-9]{1,36}$/i, 'An alert id looks like 3f9a1c2b7d4e: /alerts lists yours.') },
  examples: ['/alert remove 3f9a1c2b7d4e'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx, { id }) {
    const account = requireAccount(ctx);
    const removed = await ctx.services.store.deleteAlert(account.username, id.toLowerCase());
    if (!removed) throw new UserError(`You have no alert ${id}. /alerts lists yours.`);
    return reply('success', { text: `Alert ${id} removed.` });
  },
});

export const alerts = defineCommand({
  name: 'alerts',
  summary: 'Your active price alerts',
  args: {},
  examples: ['/alerts'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx) {
    const account = requireAccount(ctx);
    const list = await ctx.services.store.listAlerts(account.username);
    const view = viewOf(ctx);
    return reply('info', {
      title: `Your alerts (${list.length} of ${ctx.services.config.maxAlertsPerUser})`,
      table: {
        columns: ['Id', 'Coin', 'When', 'Price', 'Set'],
        rows: list.map((a) => [a.alertId, a.coinId, a.condition, formatPrice(a.targetPrice, view), formatTime(a.createdAt)]),
        align: ['left', 'left', 'left', 'right', 'left'],
      },
      footer: list.length ? '/alert remove <id> removes one.' : 'Set one with /alert btc above 100000.',
    });
  },
});
