/**
 * Argument types for command declarations. Each is a flat, named value (string, number or one of a
 * set) so every platform can express it: Telegram text, Discord options, Slack usage hints. The zod
 * schema turns the raw token into a typed value or a specific message.
 */
import { z } from 'zod';
import { FIAT_CODES } from './currencies';
import { CASH_DECIMALS, Dec, QUANTITY_DECIMALS, decimalPlaces } from './money';
import { ROLES } from './domain';
import { canonicalTimeZone } from './format';

export interface ArgSpec<T = unknown> {
  description: string;
  /** How platforms with typed options should present it. */
  kind: 'string' | 'number' | 'choice';
  choices?: readonly string[];
  optional?: boolean;
  /** Takes every remaining word (at least one unless optional). */
  rest?: boolean;
  /** What platforms with autocomplete offer while it is typed: tracked coins. */
  completes?: 'coin';
  schema: z.ZodType<T>;
}

function spec<T>(kind: ArgSpec['kind'], description: string, schema: z.ZodType<T>, extra: Partial<ArgSpec<T>> = {}): ArgSpec<T> {
  return { kind, description, schema, ...extra };
}

/** Largest cash amount or price accepted: anything bigger is a typo, not a trade. */
const MAX_AMOUNT = new Dec('1e12');
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/** Parses a plain positive decimal with a bounded number of places, or explains what is wrong. */
function positiveDecimal(what: string, maxDecimals: number) {
  return (raw: string, ctx: z.RefinementCtx): Dec => {
    const text = raw.replace(/_/g, '');
    if (!DECIMAL.test(text)) {
      ctx.addIssue({ code: 'custom', message: `“${raw}” is not a valid ${what}: use a plain number like 0.5 or 250.` });
      return z.NEVER;
    }
    const value = new Dec(text);
    if (value.lte(0)) {
      ctx.addIssue({ code: 'custom', message: `The ${what} must be greater than zero.` });
      return z.NEVER;
    }
    if (decimalPlaces(text) > maxDecimals) {
      ctx.addIssue({ code: 'custom', message: `The ${what} has too many decimals (at most ${maxDecimals}).` });
      return z.NEVER;
    }
    if (value.gt(MAX_AMOUNT)) {
      ctx.addIssue({ code: 'custom', message: `The ${what} ${raw} is too large.` });
      return z.NEVER;
    }
    return value;
  };
}

/** bcrypt reads only the first 72 bytes of a password: a longer one is refused, not cut short. */
export const MAX_PASSWORD_BYTES = 72;
export const passwordSchema = z.string().min(1, 'The password is empty.')
  .refine((p) => new TextEncoder().encode(p).length <= MAX_PASSWORD_BYTES, `A password can be at most ${MAX_PASSWORD_BYTES} bytes (about ${MAX_PASSWORD_BYTES} letters; fewer with accents or emoji).`);

export type BuyOrder = { kind: 'cash'; value: Dec } | { kind: 'quantity'; value: Dec };
export type SellOrder = { kind: 'quantity'; value: Dec } | { kind: 'percent'; value: Dec } | { kind: 'all' };

const CASH_FORM = /^\$(.+)$|^(.+)\$$|^(.+)usd$/i;

