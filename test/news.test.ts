/**
 * /news against RSS and Atom feeds on a loopback stand-in: parsing both formats, a broken and a
 * slow feed not holding the others up, deduplication, the coin filter, the cache on the injected
 * clock, and hostile feed text reaching every platform as inert text.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderDiscordMessage, escapeMarkdown } from '../adapters/discord/render';
import { escapeMrkdwn, renderSlackMessage } from '../adapters/slack/render';
import { escapeHtml, renderRichMessage } from '../adapters/telegram/render';
import { mentions, mergeHeadlines } from '../core/news/headlines';
import type { NewsItem } from '../core/ports';
import { plainText } from '../infra/news/plain-text';
import { RssNewsSource, sourceLabels } from '../infra/news/rss-news-source';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';
import { atomFeed, NewsStandin, rssFeed } from './support/news-standin';
import { parseTelegramHtml } from './support/telegram-standin';

const CACHE_MS = 600_000;
/** Generous, so that a loaded machine never fails a working feed; the slow-feed test alone uses
 *  SLOW_TIMEOUT_MS, short enough not to hold the suite up. Nothing asserts how long anything took. */
const TIMEOUT_MS = 10_000;
const SLOW_TIMEOUT_MS = 1_000;

let standin: NewsStandin;
let bot: TestBot;
const minutesAgo = (n: number) => new Date(bot.clock.now() - n * 60_000);

function useFeeds(paths: string[], timeoutMs = TIMEOUT_MS): RssNewsSource {
  const source = new RssNewsSource({ feeds: paths.map((p) => standin.url(p)), clock: bot.clock, logger: silentLogger, cacheMs: CACHE_MS, timeoutMs });
  bot.core.services.news = source;
  return source;
}

beforeEach(async () => {
  standin = await NewsStandin.start();
  bot = await makeTestBot();
});

afterEach(async () => {
  await standin.close();
  await bot.close();
});

