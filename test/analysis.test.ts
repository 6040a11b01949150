/**
 * /analysis and /market as an analyst reads them, over fake market data, chart and sentiment
 * sources: the numbers, the chart's three lines, and each source failing on its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_COINS } from '../core/coins';
import {
  ChartUnavailableError, MarketDataError,
  type ChartRange, type ChartRenderer, type ChartSpec, type FearGreedReading, type GlobalMarket, type MarketChart, type MarketData, type SentimentSource, type TrendingCoin,
} from '../core/ports';
import { makeTestBot, type TestBot } from './support/harness';

const DAY = 86_400_000;
const FIRST_DAY = Date.UTC(2026, 7, 27); // 90 days before 25 Nov 2026, the harness clock's day

/** 91 days, closing at 100, 101, ... 190 (two points a day: the noon one is the close). */
function risingChart(coinId: string): MarketChart {
  const points = Array.from({ length: 91 }, (_, i) => [
    { at: FIRST_DAY + i * DAY, price: String(100 + i - 0.5) },
    { at: FIRST_DAY + i * DAY + DAY / 2, price: String(100 + i) },
  ]).flat();
  return { coinId, range: '90d', points, simulated: false };
}

class FakeMarket implements MarketData {
  readonly simulated = false;
  charts: Array<[string, ChartRange]> = [];
  chartResult: MarketChart | MarketDataError | ((coinId: string) => MarketChart) = risingChart;
  globalResult: GlobalMarket | MarketDataError = {
    totalMarketCap: '3120000000000', totalVolume24h: '98000000000', marketCapChange24hPercent: '-1.234',
    marketCapShare: { btc: '52.1', eth: '17.345', sol: '2.5' }, simulated: false,
  };
  trendingResult: TrendingCoin[] | MarketDataError = ['Pepe', 'Bonk', 'Sui', 'Kaspa', 'Toncoin', 'Pyth', 'Jupiter', 'Ondo']
    .map((name, i) => ({ id: name.toLowerCase(), symbol: name.slice(0, 3).toLowerCase(), name, marketCapRank: i + 10 }));

  async chart(coinId: string, range: ChartRange): Promise<MarketChart> {
    this.charts.push([coinId, range]);
    const r = this.chartResult;
    if (r instanceof MarketDataError) throw r;
    return typeof r === 'function' ? r(coinId) : r;
  }
  async global(): Promise<GlobalMarket> {
    if (this.globalResult instanceof MarketDataError) throw this.globalResult;
    return this.globalResult;
  }
  async trending(): Promise<TrendingCoin[]> {
    if (this.trendingResult instanceof MarketDataError) throw this.trendingResult;
    return this.trendingResult;
  }
}

class FakeCharts implements ChartRenderer {
  specs: ChartSpec[] = [];
  down = false;
  async render(spec: ChartSpec): Promise<{ url: string }> {
    if (this.down) throw new ChartUnavailableError('connect ECONNREFUSED');
    this.specs.push(spec);
    return { url: `https://charts.example/${this.specs.length}.png` };
  }
}

class FakeSentiment implements SentimentSource {
  reading: FearGreedReading | null = { value: 54, classification: 'Neutral', at: Date.UTC(2026, 10, 25) };
  async fearGreed(): Promise<FearGreedReading | null> {
    return this.reading;
  }
}

let bot: TestBot;
let market: FakeMarket;
let charts: FakeCharts;
let sentiment: FakeSentiment;

beforeEach(async () => {
  market = new FakeMarket();
  charts = new FakeCharts();
  sentiment = new FakeSentiment();
  bot = await makeTestBot({ services: { market, charts, sentiment } });
  await bot.staff('ana', 'analyst');
});
afterEach(() => bot.close());

