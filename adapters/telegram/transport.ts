/**
 * How updates reach the bot: long polling (the default; restarted with backoff when it fails) or
 * a webhook served in plain HTTP (TLS ends in front of it) that refuses requests without
 * Telegram's secret token, mounted at its URL's path on the process's shared HTTP server
 * (adapters/shared/http-server.ts) or on one of its own. Either way each update goes to telegraf, whose middleware hands it to
 * the intake (updates.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Telegraf } from 'telegraf';
import type { Logger } from '../../core/ports';
import { createHttpServer, type HttpServer } from '../shared/http-server';
import { errorSummary } from './errors';
import type { TelegramCall } from './sender';
import { ALLOWED_UPDATES } from './updates';

export interface TelegramWebhookOptions {
  /** The public HTTPS URL Telegram posts to; its path is where the server listens. */
  url: string;
  /** Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token; requests without it are refused. */
  secret: string;
  /**
   * A server shared with other adapters (one HTTP server on HOST:PORT for the process): the
   * webhook is mounted on it at its path. Without one the bot serves the webhook on its own, on
   * `port` and `host`.
   */
  server?: HttpServer;
  /** Where the bot's own server listens (not used with `server`). */
  port?: number;
  /**
   * The interface to listen on (plain HTTP; TLS ends at a load balancer or reverse proxy in front).
   * Default: loopback only, 127.0.0.1; `0.0.0.0` (or `::`) for every interface.
   */
  host?: string;
}

export interface Transport {
  /** Starts polling, or serves the webhook and tells Telegram its URL. */
  start(): Promise<void>;
  /** Stops polling (within 10 s) or unmounts the webhook (its own server closes); updates in flight carry on. */
  stop(): Promise<void>;
  /** Where the webhook server listens, once started in webhook mode. */
  address(): AddressInfo | undefined;
  /** The webhook as a request handler, to mount on another server instead of the bot's own. */
  handleWebhookRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Throws when the webhook's secret is one Telegram would refuse: at construction, not at start. */
function checkWebhookSecret(webhook: TelegramWebhookOptions | undefined): void {
  if (webhook && !/^[A-Za-z0-9_-]{1,256}$/.test(webhook.secret)) {
    throw new Error('The Telegram webhook needs a secret token of 1-256 characters A-Z a-z 0-9 _ - (TELEGRAM_WEBHOOK_SECRET).');
  }
  if (webhook && !webhook.server && webhook.port === undefined) {
    throw new Error('The Telegram webhook needs a server to mount on, or a port to listen on.');
  }
}

export function createTransport(options: { bot: Telegraf; call: TelegramCall; logger: Logger; webhook?: TelegramWebhookOptions }): Transport {
  const { bot, call, logger, webhook } = options;
  checkWebhookSecret(webhook);
  let stopping = false;
  let server: HttpServer | undefined;
  let pollingLoop: Promise<void> | undefined;
  let wakePoller: (() => void) | undefined;

  const webhookPath = webhook ? (() => {
    const url = new URL(webhook.url);
    return `${url.pathname}${url.search}`;
  })() : '/';
  const mountPath = webhookPath.split('?')[0]!;
  const webhookCallback = bot.webhookCallback(webhookPath, { secretToken: webhook?.secret });

  async function handleWebhookRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (stopping) {
      // Shutting down: not taken, so Telegram keeps the update and delivers it again later.
      res.writeHead(503, { 'retry-after': '5' }).end();
      return;
    }
    try {
      await webhookCallback(req, res, () => {
        // telegraf's filter said no: say why, without reading the body.
        const path = (req.url ?? '').split('?')[0];
        res.statusCode = req.method !== 'POST' ? (path === webhookPath.split('?')[0] ? 405 : 404) : path === webhookPath.split('?')[0] ? 401 : 404;
        if (res.statusCode === 401) logger.warn({ ip: req.socket.remoteAddress }, 'telegram webhook request without the right secret token: refused');
        res.end();
      });
    } catch (error) {
      logger.error({ ...errorSummary(error) }, 'telegram webhook request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    }
  }

  async function startWebhook(hook: TelegramWebhookOptions): Promise<void> {
    const http = hook.server ?? createHttpServer({ port: hook.port!, host: hook.host, logger });
    await http.mount(mountPath, handleWebhookRequest);
    server = http;
    try {
      await call('setWebhook', { url: hook.url, secret_token: hook.secret, allowed_updates: ALLOWED_UPDATES, drop_pending_updates: false });
    } catch (error) {
      await closeServer();
      throw error;
    }
    const { address, port } = http.address()!;
    logger.info({ path: webhookPath, host: address, port }, 'telegram bot receiving updates by webhook');
  }

  async function pollForever(): Promise<void> {
    let delay = 1000;
    while (!stopping) {
      const began = Date.now();
      try {
        await bot.launch({ allowedUpdates: [...ALLOWED_UPDATES] });
      } catch (error) {
        if (!stopping) logger.error({ ...errorSummary(error) }, 'telegram long polling stopped with an error: restarting');
      }
      if (stopping) break;
      if (Date.now() - began > 60_000) delay = 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wakePoller = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, 60_000);
    }
  }

  async function stopPolling(loop: Promise<void>): Promise<void> {
    // telegraf can only stop a poll that has begun: keep asking until the loop ends.
    let ended = false;
    void loop.then(() => (ended = true));
    for (let waited = 0; !ended && waited < 10_000; waited += 50) {
      try {
        bot.stop('shutdown');
      } catch {
        // not polling yet (still connecting), or between restarts
      }
      await Promise.race([loop, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  async function closeServer(): Promise<void> {
    const http = server;
    server = undefined;
    await http?.unmount(mountPath);
  }

  return {
    async start() {
      stopping = false;
      if (webhook) {
        await startWebhook(webhook);
      } else {
        pollingLoop = pollForever();
        logger.info({ bot: bot.botInfo?.username }, 'telegram bot receiving updates by long polling');
      }
    },
    async stop() {
      stopping = true;
      wakePoller?.();
      if (pollingLoop) {
        await stopPolling(pollingLoop);
        pollingLoop = undefined;
      }
      await closeServer();
    },
    address: () => server?.address(),
    handleWebhookRequest,
  };
}
