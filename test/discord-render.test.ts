// RichMessages as Discord messages: within every limit Discord enforces (checked by the stand-in's
// validator, for arbitrary messages too), tables cut with a note, buttons styled and named, the
// ephemeral flag, no mention ever parsed, and hostile text shown as text.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Button, Field, RichMessage, Table, Tone } from '../core/messages';
import { EMBED_LIMITS, escapeMarkdown, renderDiscordMessage, TONE_COLOURS, type DiscordRenderOptions } from '../adapters/discord/render';
import { validateMessage } from './support/discord-standin';

const ids: DiscordRenderOptions['buttonId'] = (_button, index) => `set0123456789abc.${index}`;
const render = (message: RichMessage, ephemeral = false) => renderDiscordMessage(message, { buttonId: ids, ephemeral });

/** Discord's own count: every string an embed shows. */
const embedSize = (embed: Record<string, any>) =>
  [embed.title, embed.description, embed.footer?.text, embed.author?.name, ...(embed.fields ?? []).flatMap((f: any) => [f.name, f.value])]
    .filter((s): s is string => typeof s === 'string').reduce((n, s) => n + [...s].length, 0);

/** What Discord shows for escaped markdown: a backslash before punctuation shows the punctuation. */
const shown = (markdown: string) => markdown.replace(/\\([^0-9A-Za-z\s])/g, '$1');

/** Markdown that would do something (format, mention, link, list) outside of escapes and code blocks. */
function activeMarkdown(markdown: string): string[] {
  const found: string[] = [];
  const outsideCode = markdown.split(/```[\s\S]*?```/);
  for (const part of outsideCode) {
    let lineStart = true;
    for (let i = 0; i < part.length; i++) {
      const c = part[i]!;
      if (c === '\\') {
        i++;
        lineStart = false;
        continue;
      }
      if ('*_~`|<>[]'.includes(c)) found.push(c);
      if (lineStart && '#-+'.includes(c)) found.push(`line-start ${c}`);
      if (lineStart && /\d/.test(c)) {
        const m = /^\d+\.(\s|$)/.exec(part.slice(i));
        if (m) found.push('ordered list');
      }
      if (c === '\n') lineStart = true;
      else if (c !== ' ' && c !== '\t') lineStart = false;
    }
  }
  return found;
}

