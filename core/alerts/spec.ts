/**
 * Reads what an alert or a broadcast rule asks for from the words a user typed:
 *   <coin> above|below <price> [repeat <duration>] [for <duration>]
 *   <coin> move <percent>% <window> [up|down] [repeat <duration>] [for <duration>]
 * The words after the value arrive as one list (a Discord user types them in one `options`
 * field), so they are read here, where each mistake can get its own message.
 */
import { args, parseDuration } from '../args';
import type { AlertCondition, MoveDirection } from '../domain';
import { UserError } from '../errors';
import { formatDuration } from '../format';
import { Dec, decimalPlaces } from '../money';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Bounds of each duration: [least, most]. A window shorter than a few price ticks cannot be
 *  measured; a cool-down under a minute is noise; an alert for more than a year is forgotten. */
export const LIMITS = {
  window: [5 * MINUTE, 7 * DAY],
  repeat: [MINUTE, 30 * DAY],
  expiry: [HOUR, 365 * DAY],
} as const;

const MAX_PERCENT = new Dec(1000);

export type AlertSpec =
  | { condition: 'above' | 'below'; price: Dec; repeatMs?: number; forMs?: number }
  | { condition: 'move'; percent: Dec; windowMs: number; direction: MoveDirection; repeatMs?: number; forMs?: number };

export interface SpecRules {
  /** `repeat` and `for` may be typed (a user's alert); a broadcast rule has the bot's cool-down
   *  and no expiry. */
  timing: boolean;
  /** How the command is typed, for "Example:" hints: "/alert btc" or "/broadcast add btc". */
  example: string;
}

function duration(word: string | undefined, what: keyof typeof LIMITS, label: string, rules: SpecRules): number {
  if (word === undefined) throw new UserError(`Say how long after ${label}: e.g. ${label} 30m, ${label} 1h or ${label} 7d.`);
  const ms = parseDuration(word);
  if (ms === undefined) throw new UserError(`“${word.slice(0, 20)}” is not a duration: use minutes, hours or days, like 30m, 1h, 12h or 7d.`);
  const [least, most] = LIMITS[what];
  const name = what === 'window' ? 'The window' : what === 'repeat' ? 'The repeat' : 'The expiry (for)';
  if (ms < least) throw new UserError(`${name} ${word} is too short: at least ${formatDuration(least)}.${what === 'window' ? ` Example: ${rules.example} move 5% 1h.` : ''}`);
  if (ms > most) throw new UserError(`${name} ${word} is too long: at most ${formatDuration(most)}.`);
  return ms;
}

/** "5", "5%", "2.5%": > 0, at most 1000, at most 2 decimals. */
export function parsePercent(raw: string): Dec {
  const text = raw.trim().replace(/%$/, '');
  if (!/^(\d+\.?\d*|\.\d+)$/.test(text)) throw new UserError(`“${raw.slice(0, 20)}” is not a percentage: use a number like 5% or 2.5%.`);
  const value = new Dec(text);
  if (value.lte(0)) throw new UserError('The move must be more than 0%.');
  if (decimalPlaces(text) > 2) throw new UserError('The percentage has too many decimals (at most 2, like 2.25%).');
  if (value.gt(MAX_PERCENT)) throw new UserError('The move can be at most 1000%.');
  return value;
}

/** A positive price with at most 12 decimals, as /alert has always taken it ("$65000" too); an
 *  order's price is read the same way. */
export function parsePrice(raw: string): Dec {
  const parsed = args.price().schema.safeParse(raw);
  if (!parsed.success) throw new UserError(parsed.error.issues[0]?.message ?? 'That is not a price.');
  return parsed.data;
}

/** The condition, its value and the option words, read into one AlertSpec, or a UserError that
 *  says which part is wrong. */
export function parseAlertSpec(condition: AlertCondition, value: string, options: readonly string[], rules: SpecRules): AlertSpec {
  const words = options.map((w) => w.toLowerCase());
  let at = 0;
  let spec: AlertSpec;
  if (condition === 'move') {
    const percent = parsePercent(value);
    const window = words[at];
    if (window === undefined || window === 'repeat' || window === 'for' || window === 'up' || window === 'down') {
      throw new UserError(`A move alert needs a window, the time the move happens in (${formatDuration(LIMITS.window[0])} to ${formatDuration(LIMITS.window[1])}): e.g. ${rules.example} move ${value.replace(/%$/, '')}% 1h.`);
    }
    const windowMs = duration(window, 'window', 'window', rules);
    at++;
    let direction: MoveDirection = 'either';
    if (words[at] === 'up' || words[at] === 'down') direction = words[at++] as MoveDirection;
    spec = { condition, percent, windowMs, direction };
  } else {
    if (/%$/.test(value.trim())) throw new UserError(`${condition} takes a price, not a percentage: e.g. ${rules.example} ${condition} 65000. For a move, say ${rules.example} move 5% 1h.`);
    spec = { condition, price: parsePrice(value) };
  }
  while (at < words.length) {
    const word = words[at]!;
    if (word === 'repeat' || word === 'for') {
      if (!rules.timing) throw new UserError(`A broadcast rule takes no ${word}: it repeats at most once per cool-down, until it is removed.`);
      const key = word === 'repeat' ? 'repeatMs' : 'forMs';
      if (spec[key] !== undefined) throw new UserError(`${word} is given twice.`);
      spec[key] = duration(words[at + 1], word === 'repeat' ? 'repeat' : 'expiry', word, rules);
      at += 2;
      continue;
    }
    if ((word === 'up' || word === 'down') && condition !== 'move') {
      throw new UserError(`up and down are for move alerts: e.g. ${rules.example} move 5% 1h ${word}.`);
    }
    const after = condition === 'move' ? 'window (and up or down)' : 'price';
    const expected = rules.timing ? `only repeat <duration> and for <duration> may follow the ${after}` : `nothing may follow the ${after}`;
    throw new UserError(`“${options[at]!.slice(0, 20)}” is not expected here: ${expected}.`);
  }
  return spec;
}
