import { ACCESS, TRADING_DENIED_NOTE } from '../access';
import { args, type BuyOrder, type SellOrder } from '../args';
import type { CommandContext } from '../context';
import type { Coin, OutboxMessage, Portfolio, Transaction } from '../domain';
import { UserError } from '../errors';
import { formatAge, formatMoney, formatPrice } from '../format';
import { Dec, ZERO, dec, formatPercent, formatQuantity } from '../money';
import { reply, trendOf, type RichMessage } from '../messages';
import { defineCommand } from '../registry';
import type { TradePlan } from '../ports';
import { freeCash, freeQuantity, planBuy, planSell, type TradeTerms } from '../trading';
import { placeOrder } from '../orders/commands';
import { fillPrice } from '../orders/pricing';
import { fillFields } from '../orders/views';
import { pageAt, pageButtons, priceFooter, requireAccount, timeFor, viewOf } from '../view';

/** The latest quote for a trade, refused when older than the configured limit. */
function tradablePrice(ctx: CommandContext, coin: Coin): Dec {
  const quote = ctx.services.prices.quote(coin.id);
  if (!quote) throw new UserError(`There is no price for ${coin.name} yet: try again in a moment.`);
  const age = ctx.services.clock.now() - quote.receivedAt;
  if (age > ctx.services.config.maxQuoteAgeMs) {
    throw new UserError(`The latest ${coin.name} price is from ${formatAge(age)}, too old to trade on (limit ${Math.round(ctx.services.config.maxQuoteAgeMs / 1000)} s). Try again shortly.`);
  }
  return dec(quote.price);
}

/** A market trade at the price now, or, with "at <price>" or "stop <price>" after the amount, a
 *  limit or stop order (core/orders). */
async function trade(ctx: CommandContext, coinToken: string, side: 'buy' | 'sell', order: BuyOrder | SellOrder, orderWords: string[] | undefined): Promise<RichMessage> {
  const account = requireAccount(ctx);
  const { services } = ctx;
  const coin = await services.coins.resolve(coinToken);
  const market = tradablePrice(ctx, coin);
  if (orderWords?.length) return placeOrder(ctx, coin, side, order, orderWords, market, describeOrder(order));
  const view = viewOf(ctx);
  const asking = ctx.canConfirm && !ctx.confirmed;
  // Read ahead when a share of a holding needs sizing, or to preview a trade before confirming it.
  const portfolio = asking || (side === 'sell' && order.kind !== 'quantity') ? await services.store.getPortfolio(account.username) : null;
  // The spread and slippage are priced on the trade's size at the market price now.
  const value = estimatedValue(portfolio, coin, market, order);
  const price = fillPrice(side, market, value, services.config).price;
  const terms: TradeTerms = {
    transactionId: services.ids.next(),
    username: account.username,
    coinId: coin.id,
    coinLabel: coin.symbol.toUpperCase(),
    price,
    marketPrice: market,
    feePercent: dec(services.config.feePercent),
    timestamp: services.clock.now(),
    platform: ctx.identity.platform,
    money: (amount) => formatMoney(amount, view),
  };
  const decide = (portfolio: Portfolio) => (side === 'buy' ? planBuy(portfolio, order as BuyOrder, terms) : planSell(portfolio, order as SellOrder, terms));
  // The confirmation email is queued in the outbox in the trade's own atomic step: a trade that
  // happened is always confirmed, a rejected or repeated one never is (core/notifications).
  const emailed = account.emailNotifications && services.notifier.enabled;
  const plan = (portfolio: Portfolio): TradePlan => {
    const decision = decide(portfolio);
    return decision.ok && emailed ? { ...decision, messages: [confirmationEmail(ctx, coin, side, decision.transaction, decision.portfolio)] } : decision;
  };
  if (asking) {
    // A trade that cannot succeed is refused now, not after the user has confirmed it.
    const preview = portfolio && plan(portfolio);
    if (preview && !preview.ok) throw new UserError(preview.reason);
    if (value.gt(services.config.confirmTradesAbove)) {
      const line = `/${side} ${coin.id} ${describeOrder(order)}`;
      return reply('warning', {
        title: `Confirm: ${side} about ${formatMoney(value, view)} of ${coin.symbol.toUpperCase()}?`,
        text: `At ${formatPrice(price, view)} now${price.eq(market) ? '' : ` (market ${formatPrice(market, view)}, plus spread and slippage)`}. The price is checked again when you confirm.`,
        buttons: [{ label: 'Confirm', command: line, kind: 'confirm' }, { label: 'Cancel', command: line, kind: 'cancel' }],
      });
    }
  }
  const outcome = await services.store.executeTrade(account.username, ctx.idempotencyKey, plan);

  if (outcome.status === 'rejected') throw new UserError(outcome.reason);
  if (outcome.status === 'duplicate') {
    return reply('info', { text: `Already done: this message was handled before (${describe(outcome.transaction, coin, ctx)}). Nothing was traded again.` });
  }
  services.metrics?.tradeDone('market', side);
  const t = outcome.transaction;
  const label = coin.symbol.toUpperCase();
  return reply('success', {
    title: `${side === 'buy' ? 'Bought' : 'Sold'} ${formatQuantity(dec(t.quantity))} ${label}`,
    fields: fillFields(t, view, label, services.prices.simulated, outcome.portfolio.cash),
    footer: priceFooter(ctx),
  });
}

