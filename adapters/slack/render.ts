/**
 * The core's RichMessage as one Slack message in Block Kit: a header (the title), the text in
 * sections, the fields as section fields, the table as a code block, an image block, the footer as
 * a context block, and the buttons as an actions block; plus a plain `text` fallback (what
 * notifications and screen readers show). Everything fits Slack's limits by construction (header
 * 150, section text 3000, 10 fields of 2000 per section, 25 elements in an actions block, button
 * text 75, 50 blocks), so Slack never refuses a reply whatever the input: text is cut with an
 * ellipsis, a table loses rows with a note saying how many.
 *
 * The core's strings are plain text and some echo what users typed (usernames, coin ids). Slack's
 * mrkdwn reads `<…>` as mentions (`<@U123>`, `<!channel>`) and links, and `&` starts an entity, so
 * every string that is mrkdwn has `&`, `<` and `>` written as `&amp;` `&lt;` `&gt;` (Slack's own
 * rule): user input never pings anyone and never becomes a link. The bot never sets link_names, so
 * a bare "@channel" stays text too. Header and button texts are plain_text (not parsed), sent as
 * they are.
 *
 * Lengths are counted in UTF-16 units (never fewer than the characters Slack counts), after
 * escaping, and text is cut between code points, never inside an entity.
 */
import { renderPlainText, renderTable, type Button, type RichMessage, type Table } from '../../core/messages';
import { ELLIPSIS, fitUnits, prefix, wellFormed } from '../shared/text-fit';

export const SLACK_LIMITS = {
  blocks: 50, header: 150, sectionText: 3000, fields: 10, fieldText: 2000, context: 2000, actions: 25,
  buttonText: 75, actionId: 255, imageUrl: 3000, altText: 2000, fallback: 3000,
} as const;

/** How many sections a long text may take (each up to 3000 characters). */
const MAX_TEXT_SECTIONS = 4;
/** How many sections of fields (10 each). */
const MAX_FIELD_SECTIONS = 3;

export interface SlackRenderOptions {
  /** The action_id of the message's button at `index` (its place in message.buttons). */
  actionId(button: Button, index: number): string;
}

type PlainText = { type: 'plain_text'; text: string; emoji?: boolean };
type Mrkdwn = { type: 'mrkdwn'; text: string; verbatim?: boolean };
export type SlackButton = { type: 'button'; text: PlainText; action_id: string; value?: string; style?: 'primary' | 'danger' };
export type SlackBlock =
  | { type: 'header'; text: PlainText }
  | { type: 'section'; text?: Mrkdwn; fields?: Mrkdwn[] }
  | { type: 'image'; image_url: string; alt_text: string }
  | { type: 'context'; elements: Mrkdwn[] }
  | { type: 'actions'; elements: SlackButton[] };

export interface SlackMessagePayload {
  text: string;
  blocks: SlackBlock[];
}


// ---- text ---------------------------------------------------------------------------------------

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Plain text as mrkdwn units: one per code point, `& < >` as entities. */
function escapedUnits(text: string): string[] {
  return Array.from(wellFormed(text), (c) => ENTITIES[c] ?? c);
}

/** Plain text as mrkdwn that shows exactly it, with no mention, link or entity of its own. */
export function escapeMrkdwn(text: string): string {
  return escapedUnits(text).join('');
}

const fitEscaped = (text: string, max: number) => fitUnits(escapedUnits(prefix(text, max + 1)), max);
const fitPlain = (text: string, max: number) => fitUnits(Array.from(wellFormed(prefix(text, max + 1))), max);

/** A long text as up to `count` chunks of at most `max` escaped units, cut at line ends where it can. */
function chunks(text: string, max: number, count: number): string[] {
  const units = escapedUnits(prefix(text, max * count + 1));
  const out: string[] = [];
  let start = 0;
  while (start < units.length && out.length < count) {
    let size = 0;
    let end = start;
    while (end < units.length && size + units[end]!.length <= max) size += units[end++]!.length;
    if (end >= units.length) {
      out.push(units.slice(start).join(''));
      break;
    }
    if (out.length === count - 1) {
      out.push(fitUnits(units.slice(start), max));
      break;
    }
    // Break after the last newline in the chunk when there is one in its second half.
    let cut = end;
    for (let i = end - 1; i > start + (end - start) / 2; i--) if (units[i] === '\n') { cut = i + 1; break; }
    out.push(units.slice(start, cut).join('').replace(/\n$/, ''));
    start = cut;
  }
  return out.filter((c) => c.trim());
}

// ---- table --------------------------------------------------------------------------------------

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/** The table as an escaped code block within `budget`: rows cut from the end with a note of how
 *  many were left out, over-long lines cut with an ellipsis. */
