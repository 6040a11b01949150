/**
 * Pure rules for headlines: merging several feeds into one list (deduplicated, newest first) and
 * finding the ones about a coin. infra/news fetches; this decides what users see.
 */
import type { Coin } from '../domain';
import type { NewsItem } from '../ports';

/** The same story under two addresses differs only by tracking parameters, a fragment or a
 *  trailing slash; anything unparsable is compared as written. */
function linkKey(link: string): string {
  try {
    const url = new URL(link);
    url.hash = '';
    for (const name of [...url.searchParams.keys()]) if (/^utm_/i.test(name)) url.searchParams.delete(name);
    return `${url.host.toLowerCase().replace(/^www\./, '')}${url.pathname.replace(/\/+$/, '')}${url.search}`;
  } catch {
    return link.trim();
  }
}

/** Syndicated copies change case, punctuation, quotes and spacing ("S.E.C." for "SEC"), not
 *  letters: the key is the title's letters and digits alone. */
export function titleKey(title: string): string {
  return title.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Newest first (undated items last); of two items with the same link or the same normalised
 *  title, the newer one stays. */
export function mergeHeadlines(lists: NewsItem[][]): NewsItem[] {
  const sorted = lists.flat().sort((a, b) => (b.publishedAt ?? -Infinity) - (a.publishedAt ?? -Infinity));
  const seenLinks = new Set<string>();
  const seenTitles = new Set<string>();
  const merged: NewsItem[] = [];
  for (const item of sorted) {
    const link = linkKey(item.link);
    const title = titleKey(item.title);
    if (seenLinks.has(link) || (title && seenTitles.has(title))) continue;
    seenLinks.add(link);
    if (title) seenTitles.add(title);
    merged.push(item);
  }
  return merged;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether the title or summary names the coin (its name or symbol) as a whole word, in any
 *  case: "ETH" and "Ethereum's" match ether, "method" and "Tether" do not. */
export function mentions(item: NewsItem, coin: Pick<Coin, 'name' | 'symbol'>): boolean {
  const words = [coin.name, coin.symbol].filter((w) => w.trim()).map(escapeRegExp);
  // Letters and digits of any script bound a word; \b would only know ASCII.
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.join('|')})(?![\\p{L}\\p{N}])`, 'iu');
  return pattern.test(item.title) || pattern.test(item.summary);
}
