/**
 * The core's RichMessage as one Discord message: an embed (title, text, an aligned monospace
 * table, fields, image, footer) coloured by tone, and the buttons as action rows. Everything fits
 * Discord's limits by construction (title 256, description 4096, 25 fields of 256/1024, footer
 * 2048, 6000 characters in all, 5 rows of 5 buttons, labels 80, custom ids 100), so Discord never
 * refuses a reply, whatever the input; text is cut with an ellipsis, a table loses rows with a
 * note saying how many, extra fields and buttons are dropped with a note.
 *
 * The core's strings are plain text, and some of them echo what users typed (usernames, coin ids,
 * an unknown command). So every string that Discord reads as markdown (title, description, field
 * names and values) has Discord's markdown escaped: `\ * _ ~ ` | < > [ ]` everywhere (bold,
 * italics, strike, code, spoilers, mentions, channel links, timestamps, custom emoji and masked
 * links), and at the start of a line `#`, `-`, `+` and "1." (headings, subtext, lists). `<@123>`
 * then reads literally, and `@everyone` in an embed never pings. Inside the table's code block
 * markdown is not parsed, and a backtick (which could close the block) becomes a look-alike "ˋ" of
 * the same width. The footer is not parsed by Discord, so it is sent as it is. `allowed_mentions`
 * is always `{ parse: [] }`: even a mention that got through would ping nobody.
 *
 * Colour follows the tone (success green, error red, warning amber, info blurple). A RichMessage
 * carries no machine-readable sign for a gain or a loss (P&L is formatted money inside fields and
 * table cells), so a portfolio is coloured by its tone only: guessing a sign from text would be
 * wrong for some currencies' formats.
 *
 * Lengths are measured in UTF-16 code units, never less than the characters Discord counts, and
 * text is cut between code points; lone surrogates become U+FFFD (they cannot be sent).
 */
import {
  ButtonStyle,
  ComponentType,
  MessageFlags,
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIEmbed,
  type APIEmbedField,
} from 'discord.js';
import { renderTable, type Button, type Field, type RichMessage, type Table, type Tone } from '../../core/messages';
import { ELLIPSIS, fitUnits, prefix, wellFormed } from '../shared/text-fit';

export const EMBED_LIMITS = {
  title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, total: 6000, embeds: 10,
} as const;
export const COMPONENT_LIMITS = { rows: 5, buttonsPerRow: 5, label: 80, customId: 100 } as const;

export const TONE_COLOURS: Record<Tone, number> = {
  success: 0x57f287, // Discord green
  error: 0xed4245, // Discord red
  warning: 0xfaa61a, // amber
  info: 0x5865f2, // blurple
};

export interface DiscordRenderOptions {
  /** The custom_id of the message's button at `index` (its place in message.buttons); at most 100 characters. */
  buttonId(button: Button, index: number): string;
  /** Only the caller sees the message (flags 64). */
  ephemeral: boolean;
}

export interface DiscordMessagePayload {
  content?: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponent>[];
  flags?: number;
  allowed_mentions: { parse: [] };
}

/** Shown for a field with an empty label or value (Discord refuses empty ones). */
const BLANK = '\u200b';

// ---- text ---------------------------------------------------------------------------------------

const ALWAYS = new Set(['\\', '*', '_', '~', '`', '|', '<', '>', '[', ']']);
const LINE_START = new Set(['#', '-', '+']);

/** Plain text as Discord markdown that shows exactly that text: one unit per code point (the code
 *  point, escaped where needed), so a cut between units never splits an escape. */
function escapedUnits(text: string): string[] {
  const points = Array.from(wellFormed(text));
  const units: string[] = [];
  let lineStart = true;
  for (let i = 0; i < points.length; i++) {
    const c = points[i]!;
    if (c === '\n') {
      units.push(c);
      lineStart = true;
      continue;
    }
    if (lineStart && (c === ' ' || c === '\t')) {
      units.push(c);
      continue;
    }
    if (ALWAYS.has(c) || (lineStart && LINE_START.has(c))) units.push(`\\${c}`);
    else if (lineStart && /\d/.test(c)) {
      // "12. item" is an ordered list: escape its dot.
      let j = i;
      while (j < points.length && /\d/.test(points[j]!)) j++;
      units.push(...points.slice(i, j));
      if (points[j] === '.') {
        units.push('\\.');
        j++;
      }
      i = j - 1;
    } else units.push(c);
    lineStart = false;
  }
  return units;
}

