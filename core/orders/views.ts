/**
 * How orders and fills read, in the reader's currency and time zone: one wording for /orders, the
 * reply that places an order, and the messages a fill or an ended order sends.
 */
import type { OutboxMessage, PriceAlert, Transaction } from '../domain';
import { formatMoney, formatPrice, formatTime, type MoneyView } from '../format';
import type { Field, RichMessage } from '../messages';
import { reply } from '../messages';
import { dec, formatQuantity } from '../money';
import { bpsAsPercent } from './pricing';

/** "0.1 BTC" or "$250.00 of BTC". */
function what(order: PriceAlert, label: string, view: MoneyView): string {
  const { amount } = order.order!;
  return amount.kind === 'cash' ? `${formatMoney(amount.value, view)} of ${label}` : `${formatQuantity(dec(amount.value))} ${label}`;
}

/** "buy 0.1 BTC at $60,000.00 or lower", "sell 0.5 ETH once it falls to $2,500.00". */
export function describeOrder(order: PriceAlert, label: string, view: MoneyView): string {
  const { side, type } = order.order!;
  const price = formatPrice(order.targetPrice!, view);
  if (type === 'limit') return `${side} ${what(order, label, view)} at ${price} or ${side === 'buy' ? 'lower' : 'higher'}`;
  return `${side} ${what(order, label, view)} once it ${side === 'buy' ? 'rises' : 'falls'} to ${price}`;
}

/** What the order holds back: "$6,006.00" or "0.1 BTC". */
export function describeHold(order: PriceAlert, label: string, view: MoneyView): string {
  const { side, reserved } = order.order!;
  return side === 'buy' ? formatMoney(reserved, view) : `${formatQuantity(dec(reserved))} ${label}`;
}

/** "until 2026-12-02 14:00 UTC+2". */
export function describeOrderExpiry(order: PriceAlert, view: MoneyView): string {
  return order.expiresAt === undefined ? 'good till cancelled' : `until ${formatTime(order.expiresAt, view.timeZone)}`;
}

/** The fields every fill shows (a market trade's reply and an order's fill message): the price
 *  paid, the market price it came from, and the costs between them. */
export function fillFields(t: Transaction, view: MoneyView, label: string, simulated: boolean, cashAfter: string): Field[] {
  const quantity = `${formatQuantity(dec(t.quantity))} ${label}`;
  const fields: Field[] = [
    { label: 'Price', value: formatPrice(t.price, view) + (simulated ? ' (simulated)' : '') },
  ];
  if (t.marketPrice !== undefined) {
    const market = dec(t.marketPrice);
    // What the spread and slippage cost, as a share of the market price (a limit's cap included).
    const costBps = market.isZero() ? dec(0) : dec(t.price).minus(market).abs().div(market).mul(10_000);
    fields.push({ label: 'Market price', value: `${formatPrice(market, view)} (fill ${t.type === 'buy' ? '+' : '-'}${bpsAsPercent(costBps)}: spread and slippage)` });
  }
  fields.push(
    { label: 'Quantity', value: quantity },
    { label: 'Amount', value: formatMoney(t.amount, view) },
    { label: 'Fee', value: formatMoney(t.fee, view) },
    { label: t.type === 'buy' ? 'Total paid' : 'You receive', value: formatMoney(t.type === 'buy' ? dec(t.amount).plus(t.fee) : dec(t.amount).minus(t.fee), view) },
    { label: 'Cash balance', value: formatMoney(cashAfter, view) },
  );
  return fields;
}

/** The owner's message when an order fills. */
export function fillMessage(order: PriceAlert, t: Transaction, view: MoneyView, label: string, simulated: boolean, cashAfter: string): RichMessage {
  return reply('success', {
    title: `Order ${order.alertId} filled: ${t.type === 'buy' ? 'bought' : 'sold'} ${formatQuantity(dec(t.quantity))} ${label}`,
    text: `Your order to ${describeOrder(order, label, view)} filled at ${formatTime(t.timestamp, view.timeZone)}.`,
    fields: fillFields(t, view, label, simulated, cashAfter),
    buttons: [{ label: 'Portfolio', command: '/portfolio' }],
  });
}

export function fillEmail(order: PriceAlert, t: Transaction, view: MoneyView, label: string, cashAfter: string): { subject: string; body: string } {
  return {
    subject: `CryptoPulse: order ${order.alertId} filled, ${t.type === 'buy' ? 'bought' : 'sold'} ${formatQuantity(dec(t.quantity))} ${label}`,
    body: [
      `Your order to ${describeOrder(order, label, view)} filled at ${formatTime(t.timestamp, view.timeZone)}:`,
      `${t.type} ${formatQuantity(dec(t.quantity))} ${label} at ${formatPrice(t.price, view)}${t.marketPrice ? ` (market ${formatPrice(t.marketPrice, view)})` : ''} for ${formatMoney(t.amount, view)}, fee ${formatMoney(t.fee, view)}.`,
      `Cash balance: ${formatMoney(cashAfter, view)}`,
      'This is paper trading with virtual money.',
    ].join('\n'),
  };
}

/** The owner's message when an order ends without filling (expired, its coin removed, or it
 *  could no longer fill). */
export function endedMessage(order: PriceAlert, label: string, view: MoneyView, why: string): RichMessage {
  return reply('warning', {
    title: `Order ${order.alertId} ended`,
    text: `Your order to ${describeOrder(order, label, view)} ended: ${why}. What it held back (${describeHold(order, label, view)}) is free again.`,
    buttons: [{ label: 'Orders', command: '/orders' }],
  });
}

export function endedEmail(order: PriceAlert, label: string, view: MoneyView, why: string): { subject: string; body: string } {
  return {
    subject: `CryptoPulse: order ${order.alertId} ended`,
    body: `Your order to ${describeOrder(order, label, view)} ended: ${why}. What it held back (${describeHold(order, label, view)}) is free again.\nThis is paper trading with virtual money.`,
  };
}

/** The outbox messages for one order event, to each destination (ids deterministic per event). */
export function orderMessages(
  event: string,
  order: PriceAlert,
  destinations: string[],
  now: number,
  chat: RichMessage,
  email: { subject: string; body: string },
): OutboxMessage[] {
  const username = order.username.slice('#orders:'.length);
  return destinations.map((destination) => ({
    id: `order:${order.alertId}:${event}:${destination}`,
    destination,
    username,
    kind: 'notice' as const,
    ...(destination.startsWith('email:') ? { email } : { message: chat }),
    createdAt: now,
    dueAt: now,
    attempts: 0,
    status: 'pending' as const,
  }));
}
