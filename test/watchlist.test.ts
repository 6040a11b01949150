/** /watch add|remove and /watchlist, through the whole core on an in-memory store. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WATCHLIST_LIMIT } from '../core/watchlist/view';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;

beforeEach(async () => {
  bot = await makeTestBot();
  await bot.signup('ann');
});
afterEach(async () => {
  await bot.close();
});

describe('/watch add and /watch remove', () => {
  it('adds a coin by symbol or id (add may be left out) and refuses it a second time', async () => {
    expect(await bot.say('ann', '/watch add btc')).toContain('Added Bitcoin (BTC) to your watchlist.');
    expect(await bot.say('ann', '/watch add ethereum')).toContain('Added Ethereum (ETH) to your watchlist.');
    expect(await bot.say('ann', '/watch add bitcoin')).toContain('Bitcoin (BTC) is already on your watchlist.');
    expect(await bot.say('ann', '/watch sol')).toContain('Added Solana (SOL) to your watchlist.');
    expect(await bot.store.getWatchlist('ann')).toEqual(['bitcoin', 'ethereum', 'solana']);
  });

  it('refuses unknown coins and malformed input, saying what is wrong', async () => {
    expect(await bot.say('ann', '/watch add dogwifhatxyz')).toContain('“dogwifhatxyz” is not a tracked coin. /coins lists them.');
    expect(await bot.say('ann', '/watch add b$c')).toContain('That is not a coin id or symbol');
    expect(await bot.say('ann', '/watch remove nosuchcoin')).toContain('“nosuchcoin” is not a tracked coin.');
    expect(await bot.store.getWatchlist('ann')).toEqual([]);
  });

  it(`holds at most ${WATCHLIST_LIMIT} coins, and makes room again when one is removed`, async () => {
    // Filled through the store: fewer coins are tracked than the limit allows.
    const ids = Array.from({ length: WATCHLIST_LIMIT }, (_, i) => `coin-${String(i).padStart(2, '0')}`);
    for (const id of ids) await bot.store.addToWatchlist('ann', id, WATCHLIST_LIMIT);
    expect(await bot.say('ann', '/watch add btc')).toContain(`Your watchlist is full (${WATCHLIST_LIMIT} coins). Remove one with /watch remove <coin> first.`);
    expect(await bot.say('ann', '/watch remove coin-00')).toContain('Removed coin-00 from your watchlist.');
    expect(await bot.say('ann', '/watch add btc')).toContain('Added Bitcoin (BTC)');
    expect(await bot.store.getWatchlist('ann')).toHaveLength(WATCHLIST_LIMIT);
  });

  it('removes a coin once, and says when it was not on the list', async () => {
    await bot.say('ann', '/watch add sol');
    expect(await bot.say('ann', '/watch remove sol')).toContain('Removed Solana (SOL) from your watchlist.');
    expect(await bot.say('ann', '/watch remove sol')).toContain('Solana (SOL) is not on your watchlist.');
    expect(await bot.store.getWatchlist('ann')).toEqual([]);
  });

  it('is for user accounts only', async () => {
    await bot.staff('adam', 'admin');
    expect(await bot.say('adam', '/watch add btc')).toContain('Watchlists belong to user accounts.');
    expect(await bot.say('guest1', '/watchlist')).toContain('You need an account for /watchlist');
  });
});

describe('/watchlist', () => {
  it('says how to add a coin when the list is empty', async () => {
    const text = await bot.say('ann', '/watchlist');
    expect(text).toContain('Your watchlist is empty');
    expect(text).toContain('/watch add <coin>');
  });

  it('shows each coin with its price, 24 h change and quote age, in the user\'s currency', async () => {
    bot.feed.set('bitcoin', '64000.5', '2.25');
    bot.feed.set('ethereum', '3000', '-4.1');
    bot.clock.advance(30_000);
    await bot.say('ann', '/watch add eth');
    await bot.say('ann', '/watch add btc');
    const lines = (await bot.say('ann', '/watchlist')).split('\n');
    expect(lines.join('\n')).toContain('Your watchlist (2 of 25)');
    const btc = lines.find((l) => l.includes('BTC Bitcoin'))!;
    expect(btc).toContain('$64,000.50');
    expect(btc).toContain('+2.25%');
    expect(btc).toContain('30 s ago');
    const eth = lines.find((l) => l.includes('ETH Ethereum'))!;
    expect(eth).toContain('$3,000.00');
    expect(eth).toContain('-4.10%');
    expect(lines.findIndex((l) => l.includes('BTC'))).toBeLessThan(lines.findIndex((l) => l.includes('ETH'))); // sorted by id

    bot.feed.rates = { ...bot.feed.rates, eur: '0.5' };
    await bot.say('ann', '/settings currency eur');
    expect(await bot.say('ann', '/watchlist')).toContain('€32,000.25');
  });

  it('shows a coin no longer tracked as such, and still lets it be removed', async () => {
    await bot.staff('adam', 'admin');
    await bot.say('adam', '/coins add pepe');
    await bot.say('ann', '/watch add pepe');
    expect(await bot.say('adam', '/coins remove pepe')).toContain('Stopped tracking Pepe');
    const list = await bot.say('ann', '/watchlist');
    expect(list.split('\n').find((l) => l.includes('pepe'))).toContain('no longer tracked');
    expect(await bot.say('ann', '/watch remove pepe')).toContain('Removed pepe from your watchlist.');
  });

  it('has a Refresh button that shows the newest prices', async () => {
    await bot.say('ann', '/watch add btc');
    const first = await bot.send('ann', '/watchlist');
    const refresh = first.buttons?.find((b) => b.label === 'Refresh');
    expect(refresh).toEqual({ label: 'Refresh', command: '/watchlist', kind: 'refresh' });
    bot.feed.set('bitcoin', '70000', '5');
    const again = await bot.say('ann', refresh!.command);
    expect(again).toContain('$70,000.00');
    expect(again).toContain('+5.00%');
  });
});
