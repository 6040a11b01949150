/**
 * What a firing says: to the alert's owner (in chat and by email) and, for a group's broadcast
 * rule, to the group. Built once per firing, before the claim, because the messages are written
 * to the outbox in the same atomic step as the claim (Store.fireAlerts).
 */
import type { Coin, Quote } from '../domain';
import { formatDuration, formatPrice, type MoneyView } from '../format';
import { reply, type RichMessage } from '../messages';
import { dec, formatPercent } from '../money';
import { describeAlert } from './describe';
import type { Crossing } from './matcher';

/** "BTC is above $100,000.00" / "BTC is up 5.20% in 1h". */
export function headline(crossing: Crossing, coin: Coin, view: MoneyView): string {
  const symbol = coin.symbol.toUpperCase();
  if (crossing.kind === 'move') {
    const up = !dec(crossing.changePercent).isNegative();
    return `${symbol} is ${up ? 'up' : 'down'} ${dec(crossing.changePercent).abs().toFixed(2)}% in ${formatDuration(crossing.windowMs)}`;
  }
  return `${symbol} is ${crossing.kind} ${formatPrice(crossing.alert.targetPrice ?? '0', view)}`;
}

function happened(crossing: Crossing, coin: Coin, view: MoneyView, quote: Quote): string {
  const simulated = quote.simulated ? ' (simulated price)' : '';
  if (crossing.kind === 'move') {
    return `${coin.name} moved ${formatPercent(dec(crossing.changePercent))} within ${formatDuration(crossing.windowMs)}, from ${formatPrice(crossing.from, view)} to ${formatPrice(crossing.price, view)}${simulated}.`;
  }
  return `${coin.name} is now ${formatPrice(crossing.price, view)}${simulated}.`;
}

/** Starts with a digit, so it also opens a sentence. */
function change24h(quote: Quote): string {
  return quote.change24hPercent === null ? '24 h change unknown' : `24 h change ${formatPercent(dec(quote.change24hPercent))}`;
}

/** The owner's chat message. */
export function userAlertMessage(crossing: Crossing, coin: Coin, view: MoneyView, quote: Quote): RichMessage {
  const { alert } = crossing;
  const settled = alert.condition === 'move' ? 'the move has eased' : 'the price has moved back';
  const again = alert.repeatMs ? ` It fires again after ${formatDuration(alert.repeatMs)} at the earliest, once ${settled}.` : '';
  // Not a warning: a price the user asked about has come; the bell says so.
  return reply('info', {
    title: `🔔 ${headline(crossing, coin, view)}`,
    text: `${happened(crossing, coin, view, quote)} Your alert ${alert.alertId} (${describeAlert(alert, view)}) fired; ${change24h(quote)}.${again}`,
    buttons: [{ label: 'Price', command: `/price ${coin.id}` }],
  });
}

export function userAlertEmail(crossing: Crossing, coin: Coin, view: MoneyView, quote: Quote): { subject: string; body: string } {
  return {
    subject: `CryptoPulse alert: ${headline(crossing, coin, view)}`,
    body: `${happened(crossing, coin, view, quote)} Your alert ${crossing.alert.alertId} (${describeAlert(crossing.alert, view)}) fired; ${change24h(quote)}.\nThis is paper trading with virtual money.`,
  };
}

/** A group's broadcast: coin, what happened, price, 24 h change. No buttons: one message goes to
 *  many people, and a button's state would be shared by all of them. */
export function broadcastMessage(crossing: Crossing, coin: Coin, view: MoneyView, quote: Quote): RichMessage {
  return reply('info', {
    title: `📢 ${headline(crossing, coin, view)}`,
    text: `${happened(crossing, coin, view, quote)} ${change24h(quote)}. (Broadcast rule ${crossing.alert.alertId}: ${describeAlert(crossing.alert, view)}.)`,
  });
}