describe('Discord rendering', () => {
  it('lays out title, text, fields, footer and image in one embed coloured by tone', () => {
    const payload = render({
      tone: 'success', title: 'Bought 0.5 BTC', text: 'At $65,000.00.',
      fields: [{ label: 'Price', value: '$65,000.00' }, { label: 'Cash balance', value: '$9,750.00' }, { label: 'Note', value: 'A longer explanation that does not fit beside another field.' }],
      footer: 'Prices are simulated', imageUrl: 'https://quickchart.io/chart?c=1',
    });
    expect(payload).toEqual({
      embeds: [{
        color: TONE_COLOURS.success, title: 'Bought 0.5 BTC', description: 'At $65,000.00.',
        fields: [
          { name: 'Price', value: '$65,000.00', inline: true },
          { name: 'Cash balance', value: '$9,750.00', inline: true },
          { name: 'Note', value: 'A longer explanation that does not fit beside another field.', inline: false },
        ],
        footer: { text: 'Prices are simulated' }, image: { url: 'https://quickchart.io/chart?c=1' },
      }],
      components: [],
      allowed_mentions: { parse: [] },
    });
    expect(() => validateMessage(payload as never)).not.toThrow();
  });

  it('colours by tone: success green, error red, warning amber, info blurple; gains green and losses red by trend', () => {
    const colour = (tone: Tone) => render({ tone, text: 'x' }).embeds[0]!.color;
    expect([colour('success'), colour('error'), colour('warning'), colour('info')]).toEqual([0x57f287, 0xed4245, 0xfaa61a, 0x5865f2]);
    expect(render({ tone: 'info', title: 'Portfolio', trend: 'down' }).embeds[0]!.color).toBe(TONE_COLOURS.error);
    expect(render({ tone: 'info', title: 'Portfolio', trend: 'up' }).embeds[0]!.color).toBe(TONE_COLOURS.success);
  });

  it('shows every field of a short message whole, with a table beside them (a trade fill, a portfolio)', () => {
    const fields = ['Price', 'Quantity', 'Amount', 'Fee', 'Total paid', 'Cash balance'].map((label) => ({ label, value: '$10,000.00' }));
    const embed = render({ tone: 'info', title: 'Portfolio of ann', table: { columns: ['Coin', 'Value'], rows: [['BTC', '$2,500.00']] }, fields, footer: 'Prices are simulated.' }).embeds[0]!;
    expect(embed.fields!.map((f) => [f.name, f.value])).toEqual(fields.map((f) => [f.label, '$10,000.00']));
  });

  it('shows a table as an aligned code block, backticks made harmless', () => {
    const table: Table = { columns: ['Coin', 'Value'], rows: [['BTC', '$1.00'], ['E`T`H', '$100.00'], ['```', '$0']], align: ['left', 'right'] };
    const description = render({ tone: 'info', text: 'Holdings', table }).embeds[0]!.description!;
    expect(description).toBe([
      'Holdings', '',
      '```',
      'Coin     Value',
      '-----  -------',
      'BTC      $1.00',
      'EˋTˋH  $100.00',
      'ˋˋˋ         $0',
      '```',
    ].join('\n'));
    expect(render({ tone: 'info', table: { columns: ['A'], rows: [] } }).embeds[0]!.description).toBe('(nothing yet)');
  });

  it('cuts a long table by rows and says how many were left out', () => {
    const rows = Array.from({ length: 500 }, (_, i) => [`coin-${i}`, `${i}.00`, 'x'.repeat(20)]);
    const payload = render({ tone: 'info', title: 'All transactions', text: 'Newest first.', table: { columns: ['Coin', 'Amount', 'Note'], rows }, fields: [{ label: 'Total', value: '500' }], footer: 'Page 1' });
    const embed = payload.embeds[0]!;
    const description = embed.description!;
    expect(description.length).toBeLessThanOrEqual(EMBED_LIMITS.description);
    const shownRows = description.split('\n').filter((l) => l.startsWith('coin-')).length;
    expect(shownRows).toBeGreaterThan(50);
    expect(description).toMatch(new RegExp(`\\n\`\`\`\\n${500 - shownRows} more rows not shown\\.$`));
    expect(embed.fields).toEqual([{ name: 'Total', value: '500', inline: true }]);
    expect(embed.footer).toEqual({ text: 'Page 1' });
    expect(() => validateMessage(payload as never)).not.toThrow();
  });

  it('keeps to 25 fields, field sizes, the title and the 6000 characters in all', () => {
    const fields: Field[] = Array.from({ length: 40 }, (_, i) => ({ label: `Field ${i} ${'n'.repeat(300)}`, value: 'v'.repeat(2000) }));
    const payload = render({ tone: 'warning', title: 'T'.repeat(400), text: 'd'.repeat(5000), fields, footer: 'f'.repeat(3000) });
    const embed = payload.embeds[0]!;
    expect(embed.title!.length).toBe(256);
    expect(embed.title!.endsWith('…')).toBe(true);
    expect(embed.fields!.length).toBeLessThanOrEqual(25);
    expect(embed.fields!.at(-1)).toMatchObject({ name: 'More', value: expect.stringMatching(/^\d+ more fields not shown\.$/) });
    for (const f of embed.fields!) {
      expect(f.name.length).toBeLessThanOrEqual(256);
      expect(f.value.length).toBeLessThanOrEqual(1024);
    }
    expect(embedSize(embed)).toBeLessThanOrEqual(6000);
    expect(embed.description!.length).toBeGreaterThan(3000);
    expect(embed.footer!.text.length).toBeGreaterThan(100);
    expect(() => validateMessage(payload as never)).not.toThrow();
    // The validator itself does refuse what Discord refuses.
    expect(() => validateMessage({ embeds: [{ ...embed, fields: Array.from({ length: 26 }, () => ({ name: 'a', value: 'b' })) }] })).toThrow(/Invalid Form Body/);
  });

  it('renders buttons as action rows: confirm green, cancel red, others grey, ids from buttonId', () => {
    const asked: Array<[string, number]> = [];
    const payload = renderDiscordMessage({
      tone: 'warning', title: 'Confirm: buy about $2,000.00 of BTC?',
      buttons: [{ label: 'Confirm', command: '/buy btc $2000', kind: 'confirm' }, { label: 'Cancel', command: '/buy btc $2000', kind: 'cancel' }, { label: 'Refresh', command: '/portfolio', kind: 'refresh' }, { label: 'Next »', command: '/history 2' }],
    }, { buttonId: (b, i) => (asked.push([b.label, i]), `id-${i}`), ephemeral: false });
    expect(payload.components).toEqual([{
      type: 1,
      components: [
        { type: 2, style: 3, label: 'Confirm', custom_id: 'id-0' },
        { type: 2, style: 4, label: 'Cancel', custom_id: 'id-1' },
        { type: 2, style: 2, label: 'Refresh', custom_id: 'id-2' },
        { type: 2, style: 2, label: 'Next »', custom_id: 'id-3' },
      ],
    }]);
    expect(asked).toEqual([['Confirm', 0], ['Cancel', 1], ['Refresh', 2], ['Next »', 3]]);
  });

  it('puts at most 5 buttons in a row and 5 rows in a message, labels cut to 80', () => {
    const buttons: Button[] = Array.from({ length: 30 }, (_, i) => ({ label: i === 0 ? 'L'.repeat(100) : `B${i}`, command: `/history ${i}` }));
    const asked: number[] = [];
    const payload = renderDiscordMessage({ tone: 'info', text: 'many', buttons }, { buttonId: (_b, i) => (asked.push(i), `id-${i}`), ephemeral: false });
    expect(payload.components.map((row) => row.components.length)).toEqual([5, 5, 5, 5, 5]);
    expect((payload.components[0]!.components[0] as { label: string }).label).toHaveLength(80);
    // Only the buttons shown are named (the bot stores what they do).
    expect(asked).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(() => validateMessage(payload as never)).not.toThrow();
    expect(() => renderDiscordMessage({ tone: 'info', buttons: [buttons[1]!] }, { buttonId: () => 'x'.repeat(101), ephemeral: false })).toThrow(/custom_id/);
  });

  it('flags an ephemeral message with 64, and never lets a mention ping', () => {
    expect(render({ tone: 'info', text: 'secret' }, true)).toMatchObject({ flags: 64, allowed_mentions: { parse: [] } });
    const open = render({ tone: 'info', text: 'public' }, false);
    expect(open).not.toHaveProperty('flags');
    expect(open.allowed_mentions).toEqual({ parse: [] });
    expect(open).not.toHaveProperty('content');
  });

  it('shows hostile text as text: mentions, markdown, masked links, headings and lists are escaped', () => {
    const hostile = '<@123> <@&456> <#789> @everyone @here **bold** __under__ ~~strike~~ `code` ||spoiler|| [click](https://evil.example) <t:1:R> \\*';
    const lines = '# heading\n-# subtext\n- item\n+ item\n> quote\n12. ordered\n  ### indented';
    const payload = render({ tone: 'error', title: '**Title** <@1>', text: `${hostile}\n${lines}`, fields: [{ label: '__label__', value: '<@123> [x](y)' }], footer: 'footer *as is*' });
    const embed = payload.embeds[0]!;
    for (const text of [embed.title!, embed.description!, embed.fields![0]!.name, embed.fields![0]!.value]) {
      expect(activeMarkdown(text), text).toEqual([]);
    }
    // Discord shows exactly what the core said.
    expect(shown(embed.description!)).toBe(`${hostile}\n${lines}`);
    expect(shown(embed.title!)).toBe('**Title** <@1>');
    expect(embed.description).toContain('\\<@123\\>');
    expect(embed.description).toContain('\\# heading\n\\-# subtext\n\\- item\n\\+ item\n\\> quote\n12\\. ordered\n  \\### indented');
    // The footer is not markdown on Discord: sent as it is.
    expect(embed.footer).toEqual({ text: 'footer *as is*' });
    expect(payload.allowed_mentions).toEqual({ parse: [] });
    // Breaking the escaping is caught: the checker sees the raw text as active.
    expect(activeMarkdown(hostile).length).toBeGreaterThan(5);
  });

  it('never sends an empty embed, and replaces lone surrogates', () => {
    const empty = render({ tone: 'info' });
    expect(empty.embeds[0]!.description).toBe('…');
    expect(() => validateMessage(empty as never)).not.toThrow();
    expect(render({ tone: 'info', text: 'a\uD800b' }).embeds[0]!.description).toBe('a\uFFFDb');
    expect(render({ tone: 'info', fields: [{ label: '', value: '  ' }] }).embeds[0]!.fields).toEqual([{ name: '\u200b', value: '\u200b', inline: true }]);
    // An image address that is not a URL is shown as text, not as an embed image.
    expect(render({ tone: 'info', imageUrl: 'chart unavailable' }).embeds[0]).toMatchObject({ description: 'chart unavailable' });
  });
});