describe('/news', () => {
  it('merges an RSS and an Atom feed, newest first, each item with title, source, age and link', async () => {
    standin.route('/rss', { body: rssFeed('Coin Daily', [
      { title: 'Bitcoin tops $90,000', link: 'https://coins.example/btc-90k', pubDate: minutesAgo(5), description: 'A rally.' },
      { title: 'Solana upgrade ships', link: 'https://coins.example/sol', pubDate: minutesAgo(180) },
    ]) });
    standin.route('/atom', { contentType: 'application/atom+xml', body: atomFeed('Chain Wire', [
      { title: 'Ethereum fees fall', link: 'https://wire.example/eth-fees', updated: minutesAgo(30), summary: 'Cheaper.' },
    ]) });
    useFeeds(['/rss', '/atom']);
    const text = await bot.say('guest_1', '/news');
    expect(text).toContain('Crypto news');
    expect(text).toContain('1. Bitcoin tops $90,000\n127.0.0.1/rss · 5 min ago\nhttps://coins.example/btc-90k');
    expect(text).toContain('2. Ethereum fees fall\n127.0.0.1/atom · 30 min ago\nhttps://wire.example/eth-fees');
    expect(text).toContain('3. Solana upgrade ships\n127.0.0.1/rss · 3 h ago\nhttps://coins.example/sol');
    expect(text).not.toMatch(/Not reachable/);
  });

  it('shows the latest 8', async () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ title: `Headline number ${i + 1}`, link: `https://coins.example/${i + 1}`, pubDate: minutesAgo(i + 1) }));
    standin.route('/rss', { body: rssFeed('Coin Daily', items) });
    useFeeds(['/rss']);
    const text = await bot.say('guest_1', '/news');
    expect(text).toContain('8. Headline number 8\n');
    expect(text).not.toContain('Headline number 9');
  });

  it('answers with the feeds that worked and names a broken and a slow one', async () => {
    standin.route('/good', { body: rssFeed('Good', [{ title: 'Markets calm', link: 'https://coins.example/calm', pubDate: minutesAgo(2) }]) });
    standin.route('/broken', { status: 500 });
    standin.route('/slow', { hold: true });
    useFeeds(['/good', '/broken', '/slow'], SLOW_TIMEOUT_MS);
    const text = await bot.say('guest_1', '/news');
    expect(text).toContain('1. Markets calm');
    expect(text).toContain('Not reachable just now: 127.0.0.1/broken, 127.0.0.1/slow.');
    expect(standin.count('/slow')).toBe(1);
  });

  it('says plainly when no feed answers, and tries again on the next /news', async () => {
    standin.route('/broken', { status: 500 });
    standin.route('/notafeed', { body: '<html><body>Hello</body></html>', contentType: 'text/html' });
    useFeeds(['/broken', '/notafeed']);
    const reply = await bot.send('guest_1', '/news');
    expect(reply.tone).toBe('warning');
    expect(reply.text).toBe('None of the news sources answered. Try again in a few minutes.');
    expect(reply.footer).toBe('Not reachable just now: 127.0.0.1/broken, 127.0.0.1/notafeed.');
    await bot.say('guest_1', '/news');
    expect(standin.count('/broken')).toBe(2);
  });

  it('shows a story once when feeds carry it under the same link or the same title', async () => {
    standin.route('/a', { body: rssFeed('A', [
      { title: 'SEC approves spot ETF', link: 'https://news.example/etf?utm_source=a', pubDate: minutesAgo(10) },
      { title: 'Whales move 10,000 BTC', link: 'https://a.example/whales', pubDate: minutesAgo(20) },
    ]) });
    standin.route('/b', { body: rssFeed('B', [
      { title: 'S.E.C. Approves Spot ETF!', link: 'https://b.example/other-address', pubDate: minutesAgo(12) },
      { title: 'Whales are moving', link: 'https://a.example/whales/', pubDate: minutesAgo(15) },
    ]) });
    useFeeds(['/a', '/b']);
    const text = await bot.say('guest_1', '/news');
    expect(text).toContain('1. SEC approves spot ETF\n127.0.0.1/a');
    // The same link with a trailing slash: the newer copy stays.
    expect(text).toContain('2. Whales are moving\n127.0.0.1/b');
    expect(text).not.toMatch(/S\.E\.C\.|Whales move 10,000/);
    expect(text).not.toContain('3.');
  });

  it('/news <coin> keeps headlines naming the coin or its symbol as a whole word', async () => {
    standin.route('/rss', { body: rssFeed('Coin Daily', [
      { title: 'BTC miners sell', link: 'https://coins.example/1', pubDate: minutesAgo(1) },
      { title: 'Markets today', link: 'https://coins.example/2', pubDate: minutesAgo(2), description: 'Bitcoin led the gains.' },
      { title: 'WBTCX token launches', link: 'https://coins.example/3', pubDate: minutesAgo(3) },
      { title: 'Ethereum news', link: 'https://coins.example/4', pubDate: minutesAgo(4) },
    ]) });
    useFeeds(['/rss']);
    const text = await bot.say('guest_1', '/news btc');
    expect(text).toContain('Bitcoin (BTC) news');
    expect(text).toContain('1. BTC miners sell');
    expect(text).toContain('2. Markets today');
    expect(text).not.toMatch(/WBTCX|Ethereum news/);
    // The same by id, and a coin nobody writes about says so.
    expect(await bot.say('guest_1', '/news bitcoin')).toContain('2. Markets today');
    expect(await bot.say('guest_1', '/news doge')).toContain('None of the latest 4 headlines mention Dogecoin (DOGE).');
    expect(await bot.say('guest_1', '/news nosuchcoin')).toMatch(/nosuchcoin/);
  });

  it('reads the feeds once per cache period, however often /news is asked', async () => {
    standin.route('/rss', { body: rssFeed('Coin Daily', [{ title: 'First story', link: 'https://coins.example/1', pubDate: minutesAgo(1) }]) });
    useFeeds(['/rss']);
    await Promise.all([bot.say('guest_1', '/news'), bot.say('guest_2', '/news')]);
    expect(standin.count('/rss')).toBe(1);
    standin.route('/rss', { body: rssFeed('Coin Daily', [{ title: 'Second story', link: 'https://coins.example/2', pubDate: minutesAgo(0) }]) });
    bot.clock.advance(CACHE_MS - 1);
    expect(await bot.say('guest_1', '/news btc')).toContain('None of the latest 1 headlines');
    expect(await bot.say('guest_1', '/news')).toContain('First story');
    expect(standin.count('/rss')).toBe(1);
    bot.clock.advance(1);
    expect(await bot.say('guest_1', '/news')).toContain('Second story');
    expect(standin.count('/rss')).toBe(2);
  });

  it('strips markup from feed titles and drops links that are not http', async () => {
    standin.route('/rss', { body: rssFeed('Evil', [
      { title: '<![CDATA[<script>alert(1)</script><b>Bitcoin</b> &lt;i&gt;soars&lt;/i&gt; &#8212; 5&#37;]]>', link: 'https://coins.example/1', pubDate: minutesAgo(1) },
      { title: 'Tap me', link: 'javascript:alert(1)', pubDate: minutesAgo(2) },
      { title: 'BTC &lt;3 whales &amp; 1 &lt; 2', link: 'https://coins.example/3', pubDate: minutesAgo(3) },
    ]) });
    useFeeds(['/rss']);
    const text = await bot.say('guest_1', '/news');
    expect(text).toContain('1. Bitcoin soars — 5%\n');
    expect(text).toContain('2. BTC <3 whales & 1 < 2\n');
    expect(text).not.toMatch(/script|alert|<b>|<i>|Tap me|javascript/);
  });

  it('keeps hostile headline text inert on Telegram, Discord and Slack', async () => {
    const hostile = 'BTC <3 whales & 1 < 2 *bold* _it_ <@U123> `code` ~x~';
    standin.route('/rss', { body: rssFeed('Evil', [{ title: hostile.replace(/&/g, '&amp;').replace(/</g, '&lt;'), link: 'https://coins.example/1', pubDate: minutesAgo(1) }]) });
    useFeeds(['/rss']);
    const reply = await bot.send('guest_1', '/news');
    expect(reply.text).toContain(hostile);

    const [chunk] = renderRichMessage(reply, { buttonData: () => 'c:x' });
    const html = chunk!.kind === 'text' ? chunk!.html : '';
    expect(html).toContain(escapeHtml(hostile));
    const parsed = parseTelegramHtml(html);
    expect(parsed.ok && parsed.text).toContain(hostile);

    const discord = renderDiscordMessage(reply, { buttonId: (_b, i) => `set0123456789abc.${i}`, ephemeral: false });
    expect(JSON.stringify(discord)).toContain(JSON.stringify(escapeMarkdown(hostile)).slice(1, -1));

    const slack = renderSlackMessage(reply, { actionId: (_b, i) => `cp:${i}` });
    const mrkdwn = slack.blocks.flatMap((b: any) => (b.text?.type === 'mrkdwn' ? [b.text.text as string] : [])).join('\n');
    expect(mrkdwn).toContain(escapeMrkdwn(hostile));
    expect(mrkdwn).not.toMatch(/<[@!]/);
  });

  it('says news is not set up when the bot has no feeds', async () => {
    expect(await bot.say('guest_1', '/news')).toBe('News is not set up on this bot.');
  });
});

