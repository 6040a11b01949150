/**
 * A user's price alerts: /alert (above or below a price, or a percent move over a window, once
 * or repeating, with an optional expiry), /alerts and /alert remove.
 */
import { ACCESS } from '../access';
import { args } from '../args';
import type { CommandContext } from '../context';
import { isLiveAlert, type Coin, type PriceAlert } from '../domain';
import { UserError } from '../errors';
import { formatPrice, toBase, type MoneyView } from '../format';
import { reply } from '../messages';
import { toStored } from '../money';
import { defineCommand } from '../registry';
import { priceFooter, requireAccount, viewOf } from '../view';
import { describeAlert, describeCondition, describeExpiry, describeRepeat, describeState } from './describe';
import { parseAlertSpec, type AlertSpec } from './spec';

/** Thresholds are stored with at most this many decimals: enough for any coin's price, and a
 *  converted price (65000 EUR / rate) does not drag 40 digits along. */
export const STORED_PRICE_DECIMALS = 12;

/** The arguments /alert and /broadcast add share. On Discord they are four options: coin,
 *  condition (a choice), value and `options` (the rest, "1h up repeat 30m for 7d"). */
export const alertArgs = (valueHelp: string, optionsHelp: string) => ({
  coin: args.coin(),
  condition: args.choice('above, below or move', ['above', 'below', 'move'] as const),
  value: args.value(valueHelp),
  options: args.words(optionsHelp),
});

/** Short enough to type in /alert remove, long enough (48 bits) not to collide. */
export function newAlertId(ctx: CommandContext): string {
  return ctx.services.ids.next().replace(/-/g, '').slice(0, 12).toLowerCase();
}

/**
 * The PriceAlert a spec describes, for `owner` (a username or a chat's broadcastOwner), prices
 * typed in `view`'s currency. Refuses a threshold the price is already past: it would fire at
 * once, which is never what was meant.
 */
export function alertFromSpec(ctx: CommandContext, owner: string, coin: Coin, spec: AlertSpec, view: MoneyView, repeatMs?: number): PriceAlert {
  const now = ctx.services.clock.now();
  const base = {
    alertId: newAlertId(ctx), username: owner, coinId: coin.id, state: 'armed' as const,
    createdAt: now, updatedAt: now, fireCount: 0, version: 1,
  };
  // Optional fields are left out rather than set to undefined: stores write what they are given.
  const timing = {
    ...((repeatMs ?? spec.repeatMs) !== undefined && { repeatMs: repeatMs ?? spec.repeatMs }),
    ...(spec.forMs !== undefined && { expiresAt: now + spec.forMs }),
  };
  if (spec.condition === 'move') {
    return {
      ...base, condition: 'move', movePercent: toStored(spec.percent), moveWindowMs: spec.windowMs, moveDirection: spec.direction, ...timing,
    };
  }
  const target = toBase(spec.price, view).toDecimalPlaces(STORED_PRICE_DECIMALS);
  if (target.lte(0)) throw new UserError(`That price is too small to track in ${view.currency.toUpperCase()}.`);
  const quote = ctx.services.prices.quote(coin.id);
  if (quote && (spec.condition === 'above' ? target.lte(quote.price) : target.gte(quote.price))) {
    throw new UserError(`${coin.name} is already ${spec.condition === 'above' ? 'at or above' : 'at or below'} that (now ${formatPrice(quote.price, view)}): pick a price it has not reached.`);
  }
  return { ...base, condition: spec.condition, targetPrice: toStored(target), ...timing };
}

export const alert = defineCommand({
  name: 'alert set',
  groupDefault: true,
  summary: 'Alert me when a coin passes a price (in your currency) or moves by a percentage',
  args: alertArgs('a price in your currency (above, below) or a percent like 5% (move)', 'for a move: the window and up or down; then repeat <duration>, for <duration>; e.g. 1h up repeat 30m for 7d'),
  examples: ['/alert btc above 100000', '/alert eth below 2500 repeat 1h', '/alert btc move 5% 1h', '/alert sol move 10% 1d down repeat 12h for 30d'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'state',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx, { coin: token, condition, value, options }) {
    const account = requireAccount(ctx);
    const { store, coins, config } = ctx.services;
    const coin = await coins.resolve(token);
    const spec = parseAlertSpec(condition, value, options ?? [], { timing: true, example: `/alert ${token}` });
    const view = viewOf(ctx);
    const created = alertFromSpec(ctx, account.username, coin, spec, view);
    const outcome = await store.createAlert(created, config.maxAlertsPerUser);
    if (outcome === 'limit') throw new UserError(`You have ${config.maxAlertsPerUser} active alerts, the most allowed. /alerts lists them; /alert remove <id> frees one.`);
    return reply('success', {
      text: `Alert ${created.alertId} set: ${coin.name} ${describeAlert(created, view)}.`,
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

/** The table /alerts and /broadcast list show: one row per alert, times in the reader's zone. */
export function alertTable(ctx: CommandContext, list: PriceAlert[], view: MoneyView) {
  const now = ctx.services.clock.now();
  return {
    columns: ['Id', 'Coin', 'Alert', 'Repeat', 'Expiry', 'State'],
    rows: list.map((a) => [
      a.alertId, a.coinId, describeCondition(a, view), describeRepeat(a), describeExpiry(a, view), describeState(a, now, view),
    ]),
  };
}

export const alerts = defineCommand({
  name: 'alerts',
  summary: 'Your price alerts and where each one is',
  args: {},
  examples: ['/alerts'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: 'Price alerts belong to user accounts.',
  async run(ctx) {
    const account = requireAccount(ctx);
    const list = await ctx.services.store.listAlerts(account.username);
    const view = viewOf(ctx);
    // Live and not yet past its expiry (the engine marks those expired at its next tick).
    const now = ctx.services.clock.now();
    const live = list.filter((a) => isLiveAlert(a.state) && (a.expiresAt === undefined || a.expiresAt > now)).length;
    return reply('info', {
      title: `Your alerts (${live} live, at most ${ctx.services.config.maxAlertsPerUser})`,
      table: alertTable(ctx, list, view),
      footer: list.length ? '/alert remove <id> removes one.' : 'Set one with /alert btc above 100000.',
    });
  },
});
