/**
 * /chart <coin> [range]: the chart QuickChart is asked to draw (prices in the caller's currency,
 * labels in their time zone, the title naming the coin and range), the GET and POST paths against
 * a loopback QuickChart stand-in, what the user reads when QuickChart or the market data fail,
 * and the image delivered through each platform's stand-in (Telegram, Discord, Slack, terminal).
 * Market data is a small fake here (the real one is tested on its own).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleChat } from '../adapters/console/console-chat';
import { createDiscordBot, type DiscordBot } from '../adapters/discord/bot';
import { createSlackBot, type SlackBot } from '../adapters/slack/bot';
import { createTelegramBot, type TelegramBot } from '../adapters/telegram/bot';
import { renderPlainText } from '../core/messages';
import { MarketDataError, type ChartRange, type Logger, type MarketChart, type MarketData, type PricePoint } from '../core/ports';
import { MAX_GET_URL, QuickChartRenderer } from '../infra/charts/quickchart-renderer';
import { startDiscordStandin } from './support/discord-standin';
import { makeTestBot, type TestBot } from './support/harness';
import { QuickChartStandin, TINY_PNG } from './support/quickchart-standin';
import { startSlackStandin, textOf } from './support/slack-standin';
import { startTelegramStandin } from './support/telegram-standin';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The harness clock's start: 2026-11-25 12:00 UTC. */
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
/** Eight daily prices in USD, 02:00 UTC from 18 to 25 November: in New York (UTC-5) each is the
 *  evening before, so labels in the wrong zone would be a day off. */
const WEEK_USD = ['50000', '52000', '49000', '51000', '55000', '58000', '56000', '57000'];
const WEEK: PricePoint[] = WEEK_USD.map((price, i) => ({ at: Date.UTC(2026, 10, 18 + i, 2, 0, 0), price }));

const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** Market data from a table the test fills; records what it was asked for. */
class FakeMarket implements MarketData {
  readonly simulated = false;
  readonly calls: Array<[string, ChartRange]> = [];
  readonly series = new Map<string, PricePoint[]>();
  failure?: MarketDataError;

  async chart(coinId: string, range: ChartRange): Promise<MarketChart> {
    this.calls.push([coinId, range]);
    if (this.failure) throw this.failure;
    return { coinId, range, points: this.series.get(`${coinId}:${range}`) ?? [], simulated: false };
  }
  async global(): Promise<never> {
    throw new MarketDataError('unavailable', 'not used here');
  }
  async trending() {
    return [];
  }
}

let qc: QuickChartStandin;
let market: FakeMarket;
let bot: TestBot;

async function chartBot(options: { withMarket?: boolean } = {}): Promise<TestBot> {
  const made: { bot?: TestBot } = {};
  const charts = new QuickChartRenderer({ baseUrl: qc.url, timeoutMs: 2_000, now: () => made.bot!.clock.now() });
  made.bot = await makeTestBot({ services: { charts, ...(options.withMarket !== false && { market }) } });
  return made.bot;
}

beforeEach(async () => {
  qc = await QuickChartStandin.start();
  market = new FakeMarket();
  market.series.set('bitcoin:7d', WEEK);
});

afterEach(async () => {
  await bot?.close();
  await qc.close();
});

