/**
 * The core's RichMessage as Telegram messages: HTML parse mode with every inserted string escaped,
 * tables in <pre>, buttons as an inline keyboard, a chart as a photo, and chunks that each fit
 * Telegram's limits (4,096 characters of text, 1,024 of caption) without cutting a tag, an HTML
 * entity or a grapheme (an emoji stays whole).
 *
 * Lengths are measured on the HTML in UTF-16 code units, which is never less than what Telegram
 * counts (the text after entity parsing), so a chunk that fits here fits there.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'telegraf/types';
import { renderTable, type Button, type RichMessage, type Tone } from '../../core/messages';

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;

/** One message to send: text, or a photo with an optional caption. Both use parse_mode HTML. */
export type RenderedChunk =
  | { kind: 'text'; html: string; keyboard?: InlineKeyboardMarkup }
  | { kind: 'photo'; url: string; caption?: string; keyboard?: InlineKeyboardMarkup };

export interface RenderOptions {
  /** Callback data for a button (the bot keeps what it means); at most 64 bytes. */
  buttonData: (button: Button) => string;
  /** The bot's username, for t.me deep links. */
  botUsername?: string;
  /** Link buttons added after the message's own buttons. */
  urlButtons?: Array<{ text: string; url: string }>;
  /** A line added at the end, e.g. "Updated 12:00:05 UTC" on a refreshed message. */
  note?: string;
  /** Per-chunk limits; the defaults are Telegram's. */
  textLimit?: number;
  captionLimit?: number;
}

const TONE_MARK: Record<Tone, string> = { info: '', success: '✅ ', warning: '⚠️ ', error: '❌ ' };

