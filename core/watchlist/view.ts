/** How /watchlist shows a user's watched coins: one row per coin, with its latest quote. */
import type { CommandContext } from '../context';
import type { Coin } from '../domain';
import { formatAge, formatPrice } from '../format';
import { dec, formatPercent } from '../money';
import { reply, type RichMessage } from '../messages';
import { priceFooter, viewOf } from '../view';

export const WATCHLIST_LIMIT = 25;

/** The reply to /watchlist. `coinIds` is the stored list (sorted); `tracked` the coins tracked
 *  now: a watched coin an admin has since stopped tracking stays listed, marked as such, so the
 *  user can see why it has no price and remove it. */
export function watchlistMessage(ctx: CommandContext, coinIds: string[], tracked: Coin[]): RichMessage {
  if (!coinIds.length) {
    return reply('info', {
      title: 'Your watchlist is empty',
      text: 'Add a coin with /watch add <coin>, for example /watch add btc.',
    });
  }
  const known = new Map(tracked.map((c) => [c.id, c]));
  const view = viewOf(ctx);
  const now = ctx.services.clock.now();
  const rows = coinIds.map((id) => {
    const coin = known.get(id);
    if (!coin) return [id, 'no longer tracked', '', ''];
    const label = `${coin.symbol.toUpperCase()} ${coin.name}`;
    const quote = ctx.services.prices.quote(id);
    if (!quote) return [label, 'no price yet', '', ''];
    return [
      label,
      formatPrice(quote.price, view) + (quote.simulated ? ' (simulated)' : ''),
      quote.change24hPercent === null ? 'n/a' : formatPercent(dec(quote.change24hPercent)),
      formatAge(now - quote.receivedAt),
    ];
  });
  return reply('info', {
    title: `Your watchlist (${coinIds.length} of ${WATCHLIST_LIMIT})`,
    table: { columns: ['Coin', 'Price', '24h', 'Updated'], rows, align: ['left', 'right', 'right', 'right'] },
    buttons: [{ label: 'Refresh', command: '/watchlist', kind: 'refresh' }],
    footer: priceFooter(ctx) ?? 'Add or remove coins with /watch add <coin> and /watch remove <coin>.',
  });
}