export const args = {
  coin: (description = 'coin id or symbol, e.g. btc or bitcoin') =>
    spec('string', description, z.string().toLowerCase().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'That is not a coin id or symbol: try a symbol like btc or an id like bitcoin.'), { completes: 'coin' }),

  coins: () =>
    spec('string', 'one or more coin ids or symbols', z.array(z.string().toLowerCase().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'That is not a coin id or symbol.')).max(10, 'At most 10 coins at a time.'), { rest: true, completes: 'coin' }),

  buyAmount: () =>
    spec<BuyOrder>('string', 'cash in US dollars like $250, or a coin quantity like 0.5',
      z.string().transform((raw, ctx): BuyOrder => {
        const cashMatch = CASH_FORM.exec(raw.trim());
        if (cashMatch) {
          const value = positiveDecimal('cash amount', CASH_DECIMALS)(cashMatch[1] ?? cashMatch[2] ?? cashMatch[3] ?? '', ctx);
          return { kind: 'cash', value };
        }
        return { kind: 'quantity', value: positiveDecimal('quantity', QUANTITY_DECIMALS)(raw, ctx) };
      })),

  sellAmount: () =>
    spec<SellOrder>('string', 'a quantity like 0.5, a share like 25%, or all',
      z.string().transform((raw, ctx): SellOrder => {
        const text = raw.trim().toLowerCase();
        if (text === 'all' || text === 'max') return { kind: 'all' };
        if (text.endsWith('%')) {
          const value = positiveDecimal('percentage', 2)(text.slice(0, -1), ctx);
          if (value instanceof Dec && value.gt(100)) {
            ctx.addIssue({ code: 'custom', message: 'You cannot sell more than 100% of a holding.' });
            return z.NEVER;
          }
          return { kind: 'percent', value };
        }
        return { kind: 'quantity', value: positiveDecimal('quantity', QUANTITY_DECIMALS)(text, ctx) };
      })),

  price: (description = 'price in your display currency, e.g. 65000') =>
    spec<Dec>('number', description, z.string().transform((raw, ctx) => positiveDecimal('price', 12)(raw.replace(/^\$|\$$/g, ''), ctx))),

  page: () =>
    optional(spec<number>('number', 'page number', z.string().regex(/^\d{1,5}$/, 'The page must be a whole number like 2.').transform(Number).refine((n) => n >= 1, 'Pages start at 1.'))),

  username: (description = 'username') =>
    spec('string', description, z.string().regex(/^[a-z0-9_]{3,32}$/, 'A username is 3 to 32 characters: lower-case letters, digits and _.')),

  email: () =>
    spec('string', 'email address', z.email('That is not a valid email address.').max(254, 'That email address is too long.').transform((e) => e.toLowerCase())),

  password: () => spec('string', 'password', passwordSchema),

  role: () =>
    spec('choice', 'role', z.enum(ROLES, `The role must be one of: ${ROLES.join(', ')}.`), { choices: ROLES }),

  currency: () =>
    spec('choice', 'currency code, e.g. eur', z.string().toLowerCase().pipe(z.enum(FIAT_CODES, `Currencies: ${FIAT_CODES.join(', ')}.`)), { choices: FIAT_CODES }),

  choice: <const C extends readonly [string, ...string[]]>(description: string, choices: C) =>
    spec('choice', description, z.string().toLowerCase().pipe(z.enum(choices, `Choose one of: ${choices.join(', ')}.`)), { choices }),

  text: (description: string, pattern: RegExp, message: string) =>
    spec('string', description, z.string().regex(pattern, message)),

  /** Words whose meaning depends on other arguments (an alert's "1h up repeat 30m for 7d"): the
   *  command reads them, so that each mistake gets its own message. */
  words: (description: string) =>
    optional(spec<string[]>('string', description, z.array(z.string().max(32, 'One of those words is too long.')).max(8, 'Too many words: at most 8 options.'), { rest: true })),

  /** A value read by the command by what goes with it (a price for above/below, a percent for a
   *  move). Text, so that a platform with typed options never rounds it. */
  value: (description: string) =>
    spec('string', description, z.string().min(1).max(32, 'That value is too long.')),

  timeZone: () =>
    spec('string', 'IANA time zone, e.g. Europe/Athens, America/New_York or UTC', z.string().transform((raw, ctx) => {
      const zone = canonicalTimeZone(raw.trim());
      if (!zone) {
        ctx.addIssue({ code: 'custom', message: `“${raw.slice(0, 40)}” is not a time zone I know: use an IANA name like Europe/Athens, America/New_York or Asia/Tokyo, or UTC.` });
        return z.NEVER;
      }
      return zone;
    })),

  hour: (description = 'hour of the day, 0-23') =>
    spec<number>('number', description, z.string().regex(/^\d{1,2}$/, 'The hour is a whole number from 0 to 23, like 8 or 18.').transform(Number).refine((n) => n <= 23, 'The hour is a whole number from 0 to 23, like 8 or 18.')),
};

const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m", "1h", "12h", "7d" (also "90min", "2 h" is two words and is not): milliseconds, or
 *  undefined when it is not a duration. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d{1,4})(m|min|h|d)$/i.exec(raw.trim());
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase() === 'min' ? 'm' : match[2]!.toLowerCase();
  return Number(match[1]) * DURATION_UNITS[unit]!;
}

export function optional<T>(arg: ArgSpec<T>): ArgSpec<T | undefined> {
  return { ...arg, optional: true } as ArgSpec<T | undefined>;
}
