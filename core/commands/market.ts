import { ACCESS } from '../access';
import { args } from '../args';
import type { Coin, Quote } from '../domain';
import { UserError } from '../errors';
import { dec } from '../money';
import { reply, trendOf } from '../messages';
import { ConflictError } from '../ports';
import { defineCommand } from '../registry';
import { QUOTE_COLUMNS, changeCell, priceCell, priceFooter, quoteRow, viewOf } from '../view';
import { fetchOverview, overviewFields, overviewSimulatedNote } from '../market/overview';

export const price = defineCommand({
  name: 'price',
  aliases: ['p'],
  summary: 'Current price, 24 h change and age of the quote',
  args: { coins: args.coins() },
  examples: ['/price btc', '/price eth sol doge'],
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx, { coins }) {
    const resolved = await Promise.all([...new Set(coins)].map((c) => ctx.services.coins.resolve(c)));
    const now = ctx.services.clock.now();
    const rows = resolved.map((coin) => quoteRow(ctx, coin, now));
    const change = resolved.length === 1 ? ctx.services.prices.quote(resolved[0]!.id)?.change24hPercent : undefined;
    return reply('info', {
      title: resolved.length === 1 ? `${resolved[0]!.name} price` : 'Prices',
      ...(change && { trend: trendOf(dec(change)) }),
      table: { ...QUOTE_COLUMNS, rows },
      buttons: [{ label: 'Refresh', command: `/price ${resolved.map((c) => c.id).join(' ')}`, kind: 'refresh' }],
      // Which source the prices came from (the fallback's own note when one stands in).
      footer: priceFooter(ctx) ?? `Prices from ${ctx.services.prices.source().active}.`,
    });
  },
});

export const coins = defineCommand({
  name: 'coins list',
  groupDefault: true,
  summary: 'List the coins you can trade',
  args: {},
  examples: ['/coins'],
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx) {
    const list = await ctx.services.coins.list();
    return reply('info', {
      title: `Tracked coins (${list.length})`,
      table: { columns: ['Symbol', 'Name', 'Id'], rows: list.map((c) => [c.symbol.toUpperCase(), c.name, c.id]) },
      footer: 'Use a symbol or an id in commands: /price btc, /buy bitcoin $50.',
    });
  },
});

export const coinsAdd = defineCommand({
  name: 'coins add',
  summary: 'Track a new coin (CoinGecko id)',
  args: { id: args.text('CoinGecko coin id, e.g. pepe', /^[a-z0-9][a-z0-9.-]{0,63}$/, 'A CoinGecko id is lower-case letters, digits, dots and dashes, like the-graph.') },
  examples: ['/coins add pepe'],
  roles: ACCESS.admin,
  chats: 'any',
  async run(ctx, { id }) {
    const coin: Coin | null = await ctx.services.prices.lookupCoin(id);
    if (!coin) {
      throw new UserError(ctx.services.prices.simulated
        ? `Prices are simulated right now, so only the bundled coins can be added, and “${id}” is not one of them.`
        : `CoinGecko has no coin with the id “${id}”. Ids are in the coin's CoinGecko page address.`);
    }
    try {
      await ctx.services.store.addCoin(coin);
    } catch (error) {
      if (error instanceof ConflictError) throw new UserError(`${coin.name} (${coin.id}) is already tracked.`);
      throw error;
    }
    ctx.services.coins.invalidate();
    const sharing = (await ctx.services.coins.list()).filter((c) => c.symbol === coin.symbol);
    const note = sharing.length > 1 ? ` Its symbol ${coin.symbol.toUpperCase()} is shared, so users will be asked which one they mean.` : '';
    return reply('success', { text: `Now tracking ${coin.name} (${coin.symbol.toUpperCase()}, ${coin.id}).${note}` });
  },
});

export const coinsRemove = defineCommand({
  name: 'coins remove',
  summary: 'Stop tracking a coin',
  args: { id: args.coin('tracked coin id or symbol') },
  examples: ['/coins remove pepe'],
  roles: ACCESS.admin,
  chats: 'any',
  async run(ctx, { id }) {
    const coin = await ctx.services.coins.resolve(id);
    await ctx.services.store.removeCoin(coin.id);
    ctx.services.coins.invalidate();
    return reply('success', { text: `Stopped tracking ${coin.name} (${coin.id}). Holdings of it stay in portfolios but cannot be traded until it is added again.` });
  },
});

export const market = defineCommand({
  name: 'market',
  aliases: ['movers'],
  summary: 'Market overview: top movers, total market cap, BTC dominance, trending, Fear & Greed',
  args: {},
  examples: ['/market'],
  roles: ACCESS.marketAnalysis,
  chats: 'any',
  async run(ctx) {
    // The overview's sources are fetched alongside the movers; each fails on its own.
    const [list, overview] = await Promise.all([ctx.services.coins.list(), fetchOverview(ctx.services.market, ctx.services.sentiment, ctx.services.logger)]);
    const quoted = list
      .map((coin) => ({ coin, quote: ctx.services.prices.quote(coin.id) }))
      .filter((q): q is { coin: Coin; quote: Quote } => q.quote?.change24hPercent != null)
      .sort((a, b) => dec(b.quote.change24hPercent!).cmp(dec(a.quote.change24hPercent!)));
    // The overview does not depend on the live quotes: without movers it still stands.
    if (!quoted.length) return reply('warning', { title: 'Market overview (24 h)', text: 'No 24 h changes are known yet: try again in a minute.', fields: overviewFields(overview, viewOf(ctx)) });
    const rising = quoted.filter((q) => dec(q.quote.change24hPercent!).gt(0)).length;
    const row = ({ coin, quote }: { coin: Coin; quote: Quote }) => [coin.symbol.toUpperCase(), coin.name, priceCell(ctx, quote), changeCell(quote)];
    const top = quoted.slice(0, 5);
    const bottom = quoted.slice(-5).reverse().filter((q) => !top.includes(q));
    return reply('info', {
      title: 'Market overview (24 h)',
      text: `${rising} of ${quoted.length} tracked coins are up over 24 h.`,
      fields: overviewFields(overview, viewOf(ctx)),
      table: {
        columns: ['Symbol', 'Coin', 'Price', '24h'],
        rows: [...top.map(row), ...bottom.map(row)],
        align: ['left', 'left', 'right', 'right'],
      },
      footer: [overviewSimulatedNote(overview), priceFooter(ctx) ?? 'Top gainers first, then top losers.'].filter(Boolean).join('\n'),
    });
  },
});
