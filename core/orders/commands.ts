/**
 * Limit and stop orders: `/buy|/sell <coin> <amount> at|stop <price> [for 7d]` (placed from the
 * trading commands, core/commands/trading.ts), `/orders` and `/order cancel <id>`.
 */
import { createHash } from 'node:crypto';
import { ACCESS, TRADING_DENIED_NOTE } from '../access';
import { args, parseDuration, type BuyOrder, type SellOrder } from '../args';
import type { CommandContext } from '../context';
import { isLiveAlert, orderOwner, type Coin, type PriceAlert, type TradeSide } from '../domain';
import { UserError } from '../errors';
import { formatDuration, formatMoney, formatPrice, toBase, type MoneyView } from '../format';
import { reply, type Button, type RichMessage } from '../messages';
import { Dec, dec, toStored } from '../money';
import { defineCommand } from '../registry';
import { requireAccount, timeFor, viewOf } from '../view';
import { STORED_PRICE_DECIMALS } from '../alerts/commands';
import { parsePrice } from '../alerts/spec';
import { orderTerms, placementPlan, releasePlan, triggerCondition, type OrderType } from './rules';
import { describeHold, describeOrder, describeOrderExpiry } from './views';

/** The shortest time an order may be given with "for". */
const MIN_ORDER_MS = 3_600_000;
/** Cancel buttons under /orders: more would not fit every platform's message. */
const CANCEL_BUTTONS = 10;

export interface OrderWords {
  type: OrderType;
  /** As typed, in the caller's display currency. */
  price: Dec;
  forMs?: number;
}

/** Reads "at 60000", "stop 2500 for 7d" (the words after the amount), or says what is wrong. */
export function parseOrderWords(words: readonly string[], side: TradeSide, maxMs: number): OrderWords {
  const example = side === 'buy' ? '/buy btc 0.1 at 60000' : '/sell eth all stop 2500';
  const [kind, priceWord, ...rest] = words.map((w) => w.toLowerCase());
  if (kind !== 'at' && kind !== 'stop') {
    throw new UserError(`“${words[0]!.slice(0, 20)}” is not expected after the amount: say at <price> for a limit order or stop <price> for a stop order, e.g. ${example}.`);
  }
  if (priceWord === undefined) throw new UserError(`Say the price after ${kind}: e.g. ${example}.`);
  const result: OrderWords = { type: kind === 'at' ? 'limit' : 'stop', price: parsePrice(priceWord) };
  if (rest.length) {
    if (rest[0] !== 'for') throw new UserError(`“${rest[0]!.slice(0, 20)}” is not expected here: only for <duration> may follow the price, e.g. ${example} for 7d.`);
    const ms = rest[1] === undefined ? undefined : parseDuration(rest[1]);
    if (ms === undefined) throw new UserError(`Say how long the order stays open after for: minutes, hours or days, like 12h or 7d.`);
    if (ms < MIN_ORDER_MS) throw new UserError(`An order stays open at least ${formatDuration(MIN_ORDER_MS)}.`);
    if (ms > maxMs) throw new UserError(`An order stays open at most ${formatDuration(maxMs)}.`);
    if (rest.length > 2) throw new UserError(`“${rest[2]!.slice(0, 20)}” is not expected after the duration.`);
    result.forMs = ms;
  }
  return result;
}

/** One id per message (and user): the same message delivered twice finds its order placed. */
function orderIdFor(username: string, idempotencyKey: string): string {
  return createHash('sha256').update(`${username}\n${idempotencyKey}`).digest('hex').slice(0, 8);
}

/** Why an order whose trigger the price has already reached is refused, with what to do instead. */
function alreadyReached(side: TradeSide, type: OrderType, coin: Coin, market: Dec, trigger: Dec, view: MoneyView, line: string): string | undefined {
  const below = triggerCondition(side, type) === 'below';
  if (below ? market.gt(trigger) : market.lt(trigger)) return undefined;
  const word = type === 'limit' ? 'limit' : 'stop';
  return `${coin.symbol.toUpperCase()} is at ${formatPrice(market, view)}, already at or ${below ? 'below' : 'above'} your ${word} of ${formatPrice(trigger, view)}: ${line} ${side === 'buy' ? 'buys' : 'sells'} now.`;
}