describe('/chart', () => {
  beforeEach(async () => {
    bot = await chartBot();
    expect(bot.clock.now()).toBe(NOW);
    await bot.signup('ann');
  });

  it('asks QuickChart for the coin\'s prices in the caller\'s currency, dated in their time zone', async () => {
    await bot.say('ann', '/settings currency eur');
    await bot.say('ann', '/settings timezone America/New_York');
    const reply = await bot.send('ann', '/chart btc 7d');
    expect(market.calls).toEqual([['bitcoin', '7d']]);
    expect(reply.title).toBe('Bitcoin (BTC), 7 days');
    // Short enough for a GET URL: the reply's image is QuickChart's /chart address itself.
    expect(reply.imageUrl!.startsWith(`${qc.url}/chart?c=`)).toBe(true);
    expect(reply.imageUrl!.length).toBeLessThanOrEqual(MAX_GET_URL);
    expect(qc.count('POST', '/chart/create')).toBe(0);

    const config = qc.configs.at(-1)!;
    expect(config.type).toBe('line');
    expect(config.options.title.text).toBe('Bitcoin (BTC), 7 days');
    expect(config.data.labels).toEqual(['17 Nov', '18 Nov', '19 Nov', '20 Nov', '21 Nov', '22 Nov', '23 Nov', '24 Nov']);
    expect(config.data.datasets).toHaveLength(1);
    expect(config.data.datasets[0].label).toBe('BTC');
    // USD at the harness's 0.86 EUR per USD, worked out by hand.
    expect(config.data.datasets[0].data).toEqual([43000, 44720, 42140, 43860, 47300, 49880, 48160, 49020]);
    expect(config.options.scales.yAxes[0].scaleLabel.labelString).toBe('EUR');

    const text = renderPlainText(reply);
    expect(text).toContain('First:  €43,000.00 (2026-11-17 21:00 UTC-5)');
    expect(text).toContain('Last:   €49,020.00 (2026-11-24 21:00 UTC-5)');
    expect(text).toContain('Change: +14.00%');
    expect(text).toContain('High:   €49,880.00');
    expect(text).toContain('Low:    €42,140.00');
    expect(reply.trend).toBe('up');
    expect(reply.buttons).toEqual([{ label: 'Refresh', command: '/chart price bitcoin 7d', kind: 'refresh' }]);
  });

  it('labels a day\'s chart with the hours, and defaults to 7 days', async () => {
    market.series.set('ethereum:1d', Array.from({ length: 25 }, (_, i) => ({ at: NOW - DAY + i * HOUR, price: String(3000 + i) })));
    await bot.say('ann', '/settings timezone America/New_York');
    const reply = await bot.send('ann', '/chart eth 1d');
    expect(reply.title).toBe('Ethereum (ETH), 24 hours');
    const config = qc.configs.at(-1)!;
    expect(config.data.labels.slice(0, 3)).toEqual(['07:00', '08:00', '09:00']);
    expect(config.data.labels.at(-1)).toBe('07:00');
    expect(config.data.datasets[0].data.slice(0, 2)).toEqual([3000, 3001]);
    expect(config.options.scales.yAxes[0].scaleLabel.labelString).toBe('USD');

    await bot.send('ann', '/chart btc');
    expect(market.calls.at(-1)).toEqual(['bitcoin', '7d']);
  });

  it('creates a chart too long for a GET URL by POST and sends its short URL, which serves a PNG', async () => {
    // A year of daily prices with many digits: thinned to 120 points, still far over 2000 characters.
    market.series.set('bitcoin:1y', Array.from({ length: 365 }, (_, i) => ({ at: NOW - (364 - i) * DAY, price: (40000 + i * 37.123457).toFixed(6) })));
    const reply = await bot.send('ann', '/chart btc 1y');
    expect(qc.count('POST', '/chart/create')).toBe(1);
    expect(qc.requests.filter((r) => r.path === '/chart')).toEqual([]); // never the long GET URL
    expect(reply.imageUrl).toMatch(new RegExp(`^${qc.url}/chart/render/zf-\\d+$`));
    const config = qc.configs.at(-1)!;
    expect(config.options.title.text).toBe('Bitcoin (BTC), 1 year');
    expect(config.data.labels).toHaveLength(120);
    expect(config.data.labels[0]).toBe('26 Nov'); // 2025: a year back
    expect(config.data.labels.at(-1)).toBe('25 Nov');
    expect(config.data.datasets[0].data[0]).toBe(40000);
    expect(config.data.datasets[0].data.at(-1)).toBe(53512.938); // 40000 + 364 × 37.123457 = 53512.938348, to 8 digits
    // The renderer checked the short URL before answering; the platforms get the same PNG.
    expect(qc.count('GET', '/chart/render')).toBe(1);
    const image = await fetch(reply.imageUrl!);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(TINY_PNG)).toBe(true);
  });

  it('reuses a drawn chart for a while instead of asking QuickChart again', async () => {
    const first = await bot.send('ann', '/chart btc 7d');
    const requests = qc.requests.length;
    const again = await bot.send('ann', '/chart btc 7d');
    expect(again.imageUrl).toBe(first.imageUrl);
    expect(qc.requests.length).toBe(requests);
    bot.clock.advance(11 * 60_000);
    await bot.send('ann', '/chart btc 7d');
    expect(qc.requests.length).toBe(requests + 1);
  });

  it('says when QuickChart cannot be reached, and gives the numbers instead', async () => {
    qc.mode = 'down';
    const reply = await bot.send('ann', '/chart btc 7d');
    expect(reply.tone).toBe('warning');
    expect(reply.imageUrl).toBeUndefined();
    const text = renderPlainText(reply);
    expect(text).toContain('Charts are unavailable right now (QuickChart did not answer); the numbers:');
    expect(text).toContain('First:  $50,000.00');
    expect(text).toContain('Last:   $57,000.00');
    expect(text).toContain('Change: +14.00%');
    expect(text).toContain('High:   $58,000.00');
    expect(text).toContain('Low:    $49,000.00');

    qc.mode = 'error';
    expect(await bot.say('ann', '/chart btc 7d')).toContain('Charts are unavailable right now (QuickChart answered 500); the numbers:');
    qc.mode = 'ok';
    expect((await bot.send('ann', '/chart btc 7d')).imageUrl).toBeDefined();
  });

  it('answers bad input and missing market data plainly', async () => {
    expect(await bot.say('ann', '/chart btc 2w')).toContain('The range is one of 1d, 7d, 30d, 90d or 1y (7d unless you say).');
    expect(await bot.say('ann', '/chart nosuchcoin')).toMatch(/nosuchcoin/);
    expect(market.calls).toEqual([]);
    expect(await bot.say('ann', '/chart sol 30d')).toContain('There is no price history for Solana over the last 30 days yet.');
    market.failure = new MarketDataError('busy', 'budget');
    expect(await bot.say('ann', '/chart btc')).toContain('Many charts are being asked for right now: try again in a minute.');
    market.failure = new MarketDataError('unavailable', '503');
    expect(await bot.say('ann', '/chart btc')).toContain('Price history is unavailable right now (CoinGecko did not answer)');
    market.failure = new MarketDataError('not_found', '404');
    expect(await bot.say('ann', '/chart btc')).toContain('CoinGecko has no price history for Bitcoin (bitcoin).');
    expect(qc.requests).toEqual([]);
  });

  it('is for accounts: a guest is told to sign up', async () => {
    expect(await bot.say('guest_1', '/chart btc')).toMatch(/You need an account for/);
  });
});

