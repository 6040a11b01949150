/**
 * Platform-neutral rich replies. Handlers return these; each adapter renders them natively
 * (Telegram HTML, Discord embeds, Slack blocks) and `renderPlainText` serves the terminal and any
 * platform that needs a text fallback. All strings are plain text: adapters do their own escaping.
 */
export type Tone = 'info' | 'success' | 'warning' | 'error';

export interface Field {
  label: string;
  value: string;
}

export interface Table {
  columns: string[];
  rows: string[][];
  /** Per column; numbers read best right-aligned. Defaults to left. */
  align?: Array<'left' | 'right'>;
}

export interface Button {
  label: string;
  /** The command line a press runs, as if the user had typed it: "/history 2". */
  command: string;
  /** 'confirm' runs the command as confirmed (see IncomingCommand.confirmed); 'cancel' runs
   *  nothing and the adapter just says it was cancelled; 'refresh' re-runs the command and the
   *  adapter may show when the answer was updated. */
  kind?: 'confirm' | 'cancel' | 'refresh';
}

export interface RichMessage {
  title?: string;
  text?: string;
  fields?: Field[];
  table?: Table;
  buttons?: Button[];
  imageUrl?: string;
  footer?: string;
  /** A one-time link code the platform may offer as a one-tap deep link (Telegram's
   *  t.me/<bot>?start=<code>). */
  linkCode?: string;
  tone: Tone;
  /** Which way the money in it moved (a portfolio's profit or loss, one coin's 24 h change), for
   *  platforms that colour gains and losses (Discord's embed colour). */
  trend?: 'up' | 'down';
  /** Only the caller should see this reply (a DM, an ephemeral message). */
  private?: boolean;
}

/** The trend of a signed amount: none for zero. */
export function trendOf(amount: { isPositive(): boolean; isZero(): boolean }): RichMessage['trend'] {
  if (amount.isZero()) return undefined;
  return amount.isPositive() ? 'up' : 'down';
}

export function reply(tone: Tone, parts: Omit<RichMessage, 'tone'>): RichMessage {
  return { tone, ...parts };
}

export const errorMessage = (text: string, usage?: string): RichMessage =>
  ({ tone: 'error', text: usage ? `${text}\nUsage: ${usage}` : text });

/** Pads a table's cells so columns line up in a monospace font. */
export function renderTable(table: Table): string {
  const widths = table.columns.map((column, i) =>
    Math.max(column.length, ...table.rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (table.align?.[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}

/** The plain-text form of a reply: title, text, fields, table, buttons as hints, footer. */
export function renderPlainText(message: RichMessage): string {
  const blocks: string[] = [];
  if (message.title) blocks.push(message.title);
  if (message.text) blocks.push(message.text);
  if (message.fields?.length) {
    const width = Math.max(...message.fields.map((f) => f.label.length));
    blocks.push(message.fields.map((f) => `${`${f.label}:`.padEnd(width + 1)} ${f.value}`).join('\n'));
  }
  if (message.table) blocks.push(message.table.rows.length ? renderTable(message.table) : '(nothing yet)');
  if (message.imageUrl) blocks.push(message.imageUrl);
  if (message.buttons?.length) blocks.push(message.buttons.map((b) => `[${b.label}: ${b.command}]`).join('  '));
  if (message.footer) blocks.push(message.footer);
  return blocks.join('\n\n');
}