/** The trade's confirmation email as an outbox message (id from the transaction: one per trade). */
function confirmationEmail(ctx: CommandContext, coin: Coin, side: 'buy' | 'sell', t: Transaction, after: Portfolio): OutboxMessage {
  const view = viewOf(ctx);
  const now = ctx.services.clock.now();
  return {
    id: `trade:${t.transactionId}:email`,
    destination: `email:${t.username}`,
    username: t.username,
    kind: 'trade',
    email: {
      subject: `CryptoPulse: ${side === 'buy' ? 'bought' : 'sold'} ${formatQuantity(dec(t.quantity))} ${coin.symbol.toUpperCase()}`,
      body: `${describe(t, coin, ctx)}\nCash balance: ${formatMoney(after.cash, view)}\nThis is paper trading with virtual money.`,
    },
    createdAt: now,
    dueAt: now,
    attempts: 0,
    status: 'pending',
  };
}

/** What the order is worth at this price: for its slippage, and whether to ask for confirmation. */
function estimatedValue(portfolio: Portfolio | null, coin: Coin, price: Dec, order: BuyOrder | SellOrder): Dec {
  if (order.kind === 'cash') return order.value;
  if (order.kind === 'quantity') return order.value.mul(price);
  const free = freeQuantity(portfolio?.holdings[coin.id]);
  return (order.kind === 'all' ? free : free.mul(order.value).div(100)).mul(price);
}

/** The order as the user would type it again. */
function describeOrder(order: BuyOrder | SellOrder): string {
  if (order.kind === 'all') return 'all';
  if (order.kind === 'percent') return `${order.value.toFixed()}%`;
  return order.kind === 'cash' ? `$${order.value.toFixed()}` : order.value.toFixed();
}

function describe(t: Transaction, coin: Coin, ctx: CommandContext): string {
  const view = viewOf(ctx);
  return `${t.type} ${formatQuantity(dec(t.quantity))} ${coin.symbol.toUpperCase()} at ${formatPrice(t.price, view)} for ${formatMoney(t.amount, view)}, ${timeFor(ctx, t.timestamp)}`;
}

