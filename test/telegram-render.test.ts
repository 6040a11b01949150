/**
 * The Telegram renderer: every chunk must be HTML Telegram accepts (checked with the stand-in's
 * parser, which follows Telegram's rules), fit the limits, and show users exactly the strings the
 * core gave it, however hostile.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAPTION_LIMIT, TEXT_LIMIT, escapeHtml, renderRichMessage, type RenderedChunk } from '../adapters/telegram/render';
import type { Button, RichMessage } from '../core/messages';
import { parseTelegramHtml } from './support/telegram-standin';

const data = (button: Button) => `c:${button.label.slice(0, 8)}`;

function visible(chunk: RenderedChunk): string {
  const html = chunk.kind === 'text' ? chunk.html : chunk.caption ?? '';
  const parsed = parseTelegramHtml(html);
  if (!parsed.ok) throw new Error(`Telegram would refuse: ${parsed.error}\n${html.slice(0, 300)}`);
  return parsed.text;
}

/** Asserts every chunk is valid and within limits; returns what users read, chunk by chunk. */
function check(chunks: RenderedChunk[]): string[] {
  for (const chunk of chunks) {
    if (chunk.kind === 'text') expect(chunk.html.length).toBeLessThanOrEqual(TEXT_LIMIT);
    else expect((chunk.caption ?? '').length).toBeLessThanOrEqual(CAPTION_LIMIT);
  }
  return chunks.map(visible);
}

const squash = (s: string) => s.replace(/\s+/g, '');