/** Escapes text for Telegram's HTML parse mode. */
export function escapeHtml(text: string): string {
  return wellFormed(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeHtml(text).replace(/"/g, '&quot;');
}

/** Lone surrogates cannot be sent as UTF-8: replace them as the JSON encoder would not. */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A deep link that opens the bot and sends /start <payload>; undefined when either is unusable. */
export function deepLink(botUsername: string | undefined, payload: string): string | undefined {
  if (!botUsername || !/^[A-Za-z0-9_]{3,64}$/.test(botUsername) || !/^[A-Za-z0-9_-]{1,64}$/.test(payload)) return undefined;
  return `https://t.me/${botUsername}?start=${payload}`;
}

// A block is a paragraph: lines of spans, optionally preformatted as a whole.
type Span = { raw: string; bold?: boolean; italic?: boolean; href?: string };
type Line = Span[];
interface Block {
  pre?: boolean;
  lines: Line[];
}

function spanHtml(span: Span): string {
  let html = escapeHtml(span.raw);
  if (span.href) html = `<a href="${escapeAttribute(span.href)}">${html}</a>`;
  if (span.italic) html = `<i>${html}</i>`;
  if (span.bold) html = `<b>${html}</b>`;
  return html;
}

const lineHtml = (line: Line) => line.map(spanHtml).join('');
const PRE_OPEN = '<pre>';
const PRE_CLOSE = '</pre>';

function blockHtml(block: Block, lines: Line[] = block.lines): string {
  const body = lines.map(lineHtml).join('\n');
  return block.pre ? `${PRE_OPEN}${body}${PRE_CLOSE}` : body;
}

const plainLines = (text: string, style: Omit<Span, 'raw'> = {}): Line[] => text.split('\n').map((raw) => [{ raw, ...style }]);

function blocksOf(message: RichMessage, options: RenderOptions): { title?: Block; rest: Block[] } {
  const mark = TONE_MARK[message.tone];
  const rest: Block[] = [];
  let title: Block | undefined;
  if (message.title) title = { lines: [[{ raw: `${mark}${message.title}`, bold: true }]] };
  if (message.text) rest.push({ lines: plainLines(title || !mark ? message.text : `${mark}${message.text}`) });
  else if (!title && mark && !message.fields?.length && !message.table) rest.push({ lines: [[{ raw: mark.trim() }]] });
  if (message.fields?.length) {
    rest.push({ lines: message.fields.map((f) => [{ raw: `${f.label}:`, bold: true }, { raw: ` ${f.value}` }]) });
  }
  if (message.table) {
    rest.push(message.table.rows.length ? { pre: true, lines: plainLines(renderTable(message.table)) } : { lines: [[{ raw: '(nothing yet)', italic: true }]] });
  }
  const link = message.linkCode ? deepLink(options.botUsername, message.linkCode) : undefined;
  if (link) rest.push({ lines: [[{ raw: 'One tap to link in Telegram: ' }, { raw: link.replace(/^https:\/\//, ''), href: link }]] });
  if (message.imageUrl && !/^https?:\/\//i.test(message.imageUrl)) rest.push({ lines: plainLines(message.imageUrl) });
  if (message.footer) rest.push({ lines: plainLines(message.footer, { italic: true }) });
  if (options.note) rest.push({ lines: plainLines(options.note, { italic: true }) });
  return { title, rest };
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Graphemes, except that an absurdly long one (stacked combining marks) falls back to code points. */
function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    if (segment.length > 32) out.push(...Array.from(segment));
    else out.push(segment);
  }
  return out;
}

const spanOverhead = (span: Span) => spanHtml({ ...span, raw: '' }).length;

/** Cuts one line into lines whose HTML fits `budget`, between graphemes, re-opening tags per piece. */
function splitLine(line: Line, budget: number): Line[] {
  const out: Line[] = [];
  let current: Line = [];
  let size = 0;
  for (const span of line) {
    const overhead = spanOverhead(span);
    let piece = '';
    const closePiece = () => {
      if (piece) current.push({ ...span, raw: piece });
      piece = '';
    };
    for (const g of graphemes(span.raw)) {
      const cost = escapeHtml(g).length + (piece ? 0 : overhead);
      if (size + cost > budget && (piece || current.length)) {
        closePiece();
        out.push(current);
        current = [];
        size = 0;
        piece = g;
        size = overhead + escapeHtml(g).length;
        continue;
      }
      piece += g;
      size += cost;
    }
    closePiece();
  }
  if (current.length) out.push(current);
  return out;
}

/** A block as HTML parts that each fit `limit`, split between lines (or inside an over-long line). */
function splitBlock(block: Block, limit: number): string[] {
  const budget = limit - (block.pre ? PRE_OPEN.length + PRE_CLOSE.length : 0);
  const lines = block.lines.flatMap((line) => (lineHtml(line).length <= budget ? [line] : splitLine(line, budget)));
  const parts: string[] = [];
  let current: Line[] = [];
  let size = 0;
  for (const line of lines) {
    const length = lineHtml(line).length;
    const added = (current.length ? 1 : 0) + length;
    if (current.length && size + added > budget) {
      parts.push(blockHtml(block, current));
      current = [];
      size = 0;
    }
    size += current.length ? 1 + length : length;
    current.push(line);
  }
  if (current.length) parts.push(blockHtml(block, current));
  return parts;
}

/** Packs blocks into as few chunks as fit `limit`; a block that does not fit whole starts a new chunk. */
function pack(blocks: Block[], limit: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const block of blocks) {
    const html = blockHtml(block);
    if (current && current.length + 2 + html.length <= limit) {
      current += `\n\n${html}`;
      continue;
    }
    if (current) chunks.push(current);
    current = '';
    if (html.length <= limit) {
      current = html;
      continue;
    }
    const parts = splitBlock(block, limit);
    chunks.push(...parts.slice(0, -1));
    current = parts[parts.length - 1] ?? '';
  }
  if (current) chunks.push(current);
  return chunks;
}

/** The inline keyboard: confirm/cancel side by side, paging side by side, others a row each. */
export function keyboardOf(buttons: Button[], options: Pick<RenderOptions, 'buttonData' | 'urlButtons'>): InlineKeyboardMarkup | undefined {
  const rows: InlineKeyboardButton[][] = [];
  let row: InlineKeyboardButton[] = [];
  for (const button of buttons) {
    row.push({ text: button.label, callback_data: options.buttonData(button) });
    if (row.length === 3) {
      rows.push(row);
      row = [];
    }
  }
  if (row.length) rows.push(row);
  for (const link of options.urlButtons ?? []) rows.push([{ text: link.text, url: link.url }]);
  return rows.length ? { inline_keyboard: rows } : undefined;
}

/** Renders a reply as the messages to send, in order; the keyboard rides on the last one. */
export function renderRichMessage(message: RichMessage, options: RenderOptions): RenderedChunk[] {
  const textLimit = options.textLimit ?? TEXT_LIMIT;
  const captionLimit = options.captionLimit ?? CAPTION_LIMIT;
  const { title, rest } = blocksOf(message, options);
  const all = title ? [title, ...rest] : rest;
  const chunks: RenderedChunk[] = [];
  const photo = message.imageUrl && /^https?:\/\//i.test(message.imageUrl) ? message.imageUrl : undefined;
  if (photo) {
    const whole = pack(all, captionLimit);
    if (whole.length <= 1) {
      chunks.push({ kind: 'photo', url: photo, caption: whole[0] });
    } else {
      const caption = title ? pack([title], captionLimit) : [];
      chunks.push({ kind: 'photo', url: photo, caption: caption.length === 1 ? caption[0] : undefined });
      const remaining = caption.length === 1 ? rest : all;
      for (const html of pack(remaining, textLimit)) chunks.push({ kind: 'text', html });
    }
  } else {
    for (const html of pack(all, textLimit)) chunks.push({ kind: 'text', html });
    if (!chunks.length) chunks.push({ kind: 'text', html: escapeHtml('…') });
  }
  const keyboard = keyboardOf(message.buttons ?? [], options);
  if (keyboard) chunks[chunks.length - 1]!.keyboard = keyboard;
  return chunks;
}
