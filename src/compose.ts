/**
 * The composition root: turns configuration into implementations of the core's ports, and the
 * core built on them. main.ts and the command-line scripts share it.
 */
import { join } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { createCore, type Core } from '../core/app';
import type { PriceFeed, Store } from '../core/ports';
import { CoinGeckoClient } from '../infra/prices/coingecko-client';
import { CoinGeckoFeed, probeCoinGecko } from '../infra/prices/coingecko-feed';
import { SimulatedFeed } from '../infra/prices/simulated-feed';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { disabledNotifier } from '../infra/support/disabled-notifier';
import { BcryptPasswords, systemClock, uuidIds } from '../infra/support/system';
import type { Config } from './config';
import { ConfigError } from './config';

export async function openStore(config: Config): Promise<Store> {
  if (config.STORE === 'sqlite') return SqliteStore.open({ file: join(config.DATA_DIR, 'cryptopulse.sqlite') });
  throw new ConfigError('STORE=dynamodb is not available in this build yet; use STORE=sqlite.');
}

/** A running price feed: live CoinGecko, or the simulated walk (chosen, or when CoinGecko is unreachable). */
export interface RunningFeed {
  feed: PriceFeed;
  stop(): Promise<void>;
}

export async function startPriceFeed(config: Config, logger: PinoLogger): Promise<RunningFeed> {
  if (config.PRICE_FEED !== 'simulated') {
    const client = new CoinGeckoClient({ baseUrl: config.COINGECKO_BASE_URL, apiKey: config.COINGECKO_API_KEY, plan: config.COINGECKO_API_PLAN, logger });
    if (config.PRICE_FEED === 'coingecko' || (await probeCoinGecko(client))) {
      const feed = new CoinGeckoFeed({ client, logger, clock: systemClock, pollIntervalMs: config.PRICE_POLL_SECONDS * 1000 });
      feed.start();
      // Answer the first command with prices, not "no price yet".
      await feed.refresh();
      logger.info({ baseUrl: config.COINGECKO_BASE_URL ?? 'default' }, 'live prices from CoinGecko');
      return { feed, stop: () => feed.stop() };
    }
    logger.warn('CoinGecko cannot be reached: using SIMULATED prices (every price shown says so)');
  }
  const feed = new SimulatedFeed({ seed: config.SIMULATED_SEED, clock: systemClock });
  feed.step();
  feed.start(Math.min(config.PRICE_POLL_SECONDS * 1000, 15_000));
  return { feed, stop: async () => feed.stop() };
}

export function buildCore(config: Config, store: Store, prices: PriceFeed, logger: PinoLogger): Core {
  return createCore({
    store,
    prices,
    notifier: disabledNotifier,
    passwords: new BcryptPasswords(),
    clock: systemClock,
    ids: uuidIds,
    logger,
    config: {
      startBalance: config.START_BALANCE,
      feePercent: config.TRADE_FEE_PERCENT,
      maxQuoteAgeMs: config.MAX_QUOTE_AGE_SECONDS * 1000,
      maxAlertsPerUser: config.MAX_ALERTS_PER_USER,
      activityRetentionDays: config.ACTIVITY_RETENTION_DAYS,
      confirmTradesAbove: config.CONFIRM_TRADES_ABOVE,
    },
  });
}
