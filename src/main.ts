/**
 * Entry point: read configuration, wire ports to implementations, start the price feed, the
 * scheduled jobs and the chat adapters. With no chat token it runs the terminal chat, and ends
 * with its input; with one it runs the chat bots until SIGINT or SIGTERM.
 */
import 'dotenv/config';
import { randomUUID } from 'node:crypto';
import cron from 'node-cron';
import { AlertEngine } from '../core/alert-engine';
import { renderPlainText } from '../core/messages';
import { ensureBootstrapAdmin } from '../core/staff-accounts';
import { UserError } from '../core/errors';
import { runConsoleChat } from '../adapters/console/console-chat';
import { createTelegramBot } from '../adapters/telegram/bot';
import { createLogger } from '../infra/support/logger';
import { ConfigError, loadConfig } from './config';
import { routeByPlatform } from './chat-delivery';
import { buildCore, openStore, startNotifier, startPriceFeed } from './compose';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: (config.LOG_FORMAT ?? (config.NODE_ENV === 'production' ? 'json' : 'pretty')) === 'pretty' });
  const store = await openStore(config);
  const prices = await startPriceFeed(config, logger);
  const email = startNotifier(config, logger);
  const core = buildCore(config, store, prices.feed, email.notifier, logger);
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

  // The activity log keeps a bounded history.
  const prune = cron.schedule('17 3 * * *', async () => {
    const removed = await store.pruneActivity(Date.now() - config.ACTIVITY_RETENTION_DAYS * 86_400_000);
    logger.info({ removed }, 'pruned activity log');
  });

  const telegram = config.TELEGRAM_BOT_TOKEN
    ? createTelegramBot({
        token: config.TELEGRAM_BOT_TOKEN, apiRoot: config.TELEGRAM_API_ROOT, core, logger,
        webhook: config.TELEGRAM_WEBHOOK_URL
          ? { url: config.TELEGRAM_WEBHOOK_URL, secret: config.TELEGRAM_WEBHOOK_SECRET!, port: config.PORT, host: config.HOST }
          : undefined,
      })
    : undefined;

  // Alerts are checked as often as prices change. In the terminal chat they print to this
  // terminal; in Telegram they go to the user's private chat.
  const alerts = new AlertEngine(core.services, routeByPlatform({
    telegram: telegram && (async (identity, message) => (await telegram.post(identity.key, message)).every((o) => o.status === 'sent')),
    console: telegram ? undefined : async (identity, message) => {
      process.stdout.write(`[to ${identity.key}]\n${renderPlainText(message)}\n\n`);
      return true;
    },
  }));
  const alertTimer = setInterval(() => {
    alerts.check().catch((error: unknown) => logger.error({ err: error }, 'alert check failed'));
  }, Math.min(config.PRICE_POLL_SECONDS, 15) * 1000);

  const shutdown = async () => {
    clearInterval(alertTimer);
    prune.stop();
    await telegram?.stop();
    await prices.stop();
    await email.stop();
    await store.close();
  };

  if (telegram) {
    await telegram.start();
    logger.info({ mode: config.TELEGRAM_WEBHOOK_URL ? 'webhook' : 'polling' }, 'Telegram bot running');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    logger.info('shutting down');
  } else {
    await runConsoleChat({
      dispatcher: core.dispatcher,
      input: process.stdin,
      output: process.stdout,
      user: config.CONSOLE_USER,
      sessionId: randomUUID().slice(0, 8),
      interactive: Boolean(process.stdin.isTTY),
    });
  }
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
