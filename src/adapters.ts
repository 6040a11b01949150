/**
 * Which chat front ends run: one row per platform, saying when its configuration is present and
 * how to build its adapter from it. Discord and Slack are added here as rows; main.ts only
 * starts, routes to and stops whatever this returns, and runs the terminal chat when it returns
 * none.
 *
 * Platforms that take HTTP (the Telegram webhook, Slack over HTTP) share one HTTP server on
 * HOST:PORT, created here and handed to each: each mounts its path on it (unknown paths get 404).
 * It listens while something is mounted: main.ts also mounts /healthz, /readyz and /metrics
 * (adapters/shared/health.ts) whenever a platform runs, so a bot always listens.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Core } from '../core/app';
import type { ChatAdapter } from '../core/chat-adapter';
import type { Platform } from '../core/domain';
import type { Logger } from '../core/ports';
import { createConsoleChat, type ConsoleChat } from '../adapters/console/console-chat';
import { createDiscordBot } from '../adapters/discord/bot';
import { createHttpServer, type HttpServer } from '../adapters/shared/http-server';
import { createSlackBot } from '../adapters/slack/bot';
import { createTelegramBot } from '../adapters/telegram/bot';
import type { Config } from './config';

interface ChatPlatform {
  platform: Platform;
  configured(config: Config): boolean;
  /** `http`: the process's one HTTP server on HOST:PORT, for a platform that takes HTTP. */
  create(config: Config, core: Core, logger: Logger, http: HttpServer): ChatAdapter;
}

export const CHAT_PLATFORMS: readonly ChatPlatform[] = [
  {
    platform: 'telegram',
    configured: (config) => Boolean(config.TELEGRAM_BOT_TOKEN),
    create: (config, core, logger, http) => createTelegramBot({
      token: config.TELEGRAM_BOT_TOKEN!, apiRoot: config.TELEGRAM_API_ROOT, core, logger,
      webhook: config.TELEGRAM_WEBHOOK_URL
        ? { url: config.TELEGRAM_WEBHOOK_URL, secret: config.TELEGRAM_WEBHOOK_SECRET!, server: http }
        : undefined,
    }),
  },
  {
    platform: 'discord',
    configured: (config) => Boolean(config.DISCORD_TOKEN),
    create: (config, core, logger) => createDiscordBot({
      token: config.DISCORD_TOKEN!, applicationId: config.DISCORD_APPLICATION_ID!, guildId: config.DISCORD_GUILD_ID,
      apiUrl: config.DISCORD_API_URL, registerAtStart: config.DISCORD_REGISTER_AT_START, core, logger,
      // Several instances share DynamoDB: each starts send-only, and only the job leader connects
      // the gateway (main.ts, src/gateway-leadership.ts), so every interaction is answered once.
      gateway: config.STORE !== 'dynamodb',
    }),
  },
  {
    platform: 'slack',
    configured: (config) => Boolean(config.SLACK_BOT_TOKEN),
    // Socket Mode when SLACK_APP_TOKEN is set (then nothing is served), else HTTP on the shared server.
    create: (config, core, logger, http) => createSlackBot({
      botToken: config.SLACK_BOT_TOKEN!, signingSecret: config.SLACK_SIGNING_SECRET, appToken: config.SLACK_APP_TOKEN,
      apiUrl: config.SLACK_API_URL, command: config.SLACK_COMMAND, http, core, logger,
    }),
  },
];

/** The HTTP server on HOST:PORT that the platforms taking HTTP share (it listens once one mounts a path). */
export function sharedHttpServer(config: Config, logger: Logger): HttpServer {
  return createHttpServer({ port: config.PORT, host: config.HOST, logger });
}

/** An adapter for every platform whose configuration is present; those taking HTTP share `http`
 *  (by default a new server on HOST:PORT). */
export function configuredChatAdapters(config: Config, core: Core, logger: Logger, http: HttpServer = sharedHttpServer(config, logger)): ChatAdapter[] {
  return CHAT_PLATFORMS.filter((p) => p.configured(config)).map((p) => p.create(config, core, logger, http));
}

/** The terminal chat on this process's standard input and output. */
export function terminalChat(config: Config, core: Core): ConsoleChat {
  return createConsoleChat({
    dispatcher: core.dispatcher,
    input: process.stdin,
    output: process.stdout,
    user: config.CONSOLE_USER,
    sessionId: randomUUID().slice(0, 8),
    interactive: Boolean(process.stdin.isTTY),
    // Charts are saved as PNG files beside the data (a terminal cannot show images).
    imageDir: join(config.DATA_DIR, 'charts'),
  });
}

/** Starts the adapters side by side. When one cannot start, those that did are stopped again and
 *  the first failure is thrown: a configured platform that cannot run is a broken configuration. */
export async function startChatAdapters(adapters: readonly ChatAdapter[]): Promise<void> {
  const results = await Promise.allSettled(adapters.map((a) => a.start()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return;
  await stopChatAdapters(adapters.filter((_, i) => results[i]!.status === 'fulfilled'));
  throw failed.reason;
}

/** Stops them all at once: each finishes what it was doing and flushes its sends. One failing to
 *  stop (against the contract) is logged and does not keep the others from stopping. */
export async function stopChatAdapters(adapters: readonly ChatAdapter[], logger?: Logger): Promise<void> {
  const results = await Promise.allSettled(adapters.map((a) => a.stop()));
  results.forEach((r, i) => {
    if (r.status === 'rejected') logger?.error({ platform: adapters[i]!.platform, error: String(r.reason) }, 'chat adapter failed to stop');
  });
}
