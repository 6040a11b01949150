/**
 * A loopback stand-in for a QuickChart server (port 0), speaking the API the renderer uses:
 *   GET  /chart?c=<config>&w=&h=...        -> image/png
 *   POST /chart  {chart, width, height...} -> image/png
 *   POST /chart/create  {chart, ...}       -> {"success": true, "url": "<base>/chart/render/<id>"}
 *   GET  /chart/render/<id>                -> image/png (404 for an id it never created)
 * It records every request and the chart configurations it was given (parsed), and can be
 * switched to answer 500 or to drop every connection (QuickChart unreachable).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real 1x1 PNG: enough for anything that checks it is an image. */
export const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

export interface QuickChartRequest {
  method: string;
  path: string;
  /** The URL's length as received (what a platform would have to fetch). */
  urlLength: number;
}

export type QuickChartMode = 'ok' | 'error' | 'down';

export class QuickChartStandin {
  readonly requests: QuickChartRequest[] = [];
  /** Every chart configuration received (GET c=, POST chart), parsed from JSON. */
  readonly configs: Array<Record<string, any>> = [];
  mode: QuickChartMode = 'ok';
  private readonly created = new Map<string, Record<string, any>>();
  private readonly server = createServer((req, res) => void this.handle(req, res));

  static async start(): Promise<QuickChartStandin> {
    const standin = new QuickChartStandin();
    await new Promise<void>((resolve) => standin.server.listen(0, '127.0.0.1', resolve));
    return standin;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests for a path ("/chart", "/chart/create", "/chart/render"), by method. */
  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && (r.path === path || r.path.startsWith(`${path}/`))).length;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, urlLength: (req.url ?? '').length + this.url.length });
    if (this.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (this.mode === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain', 'x-quickchart-error': 'stand-in error' }).end('error');
      return;
    }
    const png = (): void => void res.writeHead(200, { 'content-type': 'image/png', 'content-length': TINY_PNG.length }).end(TINY_PNG);
    try {
      if (req.method === 'GET' && url.pathname === '/chart') {
        this.configs.push(JSON.parse(url.searchParams.get('c') ?? ''));
        return png();
      }
      if (req.method === 'POST' && url.pathname === '/chart') {
        this.configs.push(chartOf(JSON.parse(body)));
        return png();
      }
      if (req.method === 'POST' && url.pathname === '/chart/create') {
        const config = chartOf(JSON.parse(body));
        this.configs.push(config);
        const id = `zf-${this.created.size + 1}`;
        this.created.set(id, config);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true, url: `${this.url}/chart/render/${id}` }));
        return;
      }
      const render = /^\/chart\/render\/([\w-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && render && this.created.has(render[1]!)) return png();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad chart');
    }
  }
}

/** The POST body's chart: a JSON string (as quickchart-js sends it) or an object. */
function chartOf(body: { chart?: unknown }): Record<string, any> {
  return typeof body.chart === 'string' ? JSON.parse(body.chart) : (body.chart as Record<string, any>);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