describe('headline rules', () => {
  const item = (title: string, summary = ''): NewsItem => ({ title, summary, link: `https://x.example/${encodeURIComponent(title)}`, source: 's' });

  it('matches a coin by name or symbol as a whole word only', () => {
    const eth = { name: 'Ethereum', symbol: 'eth' };
    expect(mentions(item('ETH rallies'), eth)).toBe(true);
    expect(mentions(item("Ethereum's future"), eth)).toBe(true);
    expect(mentions(item('x', 'about eth.'), eth)).toBe(true);
    expect(mentions(item('Tether prints more'), eth)).toBe(false);
    expect(mentions(item('A new method'), eth)).toBe(false);
    expect(mentions(item('Shiba Inu burns'), { name: 'Shiba Inu', symbol: 'shib' })).toBe(true);
  });

  it('orders undated items last', () => {
    const merged = mergeHeadlines([[{ ...item('old'), publishedAt: 1 }, item('undated')], [{ ...item('new'), publishedAt: 2 }]]);
    expect(merged.map((i) => i.title)).toEqual(['new', 'old', 'undated']);
  });

  it('turns feed HTML into one line of plain text', () => {
    expect(plainText('<p>Hello&nbsp;<a href="x">world</a></p>\n<style>p{}</style>')).toBe('Hello world');
    expect(plainText('&lt;img src=x onerror=alert(1)&gt;Safe')).toBe('Safe');
    expect(plainText('1 < 2 &unknown; &#0;')).toBe('1 < 2 &unknown;');
    expect(plainText('x'.repeat(400))).toHaveLength(300);
  });

  it('labels sources by host, with the path when hosts repeat', () => {
    expect(sourceLabels(['https://www.coindesk.com/arc/outboundfeeds/rss/', 'https://decrypt.co/feed', 'https://decrypt.co/other'])).toEqual(['coindesk.com', 'decrypt.co/feed', 'decrypt.co/other']);
  });
});
