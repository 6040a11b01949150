/**
 * The whole-market overview /market adds under its movers: total market cap, BTC dominance, the
 * trending coins and the Fear & Greed index. Each comes from its own source and says
 * "unavailable right now" on its own when that source fails, so one slow upstream never costs the
 * reader the others.
 */
import { Dec, dec, formatPercent } from '../money';
import { formatPrice, type MoneyView } from '../format';
import type { Field } from '../messages';
import { MarketDataError, type FearGreedReading, type GlobalMarket, type Logger, type MarketData, type SentimentSource, type TrendingCoin } from '../ports';

export const UNAVAILABLE = 'unavailable right now';
export const NOT_SET_UP = 'not set up on this bot';

/** What a reader is told when market data could not be had, by MarketDataError kind. */
export function marketDataProblem(error: MarketDataError, what = 'that coin'): string {
  switch (error.kind) {
    case 'busy':
      return 'Market data is busy right now (the shared request budget is used up this minute); try again in a minute.';
    case 'not_found':
      return `The market data source has no price history for ${what}.`;
    default:
      return 'Market data is unavailable right now (the source did not answer); try again in a few minutes.';
  }
}

const SCALES: Array<[Dec, string]> = [
  [new Dec('1e12'), 'trillion'],
  [new Dec('1e9'), 'billion'],
  [new Dec('1e6'), 'million'],
];

/** A large amount the way people say it: "$3.12 trillion", in the reader's currency. */
export function formatLargeMoney(usd: Dec | string, view: MoneyView): string {
  const amount = dec(usd);
  const local = amount.mul(view.rate).abs();
  for (const [scale, word] of SCALES) {
    if (local.gte(scale)) return `${formatPrice(amount.div(scale), view)} ${word}`;
  }
  return formatPrice(amount, view);
}

/** A share of the market: "52.10%" (no sign: a share is never negative). */
export function formatShare(percent: string): string {
  return `${dec(percent).toFixed(2, Dec.ROUND_HALF_UP)}%`;
}

/** A settled source's value, or why there is none ("unavailable right now", "not set up"). */
type Outcome<T> = { ok: true; value: T } | { ok: false; why: string };

async function settle<T>(source: unknown, what: string, fetch: () => Promise<T>, logger?: Logger): Promise<Outcome<T>> {
  if (!source) return { ok: false, why: NOT_SET_UP };
  try {
    return { ok: true, value: await fetch() };
  } catch (error) {
    // The budget is a reason worth giving: it tells the reader a minute's wait is enough.
    if (error instanceof MarketDataError && error.kind === 'busy') return { ok: false, why: `${UNAVAILABLE} (busy: try again in a minute)` };
    // Anything else the port did not promise is a bug worth a log line, but still only this
    // part of the overview is lost, not the whole answer.
    if (!(error instanceof MarketDataError)) logger?.warn({ err: error, source: what }, 'market overview source failed unexpectedly');
    return { ok: false, why: UNAVAILABLE };
  }
}

export interface Overview {
  global: Outcome<GlobalMarket>;
  trending: Outcome<TrendingCoin[]>;
  fearGreed: Outcome<FearGreedReading | null>;
}

/** Fetches the three sources at once; none waits for another. */
export async function fetchOverview(market: MarketData | undefined, sentiment: SentimentSource | undefined, logger?: Logger): Promise<Overview> {
  const [global, trending, fearGreed] = await Promise.all([
    settle(market, 'global', () => market!.global(), logger),
    settle(market, 'trending', () => market!.trending(), logger),
    settle(sentiment, 'fear-greed', () => sentiment!.fearGreed(), logger),
  ]);
  return { global, trending, fearGreed };
}

export const TRENDING_SHOWN = 7;

/** The overview as fields: each says on its own when its source had nothing. */
export function overviewFields(overview: Overview, view: MoneyView): Field[] {
  const { global, trending, fearGreed } = overview;
  const share = (symbol: string) => {
    if (!global.ok) return global.why;
    const value = global.value.marketCapShare[symbol];
    return value === undefined ? 'not in the top list' : formatShare(value);
  };
  const change = global.ok && global.value.marketCapChange24hPercent !== null ? formatPercent(dec(global.value.marketCapChange24hPercent)) : null;
  const fields: Field[] = [
    { label: 'Total market cap', value: global.ok ? formatLargeMoney(global.value.totalMarketCap, view) : global.why },
    { label: 'Market cap 24h', value: global.ok ? change ?? 'not known' : global.why },
    { label: 'BTC dominance', value: share('btc') },
    { label: 'ETH share', value: share('eth') },
    {
      label: 'Trending',
      value: !trending.ok ? trending.why : trending.value.length ? trending.value.slice(0, TRENDING_SHOWN).map((c) => c.name).join(', ') : 'nothing trending',
    },
    { label: 'Fear & Greed', value: fearGreedText(fearGreed) },
  ];
  return fields;
}

function fearGreedText(outcome: Outcome<FearGreedReading | null>): string {
  if (!outcome.ok) return outcome.why;
  // The source never rejects: null is its way of saying it had nothing this time.
  if (!outcome.value) return UNAVAILABLE;
  return `${outcome.value.value} (${outcome.value.classification})`;
}

/** A note for the footer when the overview's figures are made up by the simulated feed. */
export function overviewSimulatedNote(overview: Overview): string | undefined {
  return overview.global.ok && overview.global.value.simulated ? 'Market-wide figures are simulated, not market data.' : undefined;
}
