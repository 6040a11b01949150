/**
 * NewsSource over RSS and Atom feeds: every feed is read in parallel, each with its own timeout,
 * so a broken or slow feed costs only its own headlines. The merged list is cached, and callers
 * arriving while a read is under way share it: a burst of /news is one read of each feed.
 */
import { mergeHeadlines } from '../../core/news/headlines';
import type { Clock, Logger, NewsReport, NewsSource } from '../../core/ports';
import { readFeed } from './feed-reader';

export interface RssNewsOptions {
  feeds: string[];
  clock: Clock;
  logger: Logger;
  /** How long a read's headlines are served before the feeds are read again. */
  cacheMs: number;
  /** The longest one feed may take, answer included. */
  timeoutMs: number;
}

/** What users read as a feed's source: its host name ("coindesk.com"), with the path as well when
 *  two configured feeds share a host name, so that a failure names the right one. */
export function sourceLabels(feeds: string[]): string[] {
  const host = (feed: string) => new URL(feed).hostname.replace(/^www\./, '');
  const hosts = feeds.map(host);
  return feeds.map((feed, i) => {
    const shared = hosts.filter((h) => h === hosts[i]).length > 1;
    return shared ? `${hosts[i]}${new URL(feed).pathname.replace(/\/+$/, '')}` : hosts[i]!;
  });
}

export class RssNewsSource implements NewsSource {
  private cached?: { report: NewsReport; until: number };
  private reading?: Promise<NewsReport>;
  private readonly labels: string[];

  constructor(private readonly options: RssNewsOptions) {
    this.labels = sourceLabels(options.feeds);
  }

  async latest(): Promise<NewsReport> {
    if (this.cached && this.options.clock.now() < this.cached.until) return this.cached.report;
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(): Promise<NewsReport> {
    const { feeds, timeoutMs, logger, clock, cacheMs } = this.options;
    const results = await Promise.allSettled(feeds.map((feed, i) => readFeed(feed, this.labels[i]!, timeoutMs)));
    const failed: string[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        failed.push(this.labels[i]!);
        logger.warn({ feed: feeds[i], reason: (result.reason as Error).message }, 'news: feed failed');
      }
    });
    const lists = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const report: NewsReport = { items: mergeHeadlines(lists), failed };
    // When nothing answered there is nothing worth keeping: the next /news tries again.
    if (lists.length) this.cached = { report, until: clock.now() + cacheMs };
    return report;
  }
}
