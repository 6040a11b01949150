/** Trading as a user sees it: amounts, fees, rounding, P&L, refusals, idempotency, concurrency. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderPlainText } from '../core/messages';
import { dec } from '../core/money';
import { replayLedger } from '../core/trading';
import type { Transaction } from '../core/domain';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;
afterEach(() => bot.close());

async function portfolio(user: string) {
  return (await bot.store.getPortfolio(user))!;
}

async function allTransactions(user: string): Promise<Transaction[]> {
  const items: Transaction[] = [];
  let cursor: string | undefined;
  do {
    const page = await bot.store.listTransactions(user, { limit: 100, cursor });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items.reverse();
}

describe('buying and selling', () => {
  beforeEach(async () => {
    bot = await makeTestBot();
    bot.feed.set('bitcoin', '50000').set('ethereum', '3000').set('shiba-inu', '0.00001');
    await bot.signup('ann');
  });

  it('buys by cash amount: quantity rounded down, exact cost, new balance', async () => {
    const reply = await bot.say('ann', '/buy btc $250');
    expect(reply).toContain('Bought 0.005 BTC');
    expect(reply).toMatch(/Price:\s+\$50,000\.00/);
    expect(reply).toMatch(/Amount:\s+\$250\.00/);
    expect(reply).toMatch(/Cash balance:\s+\$9,750\.00/);
    expect((await portfolio('ann')).cash).toBe('9750');
  });

  it('buys by quantity and records price, quantity and amount exactly', async () => {
    await bot.say('ann', '/buy eth 0.5');
    const [t] = await allTransactions('ann');
    expect(t).toMatchObject({ type: 'buy', coinId: 'ethereum', quantity: '0.5', price: '3000', amount: '1500', fee: '0' });
  });

  it('never spends more than the cash offered when the price does not divide evenly', async () => {
    bot.feed.set('bitcoin', '30000.7');
    await bot.say('ann', '/buy btc $100');
    const [t] = await allTransactions('ann');
    expect(t!.quantity).toBe('0.00333325'); // 100 / 30000.7 = 0.00333325555..., rounded down
    expect(dec(t!.amount).lte(100)).toBe(true);
    expect((await portfolio('ann')).cash).toBe(dec('10000').minus(t!.amount).toFixed());
  });

  it('handles sub-cent coins and refuses trades worth less than a cent', async () => {
    expect(await bot.say('ann', '/buy shib 400')).toMatch(/too small a trade/); // $0.004
    expect(await bot.say('ann', '/buy shib 1000000')).toContain('Bought 1,000,000 SHIB');
    expect((await portfolio('ann')).cash).toBe('9990');
  });

  it('handles huge amounts exactly', async () => {
    bot = await makeTestBot({ config: { startBalance: '999999999999.99' } });
    bot.feed.set('bitcoin', '87000.12345678');
    await bot.signup('whale');
    expect(await bot.say('whale', '/buy btc $999999999999.99')).toContain('Bought');
    const [t] = await allTransactions('whale');
    const spent = dec(t!.amount);
    expect(spent.toFixed()).toBe(dec(t!.quantity).mul('87000.12345678').toDecimalPlaces(2).toFixed());
    expect((await portfolio('whale')).cash).toBe(dec('999999999999.99').minus(spent).toFixed());
  });

  it('refuses to overspend and changes nothing', async () => {
    expect(await bot.say('ann', '/buy btc 1')).toMatch(/Not enough cash: this costs \$50,000\.00 and you have \$10,000\.00/);
    expect(await bot.say('ann', '/buy btc $10000.01')).toMatch(/Not enough cash/);
    expect((await portfolio('ann')).cash).toBe('10000');
    expect(await allTransactions('ann')).toHaveLength(0);
  });

  it('sells a quantity, a percentage and all, with realized P&L', async () => {
    await bot.say('ann', '/buy eth 2'); // cost 6000
    bot.feed.set('ethereum', '3600');
    expect(await bot.say('ann', '/sell eth 0.5')).toMatch(/You receive:\s+\$1,800\.00/);
    expect(await bot.say('ann', '/sell eth 50%')).toContain('Sold 0.75 ETH');
    expect(await bot.say('ann', '/sell eth all')).toContain('Sold 0.75 ETH');
    const p = await portfolio('ann');
    expect(p.holdings).toEqual({});
    expect(p.realizedPnl).toBe('1200'); // bought 2 at 3000, sold 2 at 3600
    expect(p.cash).toBe('11200');
  });

  it('refuses to sell more than held, or a coin not held', async () => {
    await bot.say('ann', '/buy eth 1');
    expect(await bot.say('ann', '/sell eth 1.5')).toMatch(/You hold only 1 ETH/);
    expect(await bot.say('ann', '/sell btc all')).toMatch(/You hold no BTC/);
    expect(await bot.say('ann', '/sell eth 101%')).toMatch(/more than 100%/);
  });

  it('charges the configured fee on both sides, in cents', async () => {
    bot = await makeTestBot({ config: { feePercent: '0.1' } });
    bot.feed.set('ethereum', '3000');
    await bot.signup('fee');
    expect(await bot.say('fee', '/buy eth 1')).toMatch(/Fee:\s+\$3\.00[\s\S]*Total paid:\s+\$3,003\.00/);
    expect(await bot.say('fee', '/buy eth $1000')).toMatch(/Fee:\s+\$1\.00/);
    const afterBuys = await portfolio('fee');
    expect(dec(afterBuys.cash).gte(10000 - 3003 - 1000)).toBe(true);
    expect(await bot.say('fee', '/sell eth all')).toMatch(/Fee:\s+\$4\.00/);
    const p = await portfolio('fee');
    const ledger = replayLedger('10000', await allTransactions('fee'));
    expect(ledger.cash.toFixed()).toBe(p.cash);
    expect(p.realizedPnl).toBe(dec(p.cash).minus(10000).toFixed()); // fees are the only loss
  });

  it('shows the portfolio with average cost, value and unrealized P&L', async () => {
    await bot.say('ann', '/buy eth 1');
    await bot.say('ann', '/buy eth 1');
    bot.feed.set('ethereum', '3300');
    const reply = await bot.say('ann', '/portfolio');
    expect(reply).toMatch(/ETH\s+2\s+\$3,000\.00\s+\$6,600\.00\s+\$600\.00\s+\+10\.00%/);
    expect(reply).toMatch(/Cash:\s+\$4,000\.00/);
    expect(reply).toMatch(/Total value:\s+\$10,600\.00/);
    expect(reply).toMatch(/Unrealized P&L:\s+\$600\.00/);
  });

  it('shows money in the chosen currency while the ledger stays in USD', async () => {
    bot.feed.rates = { ...bot.feed.rates, eur: '0.9', jpy: '150' };
    await bot.say('ann', '/settings currency eur');
    expect(await bot.say('ann', '/portfolio')).toMatch(/Cash:\s+€9,000\.00/);
    expect(await bot.say('ann', '/price btc')).toContain('€45,000.00');
    await bot.say('ann', '/settings currency jpy');
    expect(await bot.say('ann', '/portfolio')).toMatch(/Cash:\s+¥1,500,000\b/);
    expect((await portfolio('ann')).cash).toBe('10000');
    expect(await bot.say('ann', '/settings currency xyz')).toMatch(/Currencies: usd, eur/);
  });

  it('refuses a stale quote, and says how old it is', async () => {
    bot.clock.advance(90_000);
    expect(await bot.say('ann', '/buy btc $10')).toMatch(/from 90 s ago, too old to trade on \(limit 60 s\)/);
    bot.feed.set('bitcoin', '50000');
    expect(await bot.say('ann', '/buy btc $10')).toContain('Bought');
  });

  it('pages history newest first with Previous / Next', async () => {
    for (let i = 0; i < 12; i++) {
      await bot.say('ann', '/buy eth 0.01');
      bot.clock.advance(1000);
    }
    const first = await bot.send('ann', '/history');
    expect(first.table!.rows).toHaveLength(10);
    expect(first.buttons).toEqual([{ label: 'Next »', command: '/history 2' }]);
    const second = await bot.send('ann', '/history 2');
    expect(second.table!.rows).toHaveLength(2);
    expect(second.buttons).toEqual([{ label: '« Previous', command: '/history 1' }]);
    expect(first.table!.rows[0]![0]! >= first.table!.rows[9]![0]!).toBe(true);
  });

  it('asks for confirmation above the threshold where the chat has buttons', async () => {
    const prompt = await bot.core.dispatcher.dispatch({
      identity: { platform: 'console', userId: 'ann' }, chat: { type: 'private', id: 'console:ann' },
      text: '/buy eth 1', messageId: 'c1', canConfirm: true,
    });
    expect(prompt.message.title).toMatch(/Confirm: buy about \$3,000\.00 of ETH/);
    expect(prompt.message.buttons?.map((b) => b.kind)).toEqual(['confirm', 'cancel']);
    expect(await allTransactions('ann')).toHaveLength(0);
    bot.feed.set('ethereum', '3100'); // the price is checked again on confirm
    const done = await bot.core.dispatcher.dispatch({
      identity: { platform: 'console', userId: 'ann' }, chat: { type: 'private', id: 'console:ann' },
      text: prompt.message.buttons![0]!.command, messageId: 'c2', canConfirm: true, confirmed: true,
    });
    expect(done.message.title).toBe('Bought 1 ETH');
    expect((await allTransactions('ann'))[0]!.price).toBe('3100');
  });

  it('refuses a trade that cannot succeed at once, instead of asking to confirm it first', async () => {
    const withButtons = (text: string) => bot.core.dispatcher.dispatch({
      identity: { platform: 'console', userId: 'ann' }, chat: { type: 'private', id: 'console:ann' }, text, messageId: text, canConfirm: true,
    });
    const buy = await withButtons('/buy btc $99999999');
    expect(buy.message.buttons).toBeUndefined();
    expect(renderPlainText(buy.message)).toMatch(/^Not enough cash: you have \$10,000\.00 free and asked to spend \$99,999,999\.00\./);
    const sell = await withButtons('/sell eth 5');
    expect(sell.message.buttons).toBeUndefined();
    expect(renderPlainText(sell.message)).toMatch(/^You hold no ETH\./);
    expect(await allTransactions('ann')).toHaveLength(0);
  });
});

describe('idempotency and concurrency', () => {
  beforeEach(async () => {
    bot = await makeTestBot();
    bot.feed.set('bitcoin', '50000');
    await bot.signup('ann');
  });

  it('the same message delivered twice trades once', async () => {
    const first = await bot.say('ann', '/buy btc $100', { messageId: 'dup-1' });
    const again = await bot.say('ann', '/buy btc $100', { messageId: 'dup-1' });
    expect(first).toContain('Bought');
    expect(again).toMatch(/Already done/);
    expect(await allTransactions('ann')).toHaveLength(1);
    expect((await portfolio('ann')).cash).toBe('9900');
  });

  it('200 parallel trades on one account never overdraw, and the ledger sums to the portfolio', async () => {
    // Each buy costs $75: at most 133 of 200 fit in $10,000; sells interleave.
    const lines = Array.from({ length: 200 }, (_, i) => (i % 5 === 4 ? '/sell btc 0.0005' : '/buy btc $75'));
    const replies = await Promise.all(lines.map((line, i) => bot.say('ann', line, { messageId: `p${i}` })));
    expect(replies.every((r) => /Bought|Sold|Not enough cash|You hold/.test(r))).toBe(true);
    const p = await portfolio('ann');
    expect(dec(p.cash).gte(0)).toBe(true);
    const transactions = await allTransactions('ann');
    expect(transactions.length).toBe(replies.filter((r) => /Bought|Sold/.test(r)).length);
    const ledger = replayLedger('10000', transactions);
    expect(ledger.cash.toFixed()).toBe(p.cash);
    expect(ledger.holdings.get('bitcoin')?.toFixed() ?? '0').toBe(p.holdings.bitcoin?.quantity ?? '0');
  });
});

describe('which way money moved', () => {
  beforeEach(async () => {
    bot = await makeTestBot();
    bot.feed.set('bitcoin', '50000', '-3.2');
    await bot.signup('ann');
  });
  afterEach(() => bot.close());

  it('marks a portfolio up or down by its total profit and loss, and one coin\'s price by its 24 h change', async () => {
    expect((await bot.send('ann', '/portfolio')).trend).toBeUndefined();
    await bot.say('ann', '/buy btc $500');
    bot.feed.set('bitcoin', '40000', '-3.2');
    expect((await bot.send('ann', '/portfolio')).trend).toBe('down');
    bot.feed.set('bitcoin', '60000', '4.1');
    expect((await bot.send('ann', '/portfolio')).trend).toBe('up');
    expect((await bot.send('ann', '/price btc')).trend).toBe('up');
    expect((await bot.send('ann', '/price btc eth')).trend).toBeUndefined();
  });
});
