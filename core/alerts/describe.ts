/**
 * How an alert or a broadcast rule reads in lists and messages, in the reader's currency and
 * time zone (the view): what it asks for, how it repeats, when it ends, and where it is in its
 * life. One wording everywhere: /alert's confirmation, /alerts, /broadcast list and the message a
 * firing sends.
 */
import type { PriceAlert } from '../domain';
import { formatDuration, formatPrice, formatTime, moneyView, type MoneyView } from '../format';
import type { FiatRates } from '../ports';

/** A group has many readers with many currencies and zones: its broadcasts, and /broadcast's
 *  replies about them, are in the base currency (USD) and UTC, the same for everyone. */
export function groupView(rates: FiatRates): MoneyView {
  return moneyView('usd', rates);
}

/** What it waits for: "above $100,000.00", "a 5% move either way within 1h", "a 5% rise within
 *  1h", "a 2.5% fall within 30m". */
export function describeCondition(alert: PriceAlert, view: MoneyView): string {
  if (alert.condition === 'move') {
    const window = formatDuration(alert.moveWindowMs ?? 0);
    const percent = `${alert.movePercent ?? '?'}%`;
    if (alert.moveDirection === 'up') return `a ${percent} rise within ${window}`;
    if (alert.moveDirection === 'down') return `a ${percent} fall within ${window}`;
    return `a ${percent} move either way within ${window}`;
  }
  return `${alert.condition} ${formatPrice(alert.targetPrice ?? '0', view)}`;
}

/** "once", "repeats, at most every 30m". */
export function describeRepeat(alert: PriceAlert): string {
  return alert.repeatMs ? `repeats, at most every ${formatDuration(alert.repeatMs)}` : 'once';
}

/** "until 2026-12-02 14:00 UTC+2", or "no expiry". */
export function describeExpiry(alert: PriceAlert, view: MoneyView): string {
  return alert.expiresAt === undefined ? 'no expiry' : `until ${formatTime(alert.expiresAt, view.timeZone)}`;
}

/**
 * The whole alert in one phrase, for messages: "above $100,000.00" for a plain one-shot alert;
 * "a 5% move either way within 1h, repeats at most every 30m, until 2026-12-02 14:00 UTC+2"
 * with the options it has.
 */
export function describeAlert(alert: PriceAlert, view: MoneyView): string {
  const parts = [describeCondition(alert, view)];
  if (alert.repeatMs) parts.push(describeRepeat(alert));
  if (alert.expiresAt !== undefined) parts.push(describeExpiry(alert, view));
  return parts.join(', ');
}

/**
 * Where it is in its life, in words: "armed"; "cooling until 14:30 ..." then "waiting for the
 * price to move back" (a repeating alert re-arms after both: see AlertState); "fired at ...";
 * "expired ..."; "removed". An alert whose expiry has passed but that the engine has not moved
 * yet reads expired: it will never fire again.
 */
export function describeState(alert: PriceAlert, now: number, view: MoneyView): string {
  const at = (ms: number) => formatTime(ms, view.timeZone);
  const live = alert.state === 'armed' || alert.state === 'cooling';
  if (live && alert.expiresAt !== undefined && alert.expiresAt <= now) return `expired at ${at(alert.expiresAt)}`;
  switch (alert.state) {
    case 'armed':
      return alert.fireCount > 0 && alert.firedAt !== undefined ? `armed (last fired at ${at(alert.firedAt)})` : 'armed';
    case 'cooling': {
      const until = (alert.firedAt ?? alert.updatedAt) + (alert.repeatMs ?? 0);
      if (until > now) return `fired at ${at(alert.firedAt ?? alert.updatedAt)}, cooling until ${at(until)}`;
      // A move alert measures afresh from the next prices; a threshold waits to be crossed again.
      return alert.condition === 'move' ? 'fired, re-arming with the next prices' : 'fired, waiting for the price to move back';
    }
    case 'fired':
      return alert.firedAt !== undefined ? `fired at ${at(alert.firedAt)}` : 'fired';
    case 'expired':
      return alert.expiresAt !== undefined ? `expired at ${at(alert.expiresAt)}` : 'expired';
    case 'removed':
      return 'removed';
  }
}
