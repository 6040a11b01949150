/**
 * The composition root: turns configuration into implementations of the core's ports, and the
 * core built on them. main.ts and the command-line scripts share it.
 */
import { join } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { createCore, type Core } from '../core/app';
import type { MarketData, Metrics, Notifier, PriceFeed, Store } from '../core/ports';
import { DynamoDbStore } from '../infra/dynamodb/dynamodb-store';
import { CoinGeckoClient } from '../infra/prices/coingecko-client';
import { CoinGeckoFeed, probeCoinGecko } from '../infra/prices/coingecko-feed';
import { SimulatedFeed } from '../infra/prices/simulated-feed';
import { StoreRequestBudget } from '../infra/prices/request-budget';
import { CoinGeckoMarketData } from '../infra/market/coingecko-market-data';
import { SimulatedMarketData } from '../infra/market/simulated-market-data';
import { FearGreedSource } from '../infra/market/fear-greed';
import { ExchangeClient } from '../infra/prices/exchange-client';
import { FailoverFeed } from '../infra/prices/failover-feed';
import { DEFAULT_COINS } from '../core/coins';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { RssNewsSource } from '../infra/news/rss-news-source';
import { QuickChartRenderer } from '../infra/charts/quickchart-renderer';
import { disabledNotifier } from '../infra/support/disabled-notifier';
import { createSnsNotifier } from '../infra/email/sns-notifier';
import { BcryptPasswords, systemClock, uuidIds } from '../infra/support/system';
import type { Config } from './config';
import { ConfigError } from './config';

export async function openStore(config: Config): Promise<Store> {
  if (config.STORE === 'sqlite') return SqliteStore.open({ file: join(config.DATA_DIR, 'cryptopulse.sqlite') });
  // Credentials come from the standard AWS chain (the instance role in production).
  const store = DynamoDbStore.open({
    region: config.AWS_REGION,
    endpoint: config.DYNAMODB_ENDPOINT,
    tablePrefix: config.TABLE_PREFIX,
    activityRetentionDays: config.ACTIVITY_RETENTION_DAYS,
  });
  // Fail at start with the fix, not at the first command with a ResourceNotFoundException.
  const missing = await store.missingTables();
  if (missing.length) {
    await store.close();
    throw new ConfigError(`DynamoDB tables missing: ${missing.join(', ')}. Create them with \`npm run db:create\` (same TABLE_PREFIX, AWS_REGION and DYNAMODB_ENDPOINT).`);
  }
  return store;
}

/** A running price feed: live CoinGecko, or the simulated walk (chosen, or when CoinGecko is unreachable). */
export interface RunningFeed {
  feed: PriceFeed;
  /** Charts, the global market and trending coins from the same source (and request budget). */
  market: MarketData;
  stop(): Promise<void>;
}

/** Start-up waits at most this long for the first prices. */
const STARTUP_WAIT_MS = 3_000;

/** Resolves when `work` settles or after `ms`, whichever comes first; never rejects. */
function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(() => resolve(), () => resolve()).finally(() => clearTimeout(timer));
  });
}

/** CoinGecko with Binance's public ticker standing in while it fails (README: price failover). */
function withFailover(primary: CoinGeckoFeed, baseUrl: string, logger: PinoLogger): FailoverFeed {
  const exchange = new ExchangeClient({ baseUrl, logger, clock: systemClock });
  const defaults = new Map(DEFAULT_COINS.map((c) => [c.id, c.symbol]));
  return new FailoverFeed({
    primary,
    fallback: exchange,
    // The default coins' symbols are known here; an admin-added coin's come from CoinGecko's coin
    // list, which the feed caches (and keeps when a refresh fails), so this works while it is down.
    symbolOf: async (coinId) => defaults.get(coinId) ?? (await primary.lookupCoin(coinId))?.symbol,
    clock: systemClock,
    logger,
  });
}

/** `store` holds the CoinGecko request budget every instance shares (COINGECKO_CALLS_PER_MINUTE).
 *  `firstPoll: false` skips the poll at start: with several instances (STORE=dynamodb) only the
 *  job leader polls, and the others start from the prices it published. */