/** Escaped markdown for plain text. */
export function escapeMarkdown(text: string): string {
  return escapedUnits(text).join('');
}

/** Plain text escaped and cut to `max`. Only as much of the text as can show is escaped: the
 *  escape of a prefix is the prefix of the escape. */
function fitEscaped(text: string, max: number): string {
  return fitUnits(escapedUnits(prefix(text, max + 1)), max);
}

/** The escaped length of a text, or `cap` when it is longer. */
function escapedLength(text: string, cap: number): number {
  return Math.min(cap, escapedUnits(prefix(text, cap + 1)).join('').length);
}

/** Plain text (not parsed as markdown by Discord) cut to `max`. */
function fitPlain(text: string, max: number): string {
  return fitUnits(Array.from(wellFormed(prefix(text, max + 1))), max);
}

// ---- table --------------------------------------------------------------------------------------

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/** The table as a code block within `budget` characters: rows cut from the end with a note of how
 *  many were left out, over-long lines cut with an ellipsis. */
function tableBlock(table: Table, budget: number): string {
  if (!table.rows.length) return fitEscaped('(nothing yet)', budget);
  const flat = (cell: string) => cell.replace(/\r\n|[\r\n]/g, ' ');
  const oneLine: Table = { ...table, columns: table.columns.map(flat), rows: table.rows.map((row) => row.map(flat)) };
  const note = (left: number) => (left ? `\n${left} more ${left === 1 ? 'row' : 'rows'} not shown.` : '');
  const total = table.rows.length;
  const lineWidth = Math.max(1, Math.min(1000, budget - FENCE_OPEN.length - FENCE_CLOSE.length - note(total).length - 1));
  // Each line once, cut to the width and with backticks made harmless.
  const lines = renderTable(oneLine).split('\n').map((line) => fitPlain(line, lineWidth).replace(/`/g, 'ˋ'));
  // size(k): the block with the header and the first k rows; lines are joined by newlines.
  const header = lines[0]!.length + 1 + lines[1]!.length;
  const sizes = [header];
  for (let i = 0; i < total; i++) sizes.push(sizes[i]! + 1 + lines[2 + i]!.length);
  const size = (k: number) => FENCE_OPEN.length + sizes[k]! + FENCE_CLOSE.length + note(total - k).length;
  let shownRows = total;
  while (shownRows >= 0 && size(shownRows) > budget) shownRows--;
  if (shownRows < 0) return fitPlain(`${total} ${total === 1 ? 'row' : 'rows'} not shown.`, budget);
  return `${FENCE_OPEN}${lines.slice(0, 2 + shownRows).join('\n')}${FENCE_CLOSE}${note(total - shownRows)}`;
}

// ---- fields -------------------------------------------------------------------------------------

const INLINE_MAX = 24;

/** A note in place of the fields that did not fit: its name and value take at most this much. */
const FIELD_NOTE_RESERVE = 40;

function fieldsWithin(fields: Field[], budget: number): APIEmbedField[] {
  const inline = (field: Field) => field.label.length <= INLINE_MAX && field.value.length <= INLINE_MAX && !field.value.includes('\n');
  // All of them whole when they fit: no room is kept for a note nobody needs.
  if (fields.length <= EMBED_LIMITS.fields && fieldsWant(fields) <= budget) {
    return fields.map((field) => ({
      name: nonBlank(fitEscaped(field.label, EMBED_LIMITS.fieldName)),
      value: nonBlank(fitEscaped(field.value, EMBED_LIMITS.fieldValue)),
      inline: inline(field),
    }));
  }
  const out: APIEmbedField[] = [];
  let left = budget;
  // One place is kept for the note when there are more fields than Discord shows.
  const cap = Math.min(fields.length, fields.length > EMBED_LIMITS.fields ? EMBED_LIMITS.fields - 1 : EMBED_LIMITS.fields);
  for (let i = 0; i < cap; i++) {
    const room = left - (i < fields.length - 1 ? FIELD_NOTE_RESERVE : 0);
    if (room < 2) break;
    const field = fields[i]!;
    // The value keeps what it needs up to half the room; the name has the rest.
    const valueNeeds = Math.min(escapedLength(field.value, EMBED_LIMITS.fieldValue) || 1, Math.floor(room / 2));
    const name = nonBlank(fitEscaped(field.label, Math.min(EMBED_LIMITS.fieldName, Math.max(1, room - valueNeeds))));
    const value = nonBlank(fitEscaped(field.value, Math.min(EMBED_LIMITS.fieldValue, room - name.length)));
    if (name.length + value.length > room) break;
    out.push({ name, value, inline: inline(field) });
    left -= name.length + value.length;
  }
  const dropped = fields.length - out.length;
  if (dropped > 0) {
    const note = { name: 'More', value: `${dropped} more ${dropped === 1 ? 'field' : 'fields'} not shown.` };
    if (note.name.length + note.value.length <= left) out.push(note);
  }
  return out;
}

/** Discord refuses a field name or value that is empty or only spaces. */
function nonBlank(text: string): string {
  return text.trim() ? text : BLANK;
}

/** What the fields would take uncut. */
function fieldsWant(fields: Field[]): number {
  return fields.slice(0, EMBED_LIMITS.fields).reduce((sum, f) => sum + (escapedLength(f.label, EMBED_LIMITS.fieldName) || 1) + (escapedLength(f.value, EMBED_LIMITS.fieldValue) || 1), 0)
    + (fields.length > EMBED_LIMITS.fields ? FIELD_NOTE_RESERVE : 0);
}

// ---- description --------------------------------------------------------------------------------

function imageOf(message: RichMessage): string | undefined {
  const url = message.imageUrl;
  if (!url || url.length > 2048) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Text, then the table (and an image address that is not a URL), within `budget`. */
function descriptionWithin(message: RichMessage, budget: number): string {
  const extra = message.imageUrl && !imageOf(message) ? message.imageUrl : undefined;
  const textParts = [message.text, extra].filter((s): s is string => Boolean(s));
  const text = textParts.join('\n\n');
  if (!message.table) return fitEscaped(text, budget);
  const table = message.table;
  const tableWant = tableBlock(table, EMBED_LIMITS.description).length;
  const separator = text ? 2 : 0;
  const textUnits = escapedUnits(prefix(text, budget + 1));
  const textWant = textUnits.join('').length;
  // Both fit, or the text keeps what the table leaves it and at least half.
  const textBudget = textWant + separator + tableWant <= budget ? textWant : Math.min(textWant, Math.max(Math.floor(budget / 2), budget - tableWant - separator));
  const shownText = fitUnits(textUnits, textBudget);
  const block = tableBlock(table, budget - shownText.length - (shownText ? 2 : 0));
  return [shownText, block].filter(Boolean).join('\n\n');
}

function descriptionWant(message: RichMessage): number {
  const text = [message.text, message.imageUrl && !imageOf(message) ? message.imageUrl : undefined].filter(Boolean).join('\n\n');
  const table = message.table ? tableBlock(message.table, EMBED_LIMITS.description).length + 2 : 0;
  return Math.min(EMBED_LIMITS.description, escapedLength(text, EMBED_LIMITS.description) + table);
}

// ---- buttons ------------------------------------------------------------------------------------

const STYLE: Record<NonNullable<Button['kind']> | 'other', ButtonStyle.Success | ButtonStyle.Danger | ButtonStyle.Secondary> = {
  confirm: ButtonStyle.Success,
  cancel: ButtonStyle.Danger,
  refresh: ButtonStyle.Secondary,
  other: ButtonStyle.Secondary,
};

function actionRows(buttons: Button[], options: DiscordRenderOptions): APIActionRowComponent<APIButtonComponent>[] {
  const max = COMPONENT_LIMITS.rows * COMPONENT_LIMITS.buttonsPerRow;
  const rows: APIActionRowComponent<APIButtonComponent>[] = [];
  const seen = new Set<string>();
  buttons.slice(0, max).forEach((button, index) => {
    const customId = options.buttonId(button, index);
    if (!customId || customId.length > COMPONENT_LIMITS.customId) throw new Error(`A button's custom_id must be 1-${COMPONENT_LIMITS.customId} characters, not ${customId.length}`);
    if (seen.has(customId)) throw new Error(`Two buttons share the custom_id ${customId}`);
    seen.add(customId);
    if (index % COMPONENT_LIMITS.buttonsPerRow === 0) rows.push({ type: ComponentType.ActionRow, components: [] });
    rows[rows.length - 1]!.components.push({
      type: ComponentType.Button,
      style: STYLE[button.kind ?? 'other'],
      label: fitPlain(button.label.trim(), COMPONENT_LIMITS.label) || ELLIPSIS,
      custom_id: customId,
    });
  });
  return rows;
}