describe('Discord rendering of arbitrary messages (fast-check, fixed seed)', () => {
  const special = fc.constantFrom('*', '_', '~', '`', '```', '|', '<', '>', '[', ']', '(', ')', '#', '-', '+', '\\', '\n', ' ', '1.', '<@123>', '@everyone', '😀', '👍🏽', '\uD800', '\uDC00', 'é', '字');
  const unit = fc.oneof({ weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }) }, { weight: 2, arbitrary: special });
  const shortText = fc.array(unit, { maxLength: 12 }).map((parts) => parts.join(''));
  // Long texts repeat a short one, so limits are exercised without huge generators.
  const text = fc.oneof(
    { weight: 1, arbitrary: shortText },
    { weight: 1, arbitrary: fc.tuple(shortText, fc.integer({ min: 1, max: 1500 })).map(([s, n]) => s.repeat(n)) },
  );
  const field = fc.record({ label: text, value: text });
  const table = fc.integer({ min: 1, max: 6 }).chain((width) => fc.record({
    columns: fc.array(shortText, { minLength: width, maxLength: width }),
    rows: fc.oneof(
      fc.array(fc.array(shortText, { minLength: width, maxLength: width }), { maxLength: 10 }),
      fc.tuple(fc.array(shortText, { minLength: width, maxLength: width }), fc.integer({ min: 1, max: 800 })).map(([row, n]) => Array.from({ length: n }, () => row)),
      fc.array(fc.array(text, { minLength: width, maxLength: width }), { maxLength: 3 }),
    ),
    align: fc.option(fc.array(fc.constantFrom<'left' | 'right'>('left', 'right'), { minLength: width, maxLength: width }), { nil: undefined }),
  }));
  const button = fc.record({ label: text, command: fc.constant('/history 2'), kind: fc.option(fc.constantFrom<'confirm' | 'cancel' | 'refresh'>('confirm', 'cancel', 'refresh'), { nil: undefined }) });
  const message: fc.Arbitrary<RichMessage> = fc.record({
    tone: fc.constantFrom<Tone>('info', 'success', 'warning', 'error'),
    title: fc.option(text, { nil: undefined }),
    text: fc.option(text, { nil: undefined }),
    fields: fc.option(fc.oneof(fc.array(field, { maxLength: 6 }), fc.array(field, { minLength: 20, maxLength: 40 })), { nil: undefined }),
    table: fc.option(table, { nil: undefined }),
    buttons: fc.option(fc.array(button, { maxLength: 30 }), { nil: undefined }),
    imageUrl: fc.option(fc.oneof(fc.webUrl(), text), { nil: undefined }),
    footer: fc.option(text, { nil: undefined }),
  }, { requiredKeys: ['tone'] });

  it('every rendered message passes the stand-in\'s validation of Discord\'s limits', () => {
    fc.assert(fc.property(message, fc.boolean(), (m, ephemeral) => {
      const payload = renderDiscordMessage(m, { buttonId: ids, ephemeral });
      validateMessage(payload as never);
      expect(payload.embeds).toHaveLength(1);
      const embed = payload.embeds[0]!;
      expect(embed.title?.length ?? 0).toBeLessThanOrEqual(256);
      expect(embed.description?.length ?? 0).toBeLessThanOrEqual(4096);
      expect(embed.footer?.text.length ?? 0).toBeLessThanOrEqual(2048);
      expect(embedSize(embed)).toBeLessThanOrEqual(6000);
      expect(payload.components.flatMap((r) => r.components)).toHaveLength(Math.min(25, m.buttons?.length ?? 0));
      expect(payload.allowed_mentions).toEqual({ parse: [] });
      expect(payload.flags).toBe(ephemeral ? 64 : undefined);
      // No lone surrogate reaches Discord.
      expect(JSON.stringify(payload)).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
      for (const s of [embed.title, embed.description, ...(embed.fields ?? []).flatMap((f) => [f.name, f.value])]) {
        if (s) expect(activeMarkdown(s)).toEqual([]);
      }
    }), { numRuns: 300, endOnFailure: true }); // no shrinking: large cases would shrink past the test's timeout
  });

  it('escaping shows exactly the original text and leaves no markdown active', () => {
    fc.assert(fc.property(text, (s) => {
      const wellFormed = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      const escaped = escapeMarkdown(s);
      expect(shown(escaped)).toBe(wellFormed);
      expect(activeMarkdown(escaped)).toEqual([]);
    }), { numRuns: 500 });
  });
});
