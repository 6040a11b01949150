/**
 * Commands chosen from a platform's typed options (Discord's slash commands) go through the same
 * validation, permissions, idempotency and bookkeeping as typed lines, without being turned back
 * into text.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StructuredCommand } from '../core/dispatcher';
import { renderPlainText } from '../core/messages';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
  await bot.signup('ann');
});
afterEach(() => bot.close());

let sequence = 0;
async function run(user: string, command: StructuredCommand, messageId = `i${++sequence}`): Promise<string> {
  const { message } = await bot.core.dispatcher.dispatch({
    identity: { platform: 'discord', userId: user }, chat: { type: 'private', id: `discord:dm-${user}` }, command, messageId,
  });
  return renderPlainText(message);
}

describe('structured commands', () => {
  beforeEach(async () => {
    await bot.store.linkIdentity({ key: 'discord:ann', platform: 'discord', username: 'ann', linkedAt: 0 });
  });

  it('trade like the typed line, once per interaction', async () => {
    const buy = { name: 'buy', args: { coin: 'btc', amount: '$100' } };
    expect(await run('ann', buy, 'interaction-1')).toMatch(/^Bought /);
    expect(await run('ann', buy, 'interaction-1')).toMatch(/^Already done/);
    expect((await bot.store.listTransactions('ann', { limit: 10 })).items).toHaveLength(1);
    expect((await bot.store.listActivity('ann', { limit: 1 })).items[0]).toMatchObject({ detail: '/buy btc $100', outcome: 'ok' });
  });

  it('take sub-commands by name, rest arguments as spaced words, and numbers as numbers', async () => {
    expect(await run('ann', { name: 'alert set', args: { coin: 'eth', condition: 'BELOW', value: 1 } })).toMatch(/^Alert \w+ set: Ethereum below \$1\.00\./);
    expect(await run('ann', { name: 'alert set', args: { coin: 'btc', condition: 'move', value: '5%', options: '1h  up repeat 30m' } }))
      .toMatch(/^Alert \w+ set: Bitcoin a 5% rise within 1h, repeats, at most every 30m\./);
    expect(await run('ann', { name: 'price', args: { coins: 'btc  eth' } })).toMatch(/BTC Bitcoin[\s\S]*ETH Ethereum/);
    expect(await run('ann', { name: 'history', args: { page: 1 } })).toContain('Your transactions');
  });

  it('answer bad values with the same specific messages as typed words', async () => {
    expect(await run('ann', { name: 'buy', args: { coin: 'btc' } })).toMatch(/^Missing amount: cash in US dollars/);
    expect(await run('ann', { name: 'buy', args: { coin: 'btc', amount: 'lots' } })).toMatch(/^“lots” is not a valid quantity/);
    expect(await run('ann', { name: 'buy', args: { coin: 'btc', amount: '1', leverage: '10' } })).toMatch(/^\/buy has no option leverage\./);
    expect(await run('ann', { name: 'buy', args: { coin: 'btc', amount: '1\u001b[2J' } })).not.toContain('\u001b');
    expect(await run('ann', { name: 'launch', args: {} })).toMatch(/^I don't know \/launch/);
  });

  it('check roles and keep secrets out of the activity log', async () => {
    expect(await run('ann', { name: 'coins add', args: { id: 'pepe' } })).toMatch(/Your role \(user\) may not run \/coins add/);
    expect(await run('ann', { name: 'login', args: { email: 'ann@example.com', password: 'Hunter2-Secret' } })).toMatch(/already linked to the account ann/);
    const logged = JSON.stringify((await bot.store.listActivity('ann', { limit: 10 })).items);
    expect(logged).toContain('/coins add pepe');
    expect(logged).toContain('"detail":"/login"');
    expect(logged).not.toContain('Hunter2');
  });
});
