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
import { configuredChatAdapters, sharedHttpServer, startChatAdapters, stopChatAdapters, terminalChat } from './adapters';
import { ConfigError, loadConfig } from './config';
import { deliverThroughAdapters } from './chat-delivery';
import { buildCore, openStore, startNotifier, startPriceFeed } from './compose';
import { startJobs } from './jobs';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: (config.LOG_FORMAT ?? (config.NODE_ENV === 'production' ? 'json' : 'pretty')) === 'pretty' });
  const store = await openStore(config);
  const prices = await startPriceFeed(config, logger, store);
  const email = startNotifier(config, logger);
  const core = buildCore(config, store, prices.feed, email.notifier, logger, prices.market);
  await core.services.coins.list(); // tells the feed which coins to fetch

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

  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await startChatAdapters(adapters);
  logger.info({ platforms: adapters.map((a) => a.platform) }, 'chat adapters running');

  // The alert index is built from the store before the first tick. Pushed messages (alerts,
  // broadcasts, digests, trade emails) leave through the outbox, to the platforms running here
  // (in the terminal chat, to this terminal) and by email.
  const alerts = new AlertEngine(core.services);
  await alerts.start();
  const outbox = new OutboxWorker(core.services, deliverThroughAdapters(adapters, logger));
  const jobs = startJobs({ services: core.services, feed: prices.feed, alerts, outbox, logger, pricePollSeconds: config.PRICE_POLL_SECONDS });
  logger.info({ alerts: alerts.matcher.size }, 'alert index built; jobs scheduled');

  const shutdown = async () => {
    await jobs.stop();
    await stopChatAdapters(adapters, logger);
    await prices.stop();
    await email.stop();
    await store.close();
  };

  // Bots run until a signal; the terminal chat also ends with its input.
  const signal = await Promise.race([signalled, ...(terminal ? [terminal.ended.then(() => undefined)] : [])]);
  if (signal) logger.info({ signal }, 'shutting down');
  await shutdown();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`CryptoPulse could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
