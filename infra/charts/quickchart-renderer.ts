/**
 * Draws ChartSpecs with QuickChart (quickchart.io, or a self-hosted server at QUICKCHART_BASE_URL)
 * as PNG images the chat platforms fetch by URL.
 *
 * quickchart-js builds the Chart.js configuration's GET URL and POST body; the HTTP calls are
 * made here with fetch, because the library's own calls take no timeout and its getShortUrl()
 * refuses any host but quickchart.io (a self-hosted server has /chart/create too).
 *
 * A chart whose GET URL would be longer than MAX_GET_URL is created with POST /chart/create and
 * sent by its short URL: Discord drops embed images over 2048 characters and Telegram fetches
 * photos by URL. Either way the final URL is fetched once before it is handed out, expecting a
 * PNG: that is the very request the platforms will make, so a QuickChart that is down, refuses
 * the configuration or lost the short URL is found here, and the user gets the numbers instead
 * of a broken image. Verified URLs are cached by configuration for a while, so the same chart
 * asked for again (a Refresh within the market data's cache) does not reach QuickChart at all.
 */
import { createHash } from 'node:crypto';
import QuickChart from 'quickchart-js';
import { ChartUnavailableError, type ChartRenderer, type ChartSpec } from '../../core/ports';

/** Longest GET URL handed out: under Discord's 2048-character embed image limit, with room. */
export const MAX_GET_URL = 2000;

export interface QuickChartRendererOptions {
  /** e.g. https://quickchart.io or http://quickchart.internal:3400 (a path prefix is kept). */
  baseUrl: string;
  width?: number;
  height?: number;
  /** Each call to QuickChart gives up after this long. */
  timeoutMs?: number;
  /** How long a verified URL is reused for the same chart. */
  cacheMs?: number;
  now?: () => number;
}

/** Line colours, one per series; the first is the brand blue. */
const COLOURS = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6'];
const MAX_CACHED = 256;

/** The Chart.js (v2, QuickChart's default) line chart of a spec: no point markers, a legend
 *  only when there is more than one series, the axis captioned with the currency. */
export function chartJsConfig(spec: ChartSpec): Record<string, unknown> {
  return {
    type: 'line',
    data: {
      labels: spec.labels,
      datasets: spec.series.map((series, i) => ({
        label: series.label,
        data: series.values,
        borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: 'rgba(37,99,235,0.08)',
        fill: spec.series.length === 1,
        borderWidth: 2,
        pointRadius: 0,
        lineTension: 0,
      })),
    },
    options: {
      title: { display: true, text: spec.title },
      legend: { display: spec.series.length > 1 },
      scales: {
        xAxes: [{ ticks: { autoSkip: true, maxTicksLimit: 8, maxRotation: 0 } }],
        yAxes: [{ scaleLabel: { display: true, labelString: spec.yLabel } }],
      },
    },
  };
}

export class QuickChartRenderer implements ChartRenderer {
  private readonly base: URL;
  private readonly width: number;
  private readonly height: number;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { url: string; until: number }>();

  constructor(options: QuickChartRendererOptions) {
    this.base = new URL(options.baseUrl.replace(/\/+$/, ''));
    this.width = options.width ?? 800;
    this.height = options.height ?? 400;
    this.timeoutMs = options.timeoutMs ?? 8_000;
    this.cacheMs = options.cacheMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
  }

  async render(spec: ChartSpec): Promise<{ url: string }> {
    // JSON, not the library's JavaScript-literal form: any QuickChart parses it, and so can a test.
    const config = JSON.stringify(chartJsConfig(spec));
    const key = createHash('sha256').update(`${this.width}x${this.height}:${config}`).digest('hex');
    const cached = this.cache.get(key);
    if (cached && cached.until > this.now()) return { url: cached.url };

    const chart = new QuickChart()
      .setConfig(config)
      .setWidth(this.width)
      .setHeight(this.height)
      .setBackgroundColor('#ffffff')
      .setScheme(this.base.protocol.replace(':', ''))
      .setHost(this.base.host + this.base.pathname.replace(/\/$/, ''));
    const getUrl = chart.getUrl();
    const url = getUrl.length <= MAX_GET_URL ? getUrl : await this.create(chart);
    await this.expectPng(url);
    this.remember(key, url);
    return { url };
  }

  /** POST /chart/create: QuickChart keeps the chart and answers its short URL. */
  private async create(chart: QuickChart): Promise<string> {
    const response = await this.call(`${this.base.href.replace(/\/$/, '')}/chart/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chart.getPostData()),
    });
    if (!response.ok) throw new ChartUnavailableError(`QuickChart answered ${response.status}`);
    const body = (await response.json().catch(() => undefined)) as { success?: boolean; url?: unknown } | undefined;
    if (!body?.success || typeof body.url !== 'string' || !/^https?:\/\//.test(body.url)) {
      throw new ChartUnavailableError('QuickChart did not create the chart');
    }
    return body.url;
  }

  /** Fetches the URL as a platform would and expects a PNG. */
  private async expectPng(url: string): Promise<void> {
    const response = await this.call(url, { method: 'GET' });
    const type = response.headers.get('content-type') ?? '';
    // Read it all (a PNG of a chart is a few tens of kB): the image must really be there.
    const body = await response.arrayBuffer().catch(() => new ArrayBuffer(0));
    if (!response.ok) throw new ChartUnavailableError(`QuickChart answered ${response.status}`);
    if (!type.startsWith('image/png') || body.byteLength === 0) throw new ChartUnavailableError('QuickChart did not return an image');
  }

  private async call(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch {
      throw new ChartUnavailableError('QuickChart did not answer');
    }
  }

  private remember(key: string, url: string): void {
    const now = this.now();
    for (const [k, entry] of this.cache) if (entry.until <= now) this.cache.delete(k);
    // Oldest first out: a Map iterates in insertion order.
    while (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { url, until: now + this.cacheMs });
  }
}
