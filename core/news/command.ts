import { ACCESS } from '../access';
import { args, optional } from '../args';
import { reply } from '../messages';
import { defineCommand } from '../registry';
import { mentions } from './headlines';
import { newsReply } from './view';

export const news = defineCommand({
  name: 'news',
  summary: 'Latest crypto headlines, or those about one coin',
  args: { coin: optional(args.coin('coin id or symbol to filter by, e.g. btc')) },
  examples: ['/news', '/news btc'],
  // Public market information, like /price.
  roles: ACCESS.public,
  chats: 'any',
  async run(ctx, { coin }) {
    // Resolve first: a mistyped coin is answered at once, without waiting on the feeds.
    const resolved = coin === undefined ? undefined : await ctx.services.coins.resolve(coin);
    const source = ctx.services.news;
    if (!source) return reply('warning', { text: 'News is not set up on this bot.' });
    const report = await source.latest();
    const items = resolved ? report.items.filter((item) => mentions(item, resolved)) : report.items;
    return newsReply(report, items, ctx.services.clock.now(), resolved);
  },
});
