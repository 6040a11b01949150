/**
 * Entry point: read configuration, wire ports to implementations, start the price feed, the
 * scheduled jobs and the chat adapters of every configured platform (src/adapters.ts), side by
 * side, until SIGINT or SIGTERM. With none configured it runs the terminal chat, and also ends
 * with its input.
 */
import 'dotenv/config';
import { AlertEngine } from '../core/alerts/engine';
import { OutboxWorker } from '../core/notifications/outbox-worker';
import { ensureBootstrapAdmin } from '../core/staff-accounts';
import { UserError } from '../core/errors';
import { createLogger } from '../infra/support/logger';
import { createPrometheusMetrics } from '../infra/metrics/prometheus-metrics';
import { createReadiness, mountHealthRoutes } from '../adapters/shared/health';
import { configuredChatAdapters, sharedHttpServer, startChatAdapters, terminalChat } from './adapters';
import { ConfigError, loadConfig } from './config';
import { deliverThroughAdapters } from './chat-delivery';
import { buildCore, openStore, startNotifier, startPriceFeed } from './compose';
import { startJobs } from './jobs';
import { LeaseLeadership, soleLeader } from './leader';
import { followLeadership, isGatewayAdapter } from './gateway-leadership';
import { drainingReadiness, firstSignal, runShutdown } from './shutdown';
import { SharedPriceFeed } from '../infra/prices/shared-feed';
import { systemClock } from '../infra/support/system';

/** Resolves with the exit code: 0, or 1 when the shutdown ran out of its budget. */
async function main(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: (config.LOG_FORMAT ?? (config.NODE_ENV === 'production' ? 'json' : 'pretty')) === 'pretty' });
  const store = await openStore(config);
  const metrics = createPrometheusMetrics();
  // Several instances on DynamoDB: only the job leader polls prices, and it publishes them to the
  // store; every instance's core reads them from there (infra/prices/shared-feed.ts, src/leader.ts).
  const several = config.STORE === 'dynamodb';
  const prices = await startPriceFeed(config, logger, store, { firstPoll: !several, metrics });
  const shared = several
    ? new SharedPriceFeed({ store, upstream: prices.feed, clock: systemClock, logger, readIntervalMs: Math.min(5_000, config.PRICE_POLL_SECONDS * 500) })
    : undefined;
  const feed = shared ?? prices.feed;
  const leadership = several ? new LeaseLeadership({ store, ttlMs: config.LEASE_SECONDS * 1000, clock: systemClock, logger }) : soleLeader();
  const email = startNotifier(config, logger);
  const core = buildCore(config, store, feed, email.notifier, logger, prices.market, metrics);
  await core.services.coins.list(); // tells the feed which coins to fetch
  await shared?.start();

  if (config.BOOTSTRAP_ADMIN_USERNAME && config.BOOTSTRAP_ADMIN_EMAIL) {
    const username = config.BOOTSTRAP_ADMIN_USERNAME;
    try {
      const { status } = await ensureBootstrapAdmin({ ...core.services, startBalance: config.START_BALANCE }, {
        username, email: config.BOOTSTRAP_ADMIN_EMAIL, identity: config.BOOTSTRAP_ADMIN_IDENTITY,
      });
      logger.info({ username, status }, 'bootstrap admin');
    } catch (error) {
      // Refused (someone else holds that username or identity): the bot still serves everyone
      // else, and the operator reads why here.
      if (!(error instanceof UserError)) throw error;
      logger.error({ username }, `bootstrap admin refused: ${error.message}`);
    }
  }

  // One HTTP server on HOST:PORT for every platform that takes HTTP; it closes with the last of them.
  const http = sharedHttpServer(config, logger);
  const bots = configuredChatAdapters(config, core, logger, http);
  const terminal = bots.length ? undefined : terminalChat(config, core);
  const adapters = terminal ? [terminal] : bots;
  // Several instances: only the job leader holds the Discord gateway; the others only send.
  if (several) for (const bot of bots.filter(isGatewayAdapter)) followLeadership(bot, leadership, logger);
  // A bot serves /healthz, /readyz and /metrics on HOST:PORT from before its platforms connect
  // (Discord may take a while) until they have stopped; the terminal chat serves nothing.
  // It turns unready as soon as the shutdown begins (src/shutdown.ts).
  const readiness = drainingReadiness(createReadiness({
    store, prices: feed, coins: () => core.services.coins.list(), maxQuoteAgeMs: config.MAX_QUOTE_AGE_SECONDS * 1000,
    adapters: () => adapters, clock: systemClock,
  }));
  const unmountHealth = terminal ? undefined : await mountHealthRoutes(http, {
    readiness,
    scrape: () => metrics.scrape(),
  });
  if (unmountHealth) logger.info({ url: http.url() }, 'serving /healthz, /readyz and /metrics');

  // The first SIGINT/SIGTERM starts the graceful shutdown below; a second one exits at once.
  const signalled = firstSignal(logger);
  await startChatAdapters(adapters);
  logger.info({ platforms: adapters.map((a) => a.platform) }, 'chat adapters running');

  // The job leader (this process, on SQLite) builds the alert index from the store before its
  // first tick. Pushed messages (alerts, broadcasts, digests, trade emails) leave through the
  // outbox, to the platforms running here (in the terminal chat, to this terminal) and by email.
  const outbox = new OutboxWorker(core.services, deliverThroughAdapters(adapters, logger));
  const jobs = startJobs({
    services: core.services, feed, alerts: () => new AlertEngine(core.services), outbox, logger,
    pricePollSeconds: config.PRICE_POLL_SECONDS, leadership,
  });
  await leadership.start();
  logger.info({ holder: leadership.holder, leader: leadership.isLeader() }, 'jobs scheduled');

  // Stop receiving, finish the commands in flight, stop the jobs, flush the outbox while the
  // adapters can still send, then disconnect and close: src/shutdown.ts, bounded by
  // SHUTDOWN_TIMEOUT_SECONDS.
  const shutdown = () => runShutdown({
    markUnready: () => readiness.markDraining(),
    adapters,
    stopJobs: () => jobs.stop(),
    afterJobs: [
      ['leadership', () => leadership.stop()], // another instance takes the jobs over at once
      ['shared price feed', async () => shared?.stop()],
    ],
    outbox,
    afterAdapters: [
      ['health routes', async () => unmountHealth?.()],
      ['price feed', () => prices.stop()],
      ['email', () => email.stop()],
      ['store', () => store.close()],
    ],
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_SECONDS * 1000,
  });

  // Bots run until a signal; the terminal chat also ends with its input.
  const signal = await Promise.race([signalled, ...(terminal ? [terminal.ended.then(() => undefined)] : [])]);
  if (signal) logger.info({ signal }, 'shutting down');
  const { completed } = await shutdown();
  return completed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`CryptoPulse could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
