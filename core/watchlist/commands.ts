/** /watch add|remove <coin> and /watchlist: a user's personal list of coins to keep an eye on. */
import { ACCESS } from '../access';
import { args } from '../args';
import { UserError } from '../errors';
import { reply } from '../messages';
import { defineCommand } from '../registry';
import { requireAccount } from '../view';
import { WATCHLIST_LIMIT, watchlistMessage } from './view';

const DENIED_NOTE = 'Watchlists belong to user accounts.';

export const watchAdd = defineCommand({
  name: 'watch add',
  // "/watch btc" adds, as "/alert btc above 1" sets an alert.
  groupDefault: true,
  summary: 'Add a coin to your watchlist',
  args: { coin: args.coin() },
  examples: ['/watch add btc', '/watch eth'],
  roles: ACCESS.trading,
  chats: 'any',
  changes: 'state',
  deniedNote: DENIED_NOTE,
  async run(ctx, { coin: token }) {
    const account = requireAccount(ctx);
    const coin = await ctx.services.coins.resolve(token);
    const label = `${coin.name} (${coin.symbol.toUpperCase()})`;
    const outcome = await ctx.services.store.addToWatchlist(account.username, coin.id, WATCHLIST_LIMIT);
    if (outcome === 'exists') throw new UserError(`${label} is already on your watchlist. /watchlist shows it.`);
    if (outcome === 'limit') throw new UserError(`Your watchlist is full (${WATCHLIST_LIMIT} coins). Remove one with /watch remove <coin> first.`);
    return reply('success', {
      text: `Added ${label} to your watchlist.`,
      buttons: [{ label: 'Show watchlist', command: '/watchlist' }],
    });
  },
});

export const watchRemove = defineCommand({
  name: 'watch remove',
  summary: 'Remove a coin from your watchlist',
  args: { coin: args.coin('coin id or symbol on your watchlist') },
  examples: ['/watch remove btc'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: DENIED_NOTE,
  async run(ctx, { coin: token }) {
    const account = requireAccount(ctx);
    const { store, coins } = ctx.services;
    // A coin an admin has stopped tracking no longer resolves, but must still be removable by
    // the id /watchlist shows for it.
    const watched = await store.getWatchlist(account.username);
    const coin = watched.includes(token) ? (await coins.list()).find((c) => c.id === token) : await coins.resolve(token);
    const id = coin?.id ?? token;
    const label = coin ? `${coin.name} (${coin.symbol.toUpperCase()})` : id;
    if (!(await store.removeFromWatchlist(account.username, id))) throw new UserError(`${label} is not on your watchlist. /watchlist shows what is.`);
    return reply('success', { text: `Removed ${label} from your watchlist.` });
  },
});

export const watchlist = defineCommand({
  name: 'watchlist',
  summary: 'Your watched coins with prices and 24 h changes',
  args: {},
  examples: ['/watchlist'],
  roles: ACCESS.trading,
  chats: 'any',
  deniedNote: DENIED_NOTE,
  async run(ctx) {
    const account = requireAccount(ctx);
    const [ids, tracked] = await Promise.all([ctx.services.store.getWatchlist(account.username), ctx.services.coins.list()]);
    return watchlistMessage(ctx, ids, tracked);
  },
});