export const buy = defineCommand({
  name: 'buy',
  aliases: ['b'],
  summary: 'Buy a coin with virtual cash: by amount ($250) or quantity (0.5), now or at a price',
  args: { coin: args.coin(), amount: args.buyAmount(), order: args.words('at <price> for a limit order, stop <price> for a stop order; then optionally for 7d') },
  examples: ['/buy btc $250', '/buy eth 0.5', '/buy btc 0.1 at 60000', '/buy sol $500 stop 250 for 7d'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'trade',
  deniedNote: TRADING_DENIED_NOTE,
  run: (ctx, { coin, amount, order }) => trade(ctx, coin, 'buy', amount, order),
});

export const sell = defineCommand({
  name: 'sell',
  aliases: ['s'],
  summary: 'Sell a quantity, a percentage, or all of a coin you hold, now or at a price',
  args: { coin: args.coin(), amount: args.sellAmount(), order: args.words('at <price> for a limit order, stop <price> for a stop-loss; then optionally for 7d') },
  examples: ['/sell btc 0.01', '/sell eth 25%', '/sell doge all', '/sell eth all stop 2500', '/sell btc 0.05 at 80000 for 30d'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'trade',
  deniedNote: TRADING_DENIED_NOTE,
  run: (ctx, { coin, amount, order }) => trade(ctx, coin, 'sell', amount, order),
});

export const portfolio = defineCommand({
  name: 'portfolio',
  aliases: ['pf', 'balance'],
  summary: 'Your cash, holdings, and profit and loss',
  args: {},
  examples: ['/portfolio'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: TRADING_DENIED_NOTE,
  async run(ctx) {
    const account = requireAccount(ctx);
    const { store, prices, coins } = ctx.services;
    const p = await store.getPortfolio(account.username);
    if (!p) throw new UserError('Your account has no portfolio. Ask an admin to look into it.');
    const view = viewOf(ctx);
    const known = new Map((await coins.list()).map((c) => [c.id, c]));
    let holdingsValue = ZERO;
    let unrealized = ZERO;
    const rows = Object.values(p.holdings).sort((a, b) => a.coinId.localeCompare(b.coinId)).map((h) => {
      const quantity = dec(h.quantity);
      const basis = dec(h.costBasis);
      const quote = prices.quote(h.coinId);
      const label = known.get(h.coinId)?.symbol.toUpperCase() ?? h.coinId;
      const average = formatPrice(basis.div(quantity), view);
      const reserved = dec(h.reserved ?? '0');
      // What open sell orders hold back is still owned (and valued), just not free to sell.
      const shown = reserved.gt(0) ? `${formatQuantity(quantity)} (${formatQuantity(reserved)} held)` : formatQuantity(quantity);
      if (!quote) return [label, shown, average, 'no price', '', ''];
      const value = quantity.mul(quote.price);
      const pnl = value.minus(basis);
      holdingsValue = holdingsValue.plus(value);
      unrealized = unrealized.plus(pnl);
      const pct = basis.isZero() ? '' : formatPercent(pnl.div(basis).mul(100));
      return [label, shown, average, formatMoney(value, view), formatMoney(pnl, view), pct];
    });
    const total = dec(p.cash).plus(holdingsValue);
    const reservedCash = dec(p.reservedCash ?? '0');
    return reply('info', {
      title: `Portfolio of ${account.username}`,
      trend: trendOf(unrealized.plus(p.realizedPnl)),
      table: { columns: ['Coin', 'Quantity', 'Avg cost', 'Value', 'P&L', 'P&L %'], rows, align: ['left', 'right', 'right', 'right', 'right', 'right'] },
      fields: [
        { label: 'Cash', value: formatMoney(p.cash, view) },
        ...(reservedCash.gt(0) ? [{ label: 'Free cash', value: formatMoney(freeCash(p), view) }, { label: 'Held for orders', value: formatMoney(reservedCash, view) }] : []),
        { label: 'Holdings', value: formatMoney(holdingsValue, view) },
        { label: 'Total value', value: formatMoney(total, view) },
        { label: 'Unrealized P&L', value: formatMoney(unrealized, view) },
        { label: 'Realized P&L', value: formatMoney(p.realizedPnl, view) },
      ],
      buttons: [{ label: 'Refresh', command: '/portfolio', kind: 'refresh' }],
      footer: priceFooter(ctx) ?? `Valued at prices from ${timeFor(ctx, ctx.services.clock.now())}.`,
    });
  },
});

export const history = defineCommand({
  name: 'history',
  aliases: ['trades'],
  summary: 'Your transactions, newest first',
  args: { page: args.page() },
  examples: ['/history', '/history 2'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: TRADING_DENIED_NOTE,
  async run(ctx, { page = 1 }) {
    const account = requireAccount(ctx);
    const { items, hasNext } = await pageAt((r) => ctx.services.store.listTransactions(account.username, r), page);
    return reply('info', {
      title: `Your transactions, page ${page}`,
      table: transactionTable(ctx, items, false),
      buttons: pageButtons((n) => `/history ${n}`, page, hasNext),
      footer: !items.length && page > 1 ? 'There are no more transactions.' : undefined,
    });
  },
});

export function transactionTable(ctx: CommandContext, items: Transaction[], withUser: boolean) {
  const view = viewOf(ctx);
  return {
    columns: [...(withUser ? ['User'] : []), 'Time', 'Type', 'Coin', 'Quantity', 'Price', 'Amount', 'Order'],
    rows: items.map((t) => [
      ...(withUser ? [t.username] : []),
      timeFor(ctx, t.timestamp), t.type, t.coinId, formatQuantity(dec(t.quantity)), formatPrice(t.price, view), formatMoney(t.amount, view), t.orderId ?? 'market',
    ]),
    align: [...(withUser ? ['left' as const] : []), 'left' as const, 'left' as const, 'left' as const, 'right' as const, 'right' as const, 'right' as const, 'left' as const],
  };
}
