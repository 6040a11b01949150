/**
 * News feeds on a loopback HTTP server (port 0): each path serves a fixture, an error status, or
 * holds its answer back (a slow feed) until the stand-in closes. Counts requests per path, so a
 * test can tell a cached answer from a fresh read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FeedRoute =
  | { body: string; contentType?: string }
  | { status: number; body?: string }
  /** Never answers while the stand-in runs: longer than any timeout a test configures. */
  | { hold: true };

export class NewsStandin {
  readonly requests = new Map<string, number>();
  private readonly routes = new Map<string, FeedRoute>();
  private readonly held: ServerResponse[] = [];
  private readonly server = createServer((req, res) => this.handle(req, res));

  static async start(): Promise<NewsStandin> {
    const standin = new NewsStandin();
    await new Promise<void>((resolve) => standin.server.listen(0, '127.0.0.1', resolve));
    return standin;
  }

  /** Serves `route` at `path`; returns the feed's URL. */
  route(path: string, route: FeedRoute): string {
    this.routes.set(path, route);
    return this.url(path);
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  count(path: string): number {
    return this.requests.get(path) ?? 0;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.set(path, this.count(path) + 1);
    const route = this.routes.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
    } else if ('hold' in route) {
      this.held.push(res);
    } else if ('status' in route) {
      res.writeHead(route.status, { 'content-type': 'text/plain' }).end(route.body ?? 'error');
    } else {
      res.writeHead(200, { 'content-type': route.contentType ?? 'application/rss+xml; charset=utf-8' }).end(route.body);
    }
  }
}

/** An RSS 2.0 document; titles and descriptions are inserted as given (CDATA is the caller's). */
export function rssFeed(title: string, items: Array<{ title: string; link: string; pubDate?: Date; description?: string }>): string {
  const entries = items.map((i) => `<item><title>${i.title}</title><link>${i.link}</link>${i.pubDate ? `<pubDate>${i.pubDate.toUTCString()}</pubDate>` : ''}${i.description ? `<description>${i.description}</description>` : ''}</item>`);
  return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>${title}</title><link>https://example.com/</link><description>x</description>${entries.join('')}</channel></rss>`;
}

/** An Atom 1.0 document. */
export function atomFeed(title: string, entries: Array<{ title: string; link: string; updated: Date; summary?: string }>): string {
  const body = entries.map((e) => `<entry><title>${e.title}</title><link rel="alternate" href="${e.link}"/><id>${e.link}</id><updated>${e.updated.toISOString()}</updated>${e.summary ? `<summary>${e.summary}</summary>` : ''}</entry>`);
  return `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>${title}</title><id>urn:x</id><updated>2026-11-25T00:00:00Z</updated>${body.join('')}</feed>`;
}