// ---- the message --------------------------------------------------------------------------------

/** Budget shares when everything cannot fit: each part first gets up to its share, then what is
 *  left goes to the description, the fields and the footer, in that order. */
const SHARE = { footer: 512, fields: 1500, description: 3700 } as const;

export function renderDiscordMessage(message: RichMessage, options: DiscordRenderOptions): DiscordMessagePayload {
  // Gains green and losses red where the message says which way money moved; else by tone.
  const colour = message.trend === 'up' ? TONE_COLOURS.success : message.trend === 'down' ? TONE_COLOURS.error : TONE_COLOURS[message.tone];
  const embed: APIEmbed = { color: colour ?? TONE_COLOURS.info };
  const title = message.title?.trim() ? fitEscaped(message.title, EMBED_LIMITS.title) : '';
  if (title) embed.title = title;

  const fields = message.fields ?? [];
  const want = {
    description: descriptionWant(message),
    fields: fieldsWant(fields),
    footer: message.footer ? Math.min(EMBED_LIMITS.footer, wellFormed(message.footer).length) : 0,
  };
  const limit = { description: EMBED_LIMITS.description, fields: EMBED_LIMITS.total, footer: EMBED_LIMITS.footer };
  const got = { description: Math.min(want.description, SHARE.description), fields: Math.min(want.fields, SHARE.fields), footer: Math.min(want.footer, SHARE.footer) };
  let left = EMBED_LIMITS.total - title.length - got.description - got.fields - got.footer;
  for (const part of ['description', 'fields', 'footer'] as const) {
    const extra = Math.max(0, Math.min(want[part] - got[part], limit[part] - got[part], left));
    got[part] += extra;
    left -= extra;
  }

  let description = descriptionWithin(message, got.description);
  const shownFields = fields.length ? fieldsWithin(fields, got.fields) : [];
  if (shownFields.length) embed.fields = shownFields;
  // What the fields did not use may go to the footer.
  const fieldsUsed = shownFields.reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  const footerRoom = Math.min(EMBED_LIMITS.footer, got.footer + (got.fields - fieldsUsed) + (got.description - description.length));
  const footer = message.footer ? fitPlain(message.footer, footerRoom) : '';
  if (footer.trim()) embed.footer = { text: footer };
  const image = imageOf(message);
  if (image) embed.image = { url: image };

  // Discord refuses an embed with nothing to read.
  if (!description.trim() && !title && !shownFields.length && !embed.footer && !image) description = ELLIPSIS;
  if (description.trim()) embed.description = description;

  return {
    embeds: [embed],
    components: actionRows(message.buttons ?? [], options),
    ...(options.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
    allowed_mentions: { parse: [] },
  };
}