describe('Telegram rendering', () => {
  it('escapes every string the core hands over, wherever it appears', () => {
    const hostile = '<b>bold?</b> & <script>alert(1)</script> &amp; "quotes" 🚀';
    const message: RichMessage = {
      tone: 'error', title: hostile, text: hostile, footer: hostile,
      fields: [{ label: hostile, value: hostile }],
      table: { columns: ['Name', 'Value'], rows: [[hostile, '1 < 2 > 0']] },
    };
    const [chunk, ...rest] = renderRichMessage(message, { buttonData: data });
    expect(rest).toEqual([]);
    const html = chunk!.kind === 'text' ? chunk!.html : '';
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>bold?</b>');
    const text = check([chunk!])[0]!;
    // Users read the string itself in all six places: title, text, label, value, cell, footer.
    expect(text.split(hostile).length - 1).toBe(6);
    expect(text).toContain('1 < 2 > 0');
    expect(text.startsWith('❌ ')).toBe(true);
  });

  it('puts tables in <pre> with their columns aligned, and says when a table is empty', () => {
    const message: RichMessage = {
      tone: 'info', title: 'Portfolio',
      table: { columns: ['Coin', 'Value'], rows: [['BTC', '$1.00'], ['DOGE', '$1,000.00']], align: ['left', 'right'] },
    };
    const [chunk] = renderRichMessage(message, { buttonData: data });
    expect(chunk!.kind === 'text' && chunk!.html).toContain('<pre>Coin  ');
    expect(visible(chunk!)).toContain('BTC       $1.00\nDOGE  $1,000.00');
    const empty = renderRichMessage({ tone: 'info', title: 'History', table: { columns: ['A'], rows: [] } }, { buttonData: data });
    expect(visible(empty[0]!)).toContain('(nothing yet)');
  });

  it('splits a long reply into chunks under 4,096 characters without losing or breaking anything', () => {
    const longText = Array.from({ length: 400 }, (_, i) => `Line ${i} & <tag ${i}> with some words 🚀`).join('\n');
    const rows = Array.from({ length: 300 }, (_, i) => [`user_${i}`, `${i} < ${i + 1}`, 'x'.repeat(20)]);
    const message: RichMessage = {
      tone: 'info', title: 'Everything', text: longText, table: { columns: ['User', 'Rel', 'Pad'], rows },
      footer: 'the end', buttons: [{ label: 'Next »', command: '/users 2' }],
    };
    const chunks = renderRichMessage(message, { buttonData: data });
    expect(chunks.length).toBeGreaterThan(3);
    const texts = check(chunks);
    const joined = squash(texts.join(''));
    expect(joined).toContain(squash(longText));
    for (const row of rows) expect(joined).toContain(squash(row.join('')).slice(0, 10));
    // Table pieces are each preformatted; only the last chunk carries the keyboard.
    expect(chunks.filter((c) => c.kind === 'text' && c.html.includes('<pre>')).length).toBeGreaterThan(1);
    expect(chunks.slice(0, -1).every((c) => !c.keyboard)).toBe(true);
    expect(chunks[chunks.length - 1]!.keyboard?.inline_keyboard[0]![0]).toEqual({ text: 'Next »', callback_data: 'c:Next »' });
  });

  it('cuts a single over-long line between graphemes, never inside an emoji or an entity', () => {
    const family = '👨‍👩‍👧‍👦';
    const name = `${family}&<>`.repeat(1500); // one line, far over the limit once escaped
    const chunks = renderRichMessage({ tone: 'success', title: name }, { buttonData: data });
    expect(chunks.length).toBeGreaterThan(1);
    const texts = check(chunks);
    expect(texts.join('').replace(/^✅ /, '')).toBe(name);
    for (const chunk of chunks) expect(chunk.kind === 'text' && chunk.html.startsWith('<b>') && chunk.html.endsWith('</b>')).toBe(true);
    expect(texts.join('')).not.toContain('\uFFFD');
  });

  it('sends a chart as a photo, its caption within 1,024 characters', () => {
    const short = renderRichMessage({ tone: 'info', title: 'BTC chart', imageUrl: 'https://quickchart.io/chart?c=1', footer: 'a <b>' }, { buttonData: data });
    expect(short).toHaveLength(1);
    expect(short[0]).toMatchObject({ kind: 'photo', url: 'https://quickchart.io/chart?c=1' });
    expect(visible(short[0]!)).toBe('BTC chart\n\na <b>');

    const long = renderRichMessage({ tone: 'info', title: 'BTC chart', text: 'y'.repeat(3000), imageUrl: 'https://quickchart.io/chart?c=2', buttons: [{ label: 'Refresh', command: '/chart btc' }] }, { buttonData: data });
    expect(long[0]).toMatchObject({ kind: 'photo', caption: '<b>BTC chart</b>' });
    expect(long.slice(1).every((c) => c.kind === 'text')).toBe(true);
    check(long);
    expect(long[long.length - 1]!.keyboard).toBeDefined();
  });

  it('offers a link code as a one-tap t.me deep link', () => {
    const chunks = renderRichMessage({ tone: 'info', title: 'Link code', text: '7KQ2M9XD', linkCode: '7KQ2M9XD' }, { buttonData: data, botUsername: 'CryptoPulseBot' });
    const html = chunks[0]!.kind === 'text' ? chunks[0]!.html : '';
    expect(html).toContain('<a href="https://t.me/CryptoPulseBot?start=7KQ2M9XD">t.me/CryptoPulseBot?start=7KQ2M9XD</a>');
    const unsafe = renderRichMessage({ tone: 'info', text: 'x', linkCode: 'bad code"><b>' }, { buttonData: data, botUsername: 'CryptoPulseBot' });
    expect(visible(unsafe[0]!)).toBe('x');
  });

  it('lays confirm and cancel side by side, with link buttons after', () => {
    const chunks = renderRichMessage({
      tone: 'warning', title: 'Confirm?',
      buttons: [{ label: 'Confirm', command: '/buy btc $5000', kind: 'confirm' }, { label: 'Cancel', command: '/buy btc $5000', kind: 'cancel' }],
    }, { buttonData: data, urlButtons: [{ text: 'Open', url: 'https://t.me/Bot' }] });
    expect(chunks[0]!.keyboard).toEqual({ inline_keyboard: [[{ text: 'Confirm', callback_data: 'c:Confirm' }, { text: 'Cancel', callback_data: 'c:Cancel' }], [{ text: 'Open', url: 'https://t.me/Bot' }]] });
  });

  it('escapes exactly the three characters Telegram reserves', () => {
    expect(escapeHtml('a<b>&c"d')).toBe('a&lt;b&gt;&amp;c"d');
  });

  it('accepts anything: every chunk of any message is valid, within limits, and shows all the text', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 600 });
    fc.assert(
      fc.property(
        fc.record({ title: text, body: fc.array(text, { maxLength: 12 }), cells: fc.array(fc.tuple(text, text), { maxLength: 20 }), footer: text }),
        ({ title, body, cells, footer }) => {
          const message: RichMessage = {
            tone: 'info', title: title || undefined, text: body.join('\n') || undefined, footer: footer || undefined,
            table: cells.length ? { columns: ['A', 'B'], rows: cells.map(([a, b]) => [a, b]) } : undefined,
          };
          const chunks = renderRichMessage(message, { buttonData: data, textLimit: 700 });
          for (const chunk of chunks) expect(chunk.kind === 'text' && chunk.html.length <= 700).toBe(true);
          // Lone surrogates cannot be sent as UTF-8 and become U+FFFD: compare without them.
          const shown = squash(chunks.map(visible).join('')).replace(/\uFFFD/g, '');
          for (const part of [title, ...body, footer]) expect(shown).toContain(squash(part).replace(/\uFFFD/g, ''));
        },
      ),
      { numRuns: 1000, seed: 20261125 },
    );
  });
});