describe('/chart without market data', () => {
  it('says the bot is not set up for it', async () => {
    bot = await chartBot({ withMarket: false });
    await bot.signup('ann');
    expect(await bot.say('ann', '/chart btc')).toBe('Charts need market data, which this bot is not set up for.');
  });
});

describe('chart images on every platform', () => {
  beforeEach(async () => {
    bot = await chartBot();
  });

  it('Telegram: a photo by the chart\'s URL', async () => {
    const standin = await startTelegramStandin({ botUsername: 'CryptoPulseTestBot', now: () => bot.clock.now() });
    const tg: TelegramBot = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: bot.core, logger: silent });
    try {
      await tg.start();
      const ann = standin.user(1001, 'Ann', 'ann_t');
      const say = async (text: string) => {
        const before = standin.botMessages(ann.id).length;
        await standin.send(ann, text);
        return standin.waitFor(() => standin.botMessages(ann.id)[before]);
      };
      expect((await say('/signup ann ann@example.com')).text).toContain('Welcome, ann!');
      const chart = await say('/chart btc 7d');
      expect(chart.photo).toMatch(new RegExp(`^${qc.url}/chart\\?c=`));
      expect(chart.text).toContain('Bitcoin (BTC), 7 days');
      expect(chart.text).toContain('High: $58,000.00');
      expect(chart.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(['Refresh']);
      expect((await fetch(chart.photo!)).headers.get('content-type')).toBe('image/png');
    } finally {
      await tg.stop();
      await standin.close();
    }
  });

  it('Discord: the embed\'s image', async () => {
    const standin = await startDiscordStandin({ now: () => bot.clock.now(), heartbeatIntervalMs: 60_000 });
    const ann = standin.user({ username: 'ann' });
    const guild = standin.guild({ name: 'Traders', channels: ['general'], members: [ann] });
    const discord: DiscordBot = createDiscordBot({
      token: standin.token, applicationId: standin.applicationId, apiUrl: standin.api, core: bot.core, logger: silent,
      tuning: { restOffsetMs: 0, identifyThrottle: false },
    });
    const answer = async (name: string, options: Record<string, string>) => {
      const interaction = await standin.slash(ann, guild, name, options);
      return standin.waitFor(() => {
        const original = standin.original(interaction);
        return original && !original.loading && (original.embeds.length || original.content) ? original : undefined;
      });
    };
    try {
      await discord.start();
      expect(standin.textOf(await answer('signup', { username: 'ann', email: 'ann@example.com' }))).toContain('Welcome, ann!');
      const chart = await answer('chart price', { coin: 'btc', range: '7d' });
      expect(chart.embeds[0]!.title).toBe('Bitcoin (BTC), 7 days');
      expect(chart.embeds[0]!.image?.url).toMatch(new RegExp(`^${qc.url}/chart\\?c=`));
      expect(standin.textOf(chart)).toContain('$58,000.00');
    } finally {
      await discord.stop();
      await standin.close();
    }
  });

  it('Slack: an image block', async () => {
    const standin = await startSlackStandin();
    standin.user('U0ANN', 'ann');
    standin.channel('C0GENERAL', 'general');
    const slack: SlackBot = createSlackBot({
      botToken: standin.botToken, signingSecret: standin.signingSecret, apiUrl: standin.apiUrl,
      port: 0, host: '127.0.0.1', core: bot.core, logger: silent,
    });
    const pulse = async (text: string) => {
      const result = await standin.slashCommand('U0ANN', 'C0GENERAL', '/pulse', text);
      const post = await standin.waitFor(() => standin.responsesOf(result.invocation)[0]);
      return post.body as Record<string, any>;
    };
    try {
      await slack.start();
      standin.requestUrl = `${slack.url()}/slack/events`;
      expect(textOf(await pulse('signup ann ann@example.com'))).toContain('Welcome, ann!');
      const chart = await pulse('chart btc 30d');
      expect(market.calls.at(-1)).toEqual(['bitcoin', '30d']);
      // No 30-day series in the fake: a plain answer, no image.
      expect(textOf(chart)).toContain('There is no price history for Bitcoin over the last 30 days yet.');
      const week = await pulse('chart btc 7d');
      const image = (week.blocks as Array<Record<string, any>>).find((b) => b.type === 'image');
      expect(image?.image_url).toMatch(new RegExp(`^${qc.url}/chart\\?c=`));
      expect(image?.alt_text).toBeTruthy();
      expect(textOf(week)).toContain('$58,000.00');
    } finally {
      await slack.stop();
      await standin.close();
    }
  });

  it('terminal: the PNG saved to a file, and its path printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-charts-'));
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk) => (printed += chunk));
    const imageDir = join(dir, 'charts');
    const chat = createConsoleChat({ dispatcher: bot.core.dispatcher, input, output, user: 'ann', sessionId: 't', interactive: false, imageDir });
    try {
      await chat.start();
      input.end('/signup ann ann@example.com\n/chart btc 7d\n');
      await chat.ended;
      const saved = /Chart saved: (\S+\.png)/.exec(printed)?.[1];
      expect(saved, printed).toBeDefined();
      expect(saved!.startsWith(imageDir)).toBe(true);
      expect(readFileSync(saved!).equals(TINY_PNG)).toBe(true);
      expect(printed).toContain('Bitcoin (BTC), 7 days');
      expect(printed).not.toContain(`${qc.url}/chart?c=`);

      // QuickChart gone after drawing: the link is printed, with why the file is missing.
      const url = `${qc.url}/chart/render/zf-404`;
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk) => (text += chunk));
      const other = createConsoleChat({ dispatcher: bot.core.dispatcher, input: new PassThrough(), output: out, user: 'ann', sessionId: 'u', interactive: false, imageDir });
      await other.deliverToUser({ key: 'console:ann', platform: 'console', username: 'ann', linkedAt: 0 }, { tone: 'info', text: 'chart', imageUrl: url });
      expect(text).toContain(url);
      expect(text).toContain('(The chart could not be saved: the image server answered 404.)');
      expect(readdirSync(imageDir)).toEqual([basename(saved!)]); // nothing written for it
    } finally {
      await chat.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