/**
 * Places a limit or stop order for the caller: works out what it holds back, asks for confirmation
 * when it is large (where the chat has buttons), and holds back and records it in one atomic step.
 */
export async function placeOrder(
  ctx: CommandContext, coin: Coin, side: TradeSide, amount: BuyOrder | SellOrder, words: readonly string[], market: Dec, amountText: string,
): Promise<RichMessage> {
  const account = requireAccount(ctx);
  const { services } = ctx;
  const view = viewOf(ctx);
  const spec = parseOrderWords(words, side, services.config.maxOrderMs);
  const trigger = toBase(spec.price, view).toDecimalPlaces(STORED_PRICE_DECIMALS);
  if (trigger.lte(0)) throw new UserError(`That price is too small to trade at in ${view.currency.toUpperCase()}.`);
  const label = coin.symbol.toUpperCase();
  const refusal = alreadyReached(side, spec.type, coin, market, trigger, view, `/${side} ${coin.id} ${amountText}`);
  if (refusal) throw new UserError(refusal);

  const portfolio = await services.store.getPortfolio(account.username);
  if (!portfolio) throw new UserError('Your account has no portfolio. Ask an admin to look into it.');
  const money = (m: Dec) => formatMoney(m, view);
  const terms = orderTerms(portfolio, {
    side, type: spec.type, amount, trigger, coinId: coin.id, coinLabel: label, feePercent: dec(services.config.feePercent),
    costs: services.config, money, platform: ctx.identity.platform,
  });
  const now = services.clock.now();
  const order: PriceAlert = {
    alertId: orderIdFor(account.username, ctx.idempotencyKey), username: orderOwner(account.username), coinId: coin.id,
    condition: triggerCondition(side, spec.type), targetPrice: toStored(trigger), expiresAt: now + (spec.forMs ?? services.config.maxOrderMs),
    state: 'armed', createdAt: now, updatedAt: now, fireCount: 0, version: 1, order: terms,
  };
  const plan = placementPlan(order, money, label);

  if (ctx.canConfirm && !ctx.confirmed) {
    // An order that cannot be placed is refused now, not after the user has confirmed it.
    const preview = plan(portfolio);
    if (!preview.ok) throw new UserError(preview.reason);
    const value = terms.amount.kind === 'cash' ? dec(terms.amount.value) : dec(terms.amount.value).mul(trigger);
    if (value.gt(services.config.confirmTradesAbove)) {
      const line = `/${side} ${coin.id} ${amountText} ${words.join(' ')}`;
      return reply('warning', {
        title: `Confirm: place an order to ${describeOrder(order, label, view)}?`,
        text: `It is worth about ${money(value)} and holds back ${describeHold(order, label, view)} until it fills or ends.`,
        buttons: [{ label: 'Confirm', command: line, kind: 'confirm' }, { label: 'Cancel', command: line, kind: 'cancel' }],
      });
    }
  }

  const outcome = await services.store.changeOrder(account.username, { order, limit: services.config.maxOpenOrders, plan });
  if (outcome.status === 'limit') throw new UserError(`You have ${services.config.maxOpenOrders} open orders, the most allowed: cancel one first (/orders).`);
  if (outcome.status === 'rejected') throw new UserError(outcome.reason);
  if (outcome.status === 'stale') {
    return reply('info', { text: `Already done: this message placed order ${order.alertId} before. Nothing was placed again.` });
  }
  return reply('success', {
    title: `Order ${order.alertId} placed`,
    text: `${capitalize(describeOrder(order, label, view))}, ${describeOrderExpiry(order, view)}. It fills on the first price that reaches it${spec.type === 'limit' ? `, never at a worse price than ${formatPrice(trigger, view)}` : ', at the market price then'}.`,
    fields: [
      { label: 'Held back', value: describeHold(order, label, view) },
      { label: 'Free cash', value: formatMoney(dec(outcome.portfolio.cash).minus(outcome.portfolio.reservedCash ?? '0'), view) },
      { label: `${label} now`, value: formatPrice(market, view) },
    ],
    buttons: [{ label: 'Cancel order', command: `/order cancel ${order.alertId}` }, { label: 'Orders', command: '/orders' }],
  });
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export const orders = defineCommand({
  name: 'orders',
  // "/order" alone, as the group of "/order cancel" would be typed.
  aliases: ['order'],
  summary: 'Your open limit and stop orders, with buttons to cancel them',
  args: {},
  examples: ['/orders'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: TRADING_DENIED_NOTE,
  async run(ctx) {
    const account = requireAccount(ctx);
    const view = viewOf(ctx);
    const labels = new Map((await ctx.services.coins.list()).map((c) => [c.id, c.symbol.toUpperCase()]));
    const open = (await ctx.services.store.listAlerts(orderOwner(account.username))).filter((o) => o.order && isLiveAlert(o.state));
    if (!open.length) {
      return reply('info', { text: 'You have no open orders. Place one with /buy btc 0.1 at 60000 (a limit) or /sell eth all stop 2500 (a stop-loss).' });
    }
    const label = (o: PriceAlert) => labels.get(o.coinId) ?? o.coinId;
    const buttons: Button[] = open.slice(0, CANCEL_BUTTONS).map((o) => ({ label: `Cancel ${o.alertId}`, command: `/order cancel ${o.alertId}` }));
    buttons.push({ label: 'Refresh', command: '/orders', kind: 'refresh' });
    return reply('info', {
      title: `Your open orders (${open.length})`,
      table: {
        columns: ['Id', 'Order', 'Holds', 'Until', 'Placed'],
        rows: open.map((o) => [o.alertId, describeOrder(o, label(o), view), describeHold(o, label(o), view), timeFor(ctx, o.expiresAt!), timeFor(ctx, o.createdAt)]),
      },
      buttons,
      footer: open.length > CANCEL_BUTTONS ? `Cancel the others with /order cancel <id>.` : undefined,
    });
  },
});

export const orderCancel = defineCommand({
  name: 'order cancel',
  summary: 'Cancel one of your open orders; what it held back is free again',
  args: { id: args.text('order id from /orders', /^[a-z0-9]{1,36}$/i, 'An order id looks like 3f9a1c2b: /orders lists yours.') },
  examples: ['/order cancel 3f9a1c2b'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'state',
  deniedNote: TRADING_DENIED_NOTE,
  async run(ctx, { id }) {
    const account = requireAccount(ctx);
    const { store, clock, coins } = ctx.services;
    const view = viewOf(ctx);
    const owner = orderOwner(account.username);
    const order = await store.getAlert(owner, id.toLowerCase());
    if (!order?.order) throw new UserError(`You have no order ${id}. /orders lists yours.`);
    const label = (await coins.list()).find((c) => c.id === order.coinId)?.symbol.toUpperCase() ?? order.coinId;
    if (!isLiveAlert(order.state)) throw new UserError(`Order ${order.alertId} is already ${endedAs(order)}.`);
    const now = clock.now();
    const cancelled: PriceAlert = { ...order, state: 'removed', version: order.version + 1, updatedAt: now, order: { ...order.order, endReason: 'cancelled by you' } };
    const outcome = await store.changeOrder(account.username, { order: cancelled, expectedVersion: order.version, plan: releasePlan(order) });
    if (outcome.status === 'stale') throw new UserError(`Order ${order.alertId} changed just now: it is ${outcome.current ? endedAs(outcome.current) : 'gone'}.`);
    if (outcome.status !== 'done') throw new UserError(`Order ${order.alertId} could not be cancelled: ${outcome.status === 'rejected' ? outcome.reason : 'try again'}.`);
    return reply('success', {
      text: `Order ${order.alertId} cancelled: ${describeOrder(order, label, view)}. ${describeHold(order, label, view)} is free again.`,
      buttons: [{ label: 'Orders', command: '/orders' }],
    });
  },
});

/** "filled", "cancelled", "expired" for a finished order. */
function endedAs(order: PriceAlert): string {
  if (order.state === 'fired') return 'filled';
  if (order.state === 'expired') return 'expired';
  if (order.state === 'removed') return order.order?.endReason === 'cancelled by you' || !order.order?.endReason ? 'cancelled' : `ended (${order.order.endReason})`;
  return 'open';
}
