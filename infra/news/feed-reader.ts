/**
 * Reads one RSS or Atom feed: fetched here (so that a timeout covers the whole response, body
 * included), parsed by rss-parser, which knows RSS 0.9 to 2.0 and Atom. Items come out as plain
 * text with an http(s) link; anything else in a feed is dropped.
 */
import Parser from 'rss-parser';
import type { NewsItem } from '../../core/ports';
import { plainText } from './plain-text';

/** More than any real headline feed; a bigger answer is not a feed worth reading. */
const MAX_FEED_BYTES = 2_000_000;
/** Per feed: the newest this many are plenty for an 8-line answer. */
const MAX_ITEMS_PER_FEED = 50;

const parser = new Parser();

export class FeedError extends Error {
  override name = 'FeedError';
}

function httpLink(link: unknown): string | undefined {
  if (typeof link !== 'string') return undefined;
  try {
    const url = new URL(link.trim());
    // A javascript: or data: link must never reach a chat as something to tap.
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Throws FeedError when the feed does not answer in time, answers an error, or is not a feed. */
export async function readFeed(url: string, source: string, timeoutMs: number): Promise<NewsItem[]> {
  let xml: string;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1', 'user-agent': 'CryptoPulse news reader' },
    });
    if (!response.ok) throw new FeedError(`HTTP ${response.status}`);
    if (Number(response.headers.get('content-length') ?? 0) > MAX_FEED_BYTES) throw new FeedError('too large');
    xml = await response.text();
  } catch (error) {
    if (error instanceof FeedError) throw error;
    const name = (error as Error).name;
    throw new FeedError(name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : (error as Error).message);
  }
  if (xml.length > MAX_FEED_BYTES) throw new FeedError('too large');
  let feed: Awaited<ReturnType<typeof parser.parseString>>;
  try {
    feed = await parser.parseString(xml);
  } catch (error) {
    throw new FeedError(`not an RSS or Atom feed: ${(error as Error).message}`);
  }
  const items: NewsItem[] = [];
  for (const entry of feed.items.slice(0, MAX_ITEMS_PER_FEED)) {
    // An Atom title of type xhtml parses to an object, not text: skipped rather than guessed at.
    const title = typeof entry.title === 'string' ? plainText(entry.title) : '';
    const link = httpLink(entry.link) ?? httpLink(entry.guid);
    if (!title || !link) continue;
    const summaryHtml = [entry.contentSnippet, entry.summary, entry.content].find((s): s is string => typeof s === 'string') ?? '';
    const published = entry.isoDate ? Date.parse(entry.isoDate) : NaN;
    items.push({
      title, link, source, summary: plainText(summaryHtml, 1000),
      ...(Number.isFinite(published) && { publishedAt: published }),
    });
  }
  return items;
}