describe('/analysis <coin>', () => {
  it('shows price against both averages, RSI, volatility, changes and market-cap share, from 90 days of history', async () => {
    const text = await bot.say('ana', '/analysis btc');
    expect(market.charts).toEqual([['bitcoin', '90d']]);
    expect(text).toMatch(/^Bitcoin \(BTC\) analysis/);
    expect(text).toContain('over the last 91 days');
    expect(text).toMatch(/Price:\s+\$190\.00/);
    // Last 7 closes 184..190: 187; 190 / 187 - 1 = 1.604%.
    expect(text).toMatch(/7-day average:\s+\$187\.00 \(price 1\.60% above\)/);
    // Last 30 closes 161..190: (161 + 190) / 2 = 175.5; 190 / 175.5 - 1 = 8.262%.
    expect(text).toMatch(/30-day average:\s+\$175\.50 \(price 8\.26% above\)/);
    // Every day rose: no losses, so RSI 100.
    expect(text).toMatch(/RSI \(14\):\s+100\.0 \(overbought\)/);
    // Returns 100 x (1/160, 1/161, ... 1/189): worked out the long way here.
    const returns = Array.from({ length: 30 }, (_, i) => 100 / (160 + i));
    const mean = returns.reduce((a, b) => a + b) / 30;
    const daily = Math.sqrt(returns.reduce((s, r) => s + (r - mean) ** 2, 0) / 29);
    expect(daily.toFixed(2)).toBe('0.03');
    expect(text).toMatch(new RegExp(`Volatility \\(30 d\\):\\s+${daily.toFixed(2)}% a day, ${(daily * Math.sqrt(365)).toFixed(1)}% a year`));
    // 190 / 183 - 1 = +3.83%; 190 / 160 - 1 = +18.75%.
    expect(text).toMatch(/7-day change:\s+\+3\.83%/);
    expect(text).toMatch(/30-day change:\s+\+18\.75%/);
    expect(text).toMatch(/Market-cap share:\s+52\.10%/);
    expect(text).toContain('https://charts.example/1.png');
  });

  it('draws the price and both averages as three lines over the days all three exist', async () => {
    const reply = await bot.send('ana', '/analysis btc');
    expect(reply.imageUrl).toBe('https://charts.example/1.png');
    const [spec] = charts.specs;
    expect(spec!.series.map((s) => s.label)).toEqual(['Price', '7-day average', '30-day average']);
    // Day 29 (25 Sep, the first with 30 closes) to day 90 (25 Nov): 62 points.
    expect(spec!.labels).toHaveLength(62);
    expect([spec!.labels[0], spec!.labels.at(-1)]).toEqual(['25 Sep', '25 Nov']);
    for (const s of spec!.series) expect(s.values).toHaveLength(62);
    // First point: price 129, 7-day (123..129) 126, 30-day (100..129) 114.5. Last: 190, 187, 175.5.
    expect(spec!.series.map((s) => [s.values[0], s.values.at(-1)])).toEqual([[129, 190], [126, 187], [114.5, 175.5]]);
    expect(spec!.yLabel).toBe('USD');
  });

  it('reads a falling coin as oversold and below its averages; a coin outside the top list says so', async () => {
    market.chartResult = (coinId) => ({ ...risingChart(coinId), points: risingChart(coinId).points.map((p) => ({ ...p, price: String(290 - Number(p.price)) })) });
    const text = await bot.say('ana', '/analysis doge');
    // Closes 190 down to 100: last 7 average 103, 100 / 103 - 1 = -2.91%.
    expect(text).toMatch(/7-day average:\s+\$103\.00 \(price 2\.91% below\)/);
    expect(text).toMatch(/RSI \(14\):\s+0\.0 \(oversold\)/);
    expect(text).toMatch(/Market-cap share:\s+not in the top list/);
  });

  it('gives the numbers with a note when the chart service is down', async () => {
    charts.down = true;
    const reply = await bot.send('ana', '/analysis btc');
    expect(reply.imageUrl).toBeUndefined();
    const text = await bot.say('ana', '/analysis btc');
    expect(text).toMatch(/30-day average:\s+\$175\.50/);
    expect(text).toContain('The chart could not be drawn right now (the chart service did not answer): the numbers only.');
  });

  it('says the market data is busy when the shared request budget is used up', async () => {
    market.chartResult = new MarketDataError('busy', 'budget');
    const reply = await bot.send('ana', '/analysis eth');
    expect(reply.tone).toBe('warning');
    expect(reply.text).toBe('Market data is busy right now (the shared request budget is used up this minute); try again in a minute.');
    expect(charts.specs).toEqual([]);
  });

  it('says so when the source does not know the coin, or fails', async () => {
    market.chartResult = new MarketDataError('not_found', 'no such coin');
    expect(await bot.say('ana', '/analysis sol')).toBe('The market data source has no price history for Solana.');
    market.chartResult = new MarketDataError('unavailable', '503');
    expect(await bot.say('ana', '/analysis sol')).toMatch(/^Market data is unavailable right now/);
  });

  it('keeps the numbers when only the market-cap shares fail', async () => {
    market.globalResult = new MarketDataError('unavailable', '503');
    const text = await bot.say('ana', '/analysis btc');
    expect(text).toMatch(/Market-cap share:\s+unavailable right now/);
    expect(text).toMatch(/7-day average:\s+\$187\.00/);
  });

  it('refuses a mistyped coin without asking the market', async () => {
    expect(await bot.say('ana', '/analysis notacoin')).toMatch(/notacoin/);
    expect(market.charts).toEqual([]);
  });
});