export function tableBlock(table: Table, budget: number): string {
  if (!table.rows.length) return fitEscaped('(nothing yet)', budget);
  const flat = (cell: string) => cell.replace(/\r\n|[\r\n]/g, ' ');
  const oneLine: Table = { ...table, columns: table.columns.map(flat), rows: table.rows.map((row) => row.map(flat)) };
  const note = (left: number) => (left ? `\n${left} more ${left === 1 ? 'row' : 'rows'} not shown.` : '');
  const total = table.rows.length;
  const lineWidth = Math.max(1, Math.min(1000, budget - FENCE_OPEN.length - FENCE_CLOSE.length - note(total).length - 1));
  // Backticks could close the block: a look-alike of the same width instead.
  const lines = renderTable(oneLine).split('\n').map((line) => fitUnits(escapedUnits(prefix(line.replace(/`/g, 'ˋ'), lineWidth + 1)), lineWidth));
  const sizes = [lines[0]!.length + 1 + lines[1]!.length];
  for (let i = 0; i < total; i++) sizes.push(sizes[i]! + 1 + lines[2 + i]!.length);
  const size = (k: number) => FENCE_OPEN.length + sizes[k]! + FENCE_CLOSE.length + note(total - k).length;
  let shown = total;
  while (shown >= 0 && size(shown) > budget) shown--;
  if (shown < 0) return fitPlain(`${total} ${total === 1 ? 'row' : 'rows'} not shown.`, budget);
  return `${FENCE_OPEN}${lines.slice(0, 2 + shown).join('\n')}${FENCE_CLOSE}${note(total - shown)}`;
}

// ---- the message --------------------------------------------------------------------------------

function imageOf(message: RichMessage): string | undefined {
  const url = message.imageUrl;
  if (!url || url.length > SLACK_LIMITS.imageUrl) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

const STYLE: Partial<Record<NonNullable<Button['kind']>, 'primary' | 'danger'>> = { confirm: 'primary', cancel: 'danger' };

function actionsBlock(buttons: Button[], options: SlackRenderOptions): SlackBlock | undefined {
  const seen = new Set<string>();
  const elements = buttons.slice(0, SLACK_LIMITS.actions).map((button, index): SlackButton => {
    const actionId = options.actionId(button, index);
    if (!actionId || actionId.length > SLACK_LIMITS.actionId) throw new Error(`A button's action_id must be 1-${SLACK_LIMITS.actionId} characters, not ${actionId.length}`);
    if (seen.has(actionId)) throw new Error(`Two buttons share the action_id ${actionId}`);
    seen.add(actionId);
    const style = button.kind ? STYLE[button.kind] : undefined;
    return {
      type: 'button',
      text: { type: 'plain_text', text: fitPlain(button.label.trim(), SLACK_LIMITS.buttonText) || ELLIPSIS, emoji: true },
      action_id: actionId,
      ...(style ? { style } : {}),
    };
  });
  return elements.length ? { type: 'actions', elements } : undefined;
}

const mrkdwn = (text: string): Mrkdwn => ({ type: 'mrkdwn', text, verbatim: true });

/** The message as Block Kit within Slack's limits, and its plain-text fallback. */
export function renderSlackMessage(message: RichMessage, options: SlackRenderOptions): SlackMessagePayload {
  const blocks: SlackBlock[] = [];
  const title = message.title?.trim() ? fitPlain(message.title.replace(/\s+/g, ' ').trim(), SLACK_LIMITS.header) : '';
  if (title) blocks.push({ type: 'header', text: { type: 'plain_text', text: title, emoji: true } });

  const extra = message.imageUrl && !imageOf(message) ? message.imageUrl : undefined;
  const text = [message.text, extra].filter((s): s is string => Boolean(s?.trim())).join('\n\n');
  for (const chunk of chunks(text, SLACK_LIMITS.sectionText, MAX_TEXT_SECTIONS)) blocks.push({ type: 'section', text: mrkdwn(chunk) });

  const fields = message.fields ?? [];
  const maxFields = SLACK_LIMITS.fields * MAX_FIELD_SECTIONS;
  const shownFields = fields.slice(0, fields.length > maxFields ? maxFields - 1 : maxFields).map((field) => {
    // "*label*\nvalue", the label and the value each escaped and cut so the whole fits 2000.
    const label = fitEscaped(field.label.replace(/\*/g, '∗'), 200);
    return mrkdwn(`*${label || ' '}*\n${fitEscaped(field.value, SLACK_LIMITS.fieldText - label.length - 3) || ' '}`);
  });
  if (fields.length > shownFields.length) shownFields.push(mrkdwn(escapeMrkdwn(`${fields.length - shownFields.length} more not shown.`)));
  for (let i = 0; i < shownFields.length; i += SLACK_LIMITS.fields) blocks.push({ type: 'section', fields: shownFields.slice(i, i + SLACK_LIMITS.fields) });

  if (message.table) blocks.push({ type: 'section', text: mrkdwn(tableBlock(message.table, SLACK_LIMITS.sectionText)) });
  const image = imageOf(message);
  if (image) blocks.push({ type: 'image', image_url: image, alt_text: fitPlain(message.title?.trim() || 'chart', SLACK_LIMITS.altText) });
  if (message.footer?.trim()) blocks.push({ type: 'context', elements: [mrkdwn(fitEscaped(message.footer, SLACK_LIMITS.context))] });
  const actions = actionsBlock(message.buttons ?? [], options);
  if (actions) blocks.push(actions);
  // At most 4 + 3 + 5 blocks by construction, well under 50.
  if (!blocks.length) blocks.push({ type: 'section', text: mrkdwn(ELLIPSIS) });

  const plain = renderPlainText({ ...message, buttons: undefined });
  return { text: fitEscaped(plain, SLACK_LIMITS.fallback) || ELLIPSIS, blocks };
}

/** How Slack writes a command a text names: under the app's one slash command ("/pulse buy"). */
export const slackCommandWriter = (slashCommand: string) => (_command: unknown, typed: string): string => `${slashCommand} ${typed}`;