export async function startPriceFeed(config: Config, logger: PinoLogger, store: Pick<Store, 'recordAttempt' | 'getAttempts'>, options: { firstPoll?: boolean; metrics?: Metrics } = {}): Promise<RunningFeed> {
  const firstPoll = options.firstPoll ?? true;
  if (config.PRICE_FEED !== 'simulated') {
    const { metrics } = options;
    const budget = new StoreRequestBudget({ store, clock: systemClock, callsPerMinute: config.COINGECKO_CALLS_PER_MINUTE, pollSeconds: config.PRICE_POLL_SECONDS, logger });
    const client = new CoinGeckoClient({
      baseUrl: config.COINGECKO_BASE_URL, apiKey: config.COINGECKO_API_KEY, plan: config.COINGECKO_API_PLAN, logger, budget,
      onCall: metrics && ((call) => metrics.upstreamCall('coingecko', call.outcome, call.seconds)),
    });
    if (config.PRICE_FEED === 'coingecko' || (await probeCoinGecko(client))) {
      const feed = new CoinGeckoFeed({ client, logger, clock: systemClock, pollIntervalMs: config.PRICE_POLL_SECONDS * 1000 });
      // Polled by the price job (src/jobs.ts), on node-cron, not by the feed's own timer.
      // Answer the first command with prices, not "no price yet", unless they are slow to come.
      if (firstPoll) await settledWithin(feed.refresh(), STARTUP_WAIT_MS);
      logger.info({ baseUrl: config.COINGECKO_BASE_URL ?? 'default', fallback: config.FALLBACK_PRICES_URL }, 'prices: live from CoinGecko');
      // Market data shares the client, so charts and polls count against one budget.
      const market = new CoinGeckoMarketData({ client, clock: systemClock, logger });
      if (config.FALLBACK_PRICES_URL !== 'off') {
        const failover = withFailover(feed, config.FALLBACK_PRICES_URL, logger);
        return { feed: failover, market, stop: () => failover.stop() };
      }
      return { feed, market, stop: () => feed.stop() };
    }
    logger.warn({ baseUrl: config.COINGECKO_BASE_URL ?? 'default' }, 'prices: SIMULATED, because CoinGecko did not answer within 3 s (every price shown says so)');
  } else {
    logger.info('prices: SIMULATED, as PRICE_FEED=simulated asks (every price shown says so)');
  }
  const feed = new SimulatedFeed({ seed: config.SIMULATED_SEED, clock: systemClock });
  feed.step();
  // Stepped by the price job (src/jobs.ts) on the poll schedule.
  const market = new SimulatedMarketData({ feed, clock: systemClock, seed: config.SIMULATED_SEED });
  return { feed, market, stop: async () => {} };
}

/** Email through SNS when enabled, or the notifier that says email is off. */
export interface RunningNotifier {
  notifier: Notifier;
  /** Lets queued email go out (a few seconds at most), then stops. */
  stop(): Promise<void>;
}

export function startNotifier(config: Config, logger: PinoLogger): RunningNotifier {
  if (!config.SNS_ENABLED) return { notifier: disabledNotifier, stop: async () => {} };
  const sns = createSnsNotifier({ region: config.AWS_REGION, endpoint: config.SNS_ENDPOINT, topicPrefix: config.SNS_TOPIC_PREFIX, logger });
  return { notifier: sns, stop: () => sns.stop(5_000) };
}

/** One slow news feed holds /news up at most this long; the others answer meanwhile. */
const NEWS_FEED_TIMEOUT_MS = 5_000;

/** The Fear and Greed index is read at most this long. */
const FEAR_GREED_TIMEOUT_MS = 5_000;

export function buildCore(config: Config, store: Store, prices: PriceFeed, notifier: Notifier, logger: PinoLogger, market: MarketData, metrics?: Metrics): Core {
  return createCore({
    metrics,
    store,
    prices,
    notifier,
    // /chart, /analysis and /market.
    market,
    ...(config.FEAR_GREED_URL !== 'off' && {
      sentiment: new FearGreedSource({ url: config.FEAR_GREED_URL, clock: systemClock, logger, timeoutMs: FEAR_GREED_TIMEOUT_MS }),
    }),
    passwords: new BcryptPasswords(),
    clock: systemClock,
    ids: uuidIds,
    logger,
    // /news; NEWS_FEEDS="," (no feeds) turns it off, and the command says news is not set up.
    ...(config.NEWS_FEEDS.length && {
      news: new RssNewsSource({ feeds: config.NEWS_FEEDS, clock: systemClock, logger, cacheMs: config.NEWS_CACHE_SECONDS * 1000, timeoutMs: NEWS_FEED_TIMEOUT_MS }),
    }),
    // /chart images; the chat platforms fetch them from QUICKCHART_BASE_URL themselves.
    charts: new QuickChartRenderer({ baseUrl: config.QUICKCHART_BASE_URL, now: () => systemClock.now() }),
    config: {
      startBalance: config.START_BALANCE,
      feePercent: config.TRADE_FEE_PERCENT,
      maxQuoteAgeMs: config.MAX_QUOTE_AGE_SECONDS * 1000,
      maxAlertsPerUser: config.MAX_ALERTS_PER_USER,
      activityRetentionDays: config.ACTIVITY_RETENTION_DAYS,
      confirmTradesAbove: config.CONFIRM_TRADES_ABOVE,
      maxCommandAgeMs: config.MAX_COMMAND_AGE_SECONDS * 1000,
      priceRefreshMs: config.PRICE_POLL_SECONDS * 1000,
      alertRearmPercent: config.ALERT_REARM_PERCENT,
      alertsPerMinute: config.ALERTS_PER_MINUTE,
      broadcastCooldownMs: config.BROADCAST_COOLDOWN_MINUTES * 60_000,
      maxBroadcastsPerChat: config.MAX_BROADCASTS_PER_CHAT,
      spreadBps: config.SPREAD_BPS,
      slippageBpsPer10k: config.SLIPPAGE_BPS_PER_10K,
      maxSlippageBps: config.MAX_SLIPPAGE_BPS,
      maxOpenOrders: config.MAX_OPEN_ORDERS,
      maxOrderMs: config.MAX_ORDER_DAYS * 86_400_000,
    },
  });
}