describe('/analysis without a coin', () => {
  it('lists the top gainers and the top losers, worst first, each with its market-cap share', async () => {
    for (const coin of DEFAULT_COINS) bot.feed.set(coin.id, coin.referencePriceUsd, '0');
    bot.feed.set('solana', '140', '12.5').set('bitcoin', '87000', '2').set('dogecoin', '0.15', '-8.25').set('ethereum', '2900', '-1');
    const reply = await bot.send('ana', '/analysis');
    expect(reply.text).toBe(`2 of ${DEFAULT_COINS.length} tracked coins are up over 24 h and 2 down; the biggest moves each way:`);
    expect(reply.table!.rows).toEqual([
      ['Gainer', 'SOL Solana', '$140.00', '+12.50%', '2.50%'],
      ['Gainer', 'BTC Bitcoin', '$87,000.00', '+2.00%', '52.10%'],
      ['Loser', 'DOGE Dogecoin', '$0.1500', '-8.25%', 'not in the top list'],
      ['Loser', 'ETH Ethereum', '$2,900.00', '-1.00%', '17.35%'],
    ]);
    // No per-coin history is fetched for the table: the request budget is shared.
    expect(market.charts).toEqual([]);
  });

  it('without market-cap shares, says so once in the footer', async () => {
    market.globalResult = new MarketDataError('busy', 'budget');
    bot.feed.set('solana', '140', '12.5');
    const reply = await bot.send('ana', '/analysis');
    expect(reply.table!.rows[0]).toEqual(['Gainer', 'SOL Solana', '$140.00', '+12.50%', '-']);
    expect(reply.footer).toMatch(/^Market-cap shares: unavailable right now\./);
  });

  it('keeps at most five of each', async () => {
    DEFAULT_COINS.forEach((coin, i) => bot.feed.set(coin.id, coin.referencePriceUsd, String(i % 2 ? i : -i - 1)));
    const reply = await bot.send('ana', '/analysis');
    expect(reply.table!.rows.filter((r) => r[0] === 'Gainer')).toHaveLength(Math.min(5, Math.floor(DEFAULT_COINS.length / 2)));
    expect(reply.table!.rows.filter((r) => r[0] === 'Loser')).toHaveLength(5);
  });
});

describe('/market', () => {
  it('adds the whole-market overview, trending coins and Fear & Greed to the movers', async () => {
    bot.feed.set('solana', '140', '12.5');
    const reply = await bot.send('ana', '/market');
    expect(reply.table!.rows[0]).toEqual(['SOL', 'Solana', '$140.00', '+12.50%']);
    expect(reply.fields).toEqual([
      { label: 'Total market cap', value: '$3.12 trillion' },
      { label: 'Market cap 24h', value: '-1.23%' },
      { label: 'BTC dominance', value: '52.10%' },
      { label: 'ETH share', value: '17.35%' },
      // Top 7 of the 8 trending: Ondo is left out.
      { label: 'Trending', value: 'Pepe, Bonk, Sui, Kaspa, Toncoin, Pyth, Jupiter' },
      { label: 'Fear & Greed', value: '54 (Neutral)' },
    ]);
  });

  it('shows the market cap in the caller\'s currency', async () => {
    bot.feed.rates = { ...bot.feed.rates, eur: '0.5' };
    await bot.say('ana', '/settings currency eur');
    const reply = await bot.send('ana', '/market');
    expect(reply.fields![0]).toEqual({ label: 'Total market cap', value: '€1.56 trillion' });
  });

  it('says each part is unavailable on its own when its source fails', async () => {
    sentiment.reading = null;
    market.globalResult = new MarketDataError('unavailable', '503');
    const text = await bot.say('ana', '/market');
    expect(text).toMatch(/Fear & Greed:\s+unavailable right now/);
    expect(text).toMatch(/Total market cap:\s+unavailable right now/);
    expect(text).toMatch(/BTC dominance:\s+unavailable right now/);
    expect(text).toMatch(/Trending:\s+Pepe, Bonk/);
    market.trendingResult = new MarketDataError('busy', 'budget');
    expect(await bot.say('ana', '/market')).toMatch(/Trending:\s+unavailable right now \(busy: try again in a minute\)/);
  });

  it('loses only the Fear & Greed line when the sentiment source breaks its promise and throws', async () => {
    sentiment.fearGreed = async () => { throw new TypeError('fetch failed'); };
    const text = await bot.say('ana', '/market');
    expect(text).toMatch(/Fear & Greed:\s+unavailable right now/);
    expect(text).toMatch(/BTC dominance:\s+52\.10%/);
  });
});

describe('without market services, and for other roles', () => {
  it('says plainly what is not set up', async () => {
    const bare = await makeTestBot();
    await bare.staff('ana', 'analyst');
    expect(await bare.say('ana', '/analysis btc')).toBe('Market analysis needs price history, and market data is not set up on this bot.');
    const text = await bare.say('ana', '/market');
    expect(text).toMatch(/Total market cap:\s+not set up on this bot/);
    expect(text).toMatch(/Fear & Greed:\s+not set up on this bot/);
    expect(await bare.say('ana', '/analysis')).toMatch(/Market analysis \(24 h\)/);
    await bare.close();
  });

  it('refuses a user who is not an analyst', async () => {
    await bot.signup('ann');
    expect(await bot.say('ann', '/analysis btc')).toMatch(/may not run/);
    expect(market.charts).toEqual([]);
  });
});
