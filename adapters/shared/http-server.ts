/**
 * One plain-HTTP server (TLS ends in front of it) that chat adapters taking HTTP mount their
 * paths on: the Telegram webhook at its URL's path, Slack at /slack/events. The composition root
 * creates one for HOST:PORT and hands it to every adapter (src/adapters.ts); an adapter given none
 * makes its own. Requests are routed by exact path (the query is the handler's business); any
 * other path gets 404.
 *
 * The server listens while something is mounted: the first mount starts it, the last unmount
 * closes it (open connections too), so adapters start and stop independently, in any order.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/ports';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServer {
  /** Serves `handler` at `path` (exact, e.g. '/slack/events'), listening first if need be. A path
   *  can be mounted once at a time. Resolves once the server listens. */
  mount(path: string, handler: HttpHandler): Promise<void>;
  /** Stops serving `path` (404 from now on); with nothing mounted any more, closes the server. */
  unmount(path: string): Promise<void>;
  /** Where it listens, while it does. */
  address(): AddressInfo | undefined;
  /** http://host:port while listening, for logs and tests. */
  url(): string;
}

export interface HttpServerOptions {
  port: number;
  /** Default loopback only (127.0.0.1); 0.0.0.0 or :: for every interface. */
  host?: string;
  logger?: Logger;
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const routes = new Map<string, HttpHandler>();
  let server: Server | undefined;
  let listening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  function route(req: IncomingMessage, res: ServerResponse): void {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    const handler = routes.get(path);
    if (!handler) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const fail = (error: unknown) => {
      options.logger?.error({ path, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'http request handler failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    };
    try {
      Promise.resolve(handler(req, res)).catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  function listen(): Promise<void> {
    if (listening) return listening;
    const http = createServer(route);
    server = http;
    listening = (async () => {
      if (closing) await closing;
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(options.port, options.host ?? '127.0.0.1', () => {
          http.off('error', reject);
          resolve();
        });
      });
      http.on('error', (error) => options.logger?.error({ error: String(error) }, 'http server error'));
    })();
    listening.catch(() => {
      if (server === http) {
        server = undefined;
        listening = undefined;
      }
    });
    return listening;
  }

  async function close(): Promise<void> {
    const http = server;
    const started = listening;
    server = undefined;
    listening = undefined;
    if (!http) return;
    await started?.catch(() => undefined);
    if (!http.listening) return;
    closing = new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    await closing;
    closing = undefined;
  }

  return {
    async mount(path, handler) {
      if (routes.has(path)) throw new Error(`${path} is already served on this HTTP server`);
      routes.set(path, handler);
      try {
        await listen();
      } catch (error) {
        routes.delete(path);
        throw error;
      }
    },
    async unmount(path) {
      if (!routes.delete(path)) return;
      if (routes.size === 0) await close();
    },
    address: () => (server?.listening ? (server.address() as AddressInfo) : undefined),
    url() {
      const address = server?.listening ? (server.address() as AddressInfo) : undefined;
      if (!address) throw new Error('the HTTP server is not listening');
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
  };
}
