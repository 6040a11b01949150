/**
 * Cutting text to a platform's limits without breaking it: every renderer (Discord embeds, Slack
 * blocks) escapes a text into units (one per code point, escaped as its format needs) and cuts
 * between units, so a cut never splits an escape or a character.
 */
export const ELLIPSIS = '…';

/** Lone surrogates cannot be encoded: replace them. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** The longest whole-unit prefix that fits `max` (UTF-16 units), with an ellipsis when cut. */
export function fitUnits(units: string[], max: number): string {
  const whole = units.join('');
  if (whole.length <= max) return whole;
  if (max < ELLIPSIS.length) return '';
  let size = 0;
  let end = 0;
  while (end < units.length && size + units[end]!.length <= max - ELLIPSIS.length) size += units[end++]!.length;
  return units.slice(0, end).join('').trimEnd() + ELLIPSIS;
}

/** The first `count` code points of a text. */
export function prefix(text: string, count: number): string {
  let out = '';
  let n = 0;
  for (const point of text) {
    if (n++ >= count) break;
    out += point;
  }
  return out;
}
