/**
 * Thousands of random command lines, from every kind of caller: nothing throws out of the core,
 * nothing hits the "went wrong on our side" path, and every refusal is a specific message.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';

let bot: TestBot;
let names: string[];

beforeAll(async () => {
  bot = await makeTestBot();
  await bot.signup('fuzz_user');
  await bot.staff('fuzz_admin', 'admin');
  await bot.staff('fuzz_mod', 'moderator');
  await bot.staff('fuzz_ana', 'analyst');
  await bot.say('fuzz_user', '/buy btc $500');
  names = bot.core.registry.commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
});
afterAll(() => bot.close());

const word = fc.oneof(
  fc.constantFrom('btc', 'eth', 'bitcoin', 'all', '25%', '$250', '250$', '0.5', '-1', '0', '1e9', '1e-9', 'NaN', 'Infinity', '00.1',
    '0.123456789', '$0.001', '101%', 'above', 'below', 'user', 'admin', 'eur', 'xyz', '2', '99999', 'a@b.co', 'not@mail', '<b>', '&amp;',
    '"', '💥', '\u0000', 'x'.repeat(300), '9'.repeat(60), '.', '$', '%', '@', '/', '//', 'on', 'off'),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[0-9.$%,_-]{1,12}$/),
);

const line = fc.tuple(
  fc.oneof(fc.constantFrom(...['x']).chain(() => fc.constantFrom(...names)), fc.string({ maxLength: 10 })),
  fc.array(word, { maxLength: 5 }),
  fc.constantFrom('', '/', '@CryptoPulseBot'),
).map(([name, rest, prefix]) => `${prefix === '@CryptoPulseBot' ? '/' : prefix}${name}${prefix === '@CryptoPulseBot' ? prefix : ''} ${rest.join(' ')}`);

const callers = fc.constantFrom('fuzz_user', 'fuzz_admin', 'fuzz_mod', 'fuzz_ana', 'stranger');

describe('bad input', () => {
  it('answers every random command line with a specific message and never fails internally', async () => {
    silentLogger.errors.length = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(callers, line, fc.constantFrom('private', 'group' as const), async (caller, text, chat) => {
        runs++;
        const { message } = await bot.dispatch(caller, text, { chat: chat as 'private' | 'group' });
        const shown = [message.title, message.text, message.table ? 'table' : '', message.fields ? 'fields' : ''].join('');
        expect(shown.trim().length).toBeGreaterThan(0);
        expect(shown).not.toMatch(/went wrong on our side|at .*\.ts:\d+|TypeError/);
        // Leaked internals, unless the user typed them and the answer quotes them back.
        for (const leak of ['undefined', 'NaN', '[object Object]']) {
          if (!text.includes(leak)) expect(shown).not.toContain(leak);
        }
      }),
      { numRuns: 3000, seed: 20261125 },
    );
    expect(runs).toBe(3000);
    expect(silentLogger.errors).toEqual([]);
  });

  it('gives the usage line with argument errors', async () => {
    expect(await bot.say('fuzz_user', '/buy')).toBe('Missing coin: coin id or symbol, e.g. btc or bitcoin.\nUsage: /buy <coin> <amount> [order...]');
    // Words after the amount make an order: one that is not "at" or "stop" is named.
    expect(await bot.say('fuzz_user', '/buy btc 1 2')).toMatch(/^“2” is not expected after the amount: say at <price> for a limit order or stop <price> for a stop order/);
    expect(await bot.say('fuzz_user', '/sell btc 1e3')).toMatch(/not a valid quantity/);
    expect(await bot.say('fuzz_user', '/buy btc $0.001')).toMatch(/too many decimals \(at most 2\)/);
    expect(await bot.say('fuzz_user', '/buy btc 99999999999999')).toMatch(/too large/);
    expect(await bot.say('fuzz_user', '/buy dogecoinz 1')).toMatch(/“dogecoinz” is not a tracked coin/);
    expect(await bot.say('fuzz_user', '/portfolo')).toMatch(/Did you mean \/portfolio\?/);
    expect(await bot.say('fuzz_user', '/history 0')).toMatch(/Pages start at 1/);
    expect(await bot.say('fuzz_user', '/portfolio@CryptoPulseBot')).toMatch(/Portfolio of fuzz_user/);
  });
});
