/** How /watchlist shows a user's watched coins: one row per coin, with its latest quote. */
import type { CommandContext } from '../context';
import type { Coin } from '../domain';
import { reply, type RichMessage } from '../messages';
import { QUOTE_COLUMNS, priceFooter, quoteRow } from '../view';

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
  const now = ctx.services.clock.now();
  const rows = coinIds.map((id) => {
    const coin = known.get(id);
    return coin ? quoteRow(ctx, coin, now) : [id, 'no longer tracked', '', ''];
  });
  return reply('info', {
    title: `Your watchlist (${coinIds.length} of ${WATCHLIST_LIMIT})`,
    table: { ...QUOTE_COLUMNS, rows },
    buttons: [{ label: 'Refresh', command: '/watchlist', kind: 'refresh' }],
    footer: priceFooter(ctx) ?? 'Add or remove coins with /watch add <coin> and /watch remove <coin>.',
  });
}
