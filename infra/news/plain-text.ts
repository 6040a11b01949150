/**
 * Feed text as plain text. Feeds put HTML in titles and summaries (CDATA, or escaped twice), and
 * a hostile feed can put anything there: what comes out has no tags, no script or style content,
 * and entities decoded, so the adapters' own escaping shows exactly these characters.
 */

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', hellip: '…', mdash: '—', ndash: '–',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', copy: '©', reg: '®', trade: '™',
  euro: '€', pound: '£', yen: '¥', cent: '¢', deg: '°', times: '×', middot: '·', bull: '•',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      // Control characters and invalid code points would only garble the line.
      return code >= 0x20 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : ' ';
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}

/** Elements whose content is never text a reader should see. */
const INVISIBLE = /<(script|style|iframe|object|noscript)\b[^>]*>[\s\S]*?(<\/\1\s*>|$)/gi;
/** A tag (or comment) as HTML starts one: `<` then a letter, `/`, `!` or `?`; "1 < 2" stays. */
const TAG = /<(?:!--[\s\S]*?-->|[a-z/!?][^>]*>)/gi;

function stripTags(text: string): string {
  return text.replace(INVISIBLE, ' ').replace(TAG, ' ');
}

/** Plain text on one line, at most `max` characters. */
export function plainText(html: string, max = 300): string {
  // Twice: a title escaped twice (&lt;b&gt;) only becomes markup after the first decoding.
  const text = stripTags(decodeEntities(stripTags(html))).replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}
