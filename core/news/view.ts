/** /news replies: headlines as plain text (the adapters escape it), each with source, age and link. */
import type { Coin } from '../domain';
import { formatAge } from '../format';
import { reply, type RichMessage } from '../messages';
import type { NewsItem, NewsReport } from '../ports';

/** Enough to scan in a chat without scrolling past the conversation. */
export const NEWS_SHOWN = 8;

const coinLabel = (coin: Pick<Coin, 'name' | 'symbol'>) => `${coin.name} (${coin.symbol.toUpperCase()})`;

function itemText(item: NewsItem, index: number, now: number): string {
  const age = item.publishedAt === undefined ? 'time unknown' : formatAge(now - item.publishedAt);
  return `${index + 1}. ${item.title}\n${item.source} · ${age}\n${item.link}`;
}

/** Names the sources that did not answer, so a short list is not mistaken for a quiet day. */
function failedNote(failed: string[]): string | undefined {
  return failed.length ? `Not reachable just now: ${failed.join(', ')}.` : undefined;
}

export function newsReply(report: NewsReport, items: NewsItem[], now: number, coin: Pick<Coin, 'name' | 'symbol' | 'id'> | undefined): RichMessage {
  const refresh = [{ label: 'Refresh', command: coin ? `/news ${coin.id}` : '/news', kind: 'refresh' as const }];
  const footer = failedNote(report.failed);
  if (!report.items.length) {
    // Every feed failed (or all were empty): the user is told plainly, not shown an error.
    return reply('warning', {
      title: 'No news right now',
      text: report.failed.length
        ? 'None of the news sources answered. Try again in a few minutes.'
        : 'The news sources have no headlines at the moment.',
      ...(footer && { footer }),
      buttons: refresh,
    });
  }
  if (!items.length) {
    return reply('info', {
      title: `${coin ? coinLabel(coin) : 'Crypto'} news`,
      text: `None of the latest ${report.items.length} headlines mention ${coin ? coinLabel(coin) : 'it'}. Try /news for everything.`,
      ...(footer && { footer }),
      buttons: refresh,
    });
  }
  const shown = items.slice(0, NEWS_SHOWN);
  return reply('info', {
    title: `${coin ? coinLabel(coin) : 'Crypto'} news`,
    text: shown.map((item, i) => itemText(item, i, now)).join('\n\n'),
    ...(footer && { footer }),
    buttons: refresh,
  });
}
