/**
 * What a fill costs (issue 11): half the spread plus size-dependent slippage, against the trader,
 * on market trades and triggered orders alike, a limit never crossed, and both prices shown. Then
 * the pure money rules of orders (core/orders/rules.ts) with values worked out by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../core/alerts/engine';
import type { CoreConfig } from '../core/context';
import type { Portfolio, PriceAlert } from '../core/domain';
import { UserError } from '../core/errors';
import { Dec, dec } from '../core/money';
import { bpsAsPercent, fillPrice, withinLimit, type CostConfig } from '../core/orders/pricing';
import { fillPlan, orderFillPrice, orderTerms, placementPlan, released, releasePlan, triggerCondition, type TermsInput } from '../core/orders/rules';
import type { TradeTerms } from '../core/trading';
import { makeTestBot, type TestBot } from './support/harness';

/** The costs of the examples below: 0.1% spread, 1 bp of slippage per 10,000 traded, at most 50 bp. */
const COSTS: CostConfig = { spreadBps: '10', slippageBpsPer10k: '1', maxSlippageBps: '50' };

describe('fill prices through the bot', () => {
  let bot: TestBot;
  afterEach(() => bot.close());

  async function start(config: Partial<CoreConfig> = {}) {
    bot = await makeTestBot({ config: { ...COSTS, ...config } });
    bot.feed.set('bitcoin', '50000');
    await bot.signup('ann');
  }
  const lastTrade = async () => (await bot.store.listTransactions('ann', { limit: 1 })).items[0]!;

  it('a market buy of $10,000 at 50,000 pays 50,000 x (1 + (5 + 1)/10,000) = 50,030, and says so', async () => {
    await start();
    const reply = await bot.say('ann', '/buy btc $10000');
    expect(reply).toMatch(/Price:\s+\$50,030\.00/);
    expect(reply).toMatch(/Market price:\s+\$50,000\.00 \(fill \+0\.06%: spread and slippage\)/);
    // 10,000 / 50,030 = 0.1998800719..., rounded down to 8 decimals.
    expect(await lastTrade()).toMatchObject({ type: 'buy', price: '50030', marketPrice: '50000', quantity: '0.19988007' });
  });

  it('a market sell of 0.2 BTC (worth 10,000) at 50,000 gets the mirror, 49,970', async () => {
    await start({ startBalance: '1000000' });
    await bot.say('ann', '/buy btc 0.2');
    expect(await lastTrade()).toMatchObject({ price: '50030', amount: '10006' });
    const reply = await bot.say('ann', '/sell btc 0.2');
    expect(reply).toMatch(/Price:\s+\$49,970\.00/);
    expect(reply).toMatch(/Market price:\s+\$50,000\.00 \(fill -0\.06%/);
    expect(await lastTrade()).toMatchObject({ type: 'sell', price: '49970', marketPrice: '50000', amount: '9994' });
    expect((await bot.store.getPortfolio('ann'))!.realizedPnl).toBe('-12'); // 6 bp each way on 10,000
  });

  it('slippage grows with the size of the trade, up to its cap', async () => {
    await start({ startBalance: '2000000' });
    const paid: string[] = [];
    for (const amount of ['100', '100000', '400000', '1000000']) {
      await bot.say('ann', `/buy btc $${amount}`);
      paid.push((await lastTrade()).price);
    }
    // 5 bp of spread plus 0.01, 10, 40 and (capped at) 50 bp of slippage.
    expect(paid).toEqual(['50025.05', '50075', '50225', '50275']);
  });

  it('costs nothing when spread and slippage are zero', async () => {
    await start({ spreadBps: '0', slippageBpsPer10k: '0' });
    await bot.say('ann', '/buy btc $1000');
    expect(await lastTrade()).toMatchObject({ price: '50000', marketPrice: '50000' });
  });

  it('a limit buy whose costed price would pass its limit pays exactly the limit', async () => {
    await start();
    const engine = new AlertEngine(bot.core.services);
    await bot.say('ann', '/buy btc 0.1 at 45000');
    bot.clock.advance(30_000);
    // Worth 4,499 at 44,990: 5.4499 bp of costs make 45,014.52, above the limit.
    bot.feed.set('bitcoin', '44990');
    expect((await engine.tick()).ordersFilled).toBe(1);
    expect(await lastTrade()).toMatchObject({ price: '45000', marketPrice: '44990', amount: '4500' });
    await bot.deliverOutbox();
    const [message] = bot.chats.texts('user:console:ann');
    expect(message).toMatch(/Price:\s+\$45,000\.00/);
    expect(message).toMatch(/Market price:\s+\$44,990\.00 \(fill \+0\.0222%/); // 10 / 44,990
  });

  it('a limit buy well under its limit pays the costed market price', async () => {
    await start();
    const engine = new AlertEngine(bot.core.services);
    await bot.say('ann', '/buy btc 0.1 at 45000');
    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '44000');
    await engine.tick();
    // Worth 4,400: 5 + 0.44 bp; 44,000 x 1.000544 = 44,023.936.
    expect(await lastTrade()).toMatchObject({ price: '44023.936', marketPrice: '44000' });
  });

  it('a limit sell never gets less than its limit; a stop sell gets the costed market price', async () => {
    await start({ startBalance: '100000' });
    const engine = new AlertEngine(bot.core.services);
    await bot.say('ann', '/buy btc 0.2');
    await bot.say('ann', '/sell btc 0.1 at 55000');
    await bot.say('ann', '/sell btc 0.1 stop 45000');
    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '55010'); // 55,010 x (1 - 5.5501 bp) = 54,979.47: below the limit
    await engine.tick();
    expect(await lastTrade()).toMatchObject({ type: 'sell', price: '55000', marketPrice: '55010' });
    bot.clock.advance(30_000);
    bot.feed.set('bitcoin', '44000'); // 44,000 x (1 - 5.44 bp) = 43,976.064
    await engine.tick();
    expect(await lastTrade()).toMatchObject({ type: 'sell', price: '43976.064', marketPrice: '44000' });
  });
});

describe('fillPrice and withinLimit', () => {
  it('moves the market price against the trader by half the spread plus slippage', () => {
    const buy = fillPrice('buy', dec('50000'), dec('10000'), COSTS);
    expect(buy.price.toFixed()).toBe('50030');
    expect(buy.market.toFixed()).toBe('50000');
    expect([buy.spreadBps.toFixed(), buy.slippageBps.toFixed()]).toEqual(['5', '1']);
    expect(fillPrice('sell', dec('50000'), dec('10000'), COSTS).price.toFixed()).toBe('49970');
  });

  it('caps slippage at maxSlippageBps', () => {
    expect(fillPrice('buy', dec('50000'), dec('500000'), COSTS).slippageBps.toFixed()).toBe('50');
    expect(fillPrice('buy', dec('50000'), dec('5000000'), COSTS).slippageBps.toFixed()).toBe('50');
    expect(fillPrice('sell', dec('50000'), dec('5000000'), COSTS).price.toFixed()).toBe('49725'); // 55 bp
  });

  it('rounds to 12 significant digits against the trader', () => {
    const spreadOnly = { spreadBps: '10', slippageBpsPer10k: '0', maxSlippageBps: '50' };
    // 12,345.6789012345 x 1.0005 = 12,351.85174068511725 -> up; x 0.9995 = 12,339.50606178388275 -> down.
    expect(fillPrice('buy', dec('12345.6789012345'), dec(0), spreadOnly).price.toFixed()).toBe('12351.8517407');
    expect(fillPrice('sell', dec('12345.6789012345'), dec(0), spreadOnly).price.toFixed()).toBe('12339.5060617');
  });

  it('with no spread and no slippage, pays the market price exactly, however many digits it has', () => {
    // BUG (core/orders/pricing.ts fillPrice): the 12-significant-digit rounding also applies when
    // the costs are zero, so 87,000.12345678 becomes 87,000.1234568 (and test/trading.test.ts
    // "handles huge amounts exactly" fails the same way).
    const free = { spreadBps: '0', slippageBpsPer10k: '0', maxSlippageBps: '50' };
    expect(fillPrice('buy', dec('87000.12345678'), dec('1000'), free).price.toFixed()).toBe('87000.12345678');
    expect(fillPrice('sell', dec('0.0000123456789012345'), dec('1000'), free).price.toFixed()).toBe('0.0000123456789012345');
  });

  it('keeps a limit order at or better than its limit', () => {
    const at = (side: 'buy' | 'sell', price: string, limit: string) =>
      withinLimit({ price: dec(price), market: dec(price), spreadBps: dec(0), slippageBps: dec(0) }, side, dec(limit)).price.toFixed();
    expect(at('buy', '50030', '50000')).toBe('50000');
    expect(at('buy', '49000', '50000')).toBe('49000');
    expect(at('sell', '49970', '50000')).toBe('50000');
    expect(at('sell', '51000', '50000')).toBe('51000');
  });

  it('shows basis points as a percentage', () => {
    expect(bpsAsPercent(dec('6'))).toBe('0.06%');
    expect(bpsAsPercent(dec('2.22271616'))).toBe('0.0222%');
    expect(bpsAsPercent(dec('0'))).toBe('0%');
  });
});

describe('order rules', () => {
  const money = (m: Dec) => `$${m.toFixed(2)}`;
  const portfolio = (over: Partial<Portfolio> = {}): Portfolio => ({
    username: 'ann', cash: '10000', holdings: {}, realizedPnl: '0', version: 3, createdAt: 1, lastTradeAt: 0, ...over,
  });
  const input = (over: Partial<TermsInput>): TermsInput => ({
    side: 'buy', type: 'limit', amount: { kind: 'quantity', value: dec('0.1') }, trigger: dec('45000'), coinId: 'bitcoin', coinLabel: 'BTC',
    feePercent: dec('0.1'), costs: COSTS, money, platform: 'console', ...over,
  });
  const asOrder = (i: TermsInput, p: Portfolio, alertId = 'a1b2c3d4'): PriceAlert => ({
    alertId, username: '#orders:ann', coinId: i.coinId, condition: triggerCondition(i.side, i.type), targetPrice: i.trigger.toFixed(),
    state: 'armed', createdAt: 0, updatedAt: 0, fireCount: 0, version: 1, order: orderTerms(p, i),
  });
  const tradeTerms = (price: string, over: Partial<TradeTerms> = {}): TradeTerms => ({
    transactionId: 't1', username: 'ann', coinId: 'bitcoin', coinLabel: 'BTC', price: dec(price), marketPrice: dec(price), feePercent: dec('0.1'),
    timestamp: 5, platform: 'console', money, orderId: 'a1b2c3d4', ...over,
  });

  it('a limit buy and a stop sell wait for a fall, the others for a rise', () => {
    expect(triggerCondition('buy', 'limit')).toBe('below');
    expect(triggerCondition('sell', 'stop')).toBe('below');
    expect(triggerCondition('sell', 'limit')).toBe('above');
    expect(triggerCondition('buy', 'stop')).toBe('above');
  });

  it('orderTerms: what each kind of order holds back', () => {
    const p = portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000', reserved: '0.2' } } });
    // 0.1 x 45,000 = 4,500 plus 0.1% fee 4.50.
    expect(orderTerms(p, input({}))).toMatchObject({ side: 'buy', type: 'limit', amount: { kind: 'quantity', value: '0.1' }, reserved: '4504.5' });
    // The fee comes out of a cash amount, as for a market buy.
    expect(orderTerms(p, input({ amount: { kind: 'cash', value: dec('250') } }))).toMatchObject({ amount: { kind: 'cash', value: '250' }, reserved: '250' });
    // Stop buy at 55,000: 5 + 0.55 bp -> 55,030.525; 0.1 of it 5,503.05, fee 5.50.
    expect(orderTerms(p, input({ type: 'stop', trigger: dec('55000') })).reserved).toBe('5508.55');
    const sell = (amount: TermsInput['amount']) => orderTerms(p, input({ side: 'sell', coinId: 'ethereum', coinLabel: 'ETH', trigger: dec('3500'), amount }));
    expect(sell({ kind: 'percent', value: dec('25') })).toMatchObject({ amount: { kind: 'quantity', value: '0.2' }, reserved: '0.2' }); // 25% of 0.8 free
    expect(sell({ kind: 'all' }).reserved).toBe('0.8');
    expect(sell({ kind: 'quantity', value: dec('0.3') }).reserved).toBe('0.3');
    expect(() => sell({ kind: 'percent', value: dec('0.000001') })).toThrow(/rounds to nothing/);
    expect(() => orderTerms(p, input({ side: 'sell', amount: { kind: 'all' } }))).toThrow(/You hold no BTC/);
    const allHeld = portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000', reserved: '1' } } });
    expect(() => orderTerms(allHeld, input({ side: 'sell', coinId: 'ethereum', coinLabel: 'ETH', amount: { kind: 'all' } }))).toThrow(UserError);
  });

  it('placementPlan holds back from what is free and bumps the version, or refuses', () => {
    const p = portfolio({ reservedCash: '5000' });
    const order = asOrder(input({}), p);
    const placed = placementPlan(order, money, 'BTC')(p);
    expect(placed).toMatchObject({ ok: true, portfolio: { cash: '10000', reservedCash: '9504.5', version: 4 } });
    expect(placed.ok && placed.transaction).toBeFalsy();
    const tooMuch = placementPlan(order, money, 'BTC')(portfolio({ reservedCash: '6000' }));
    expect(tooMuch).toEqual({ ok: false, reason: 'Not enough free cash: this order holds back $4504.50 and you have $4000.00 free.' });

    const holding = { coinId: 'ethereum', quantity: '1', costBasis: '3000' };
    const withEth = portfolio({ holdings: { ethereum: holding } });
    const sell = asOrder(input({ side: 'sell', coinId: 'ethereum', coinLabel: 'ETH', amount: { kind: 'quantity', value: dec('0.4') } }), withEth);
    expect(placementPlan(sell, money, 'ETH')(withEth)).toMatchObject({ ok: true, portfolio: { holdings: { ethereum: { quantity: '1', reserved: '0.4' } }, version: 4 } });
    const mostlyHeld = portfolio({ holdings: { ethereum: { ...holding, reserved: '0.7' } } });
    expect(placementPlan(sell, money, 'ETH')(mostlyHeld)).toEqual({ ok: false, reason: 'You have only 0.3 ETH free to sell.' });
  });

  it('released gives back exactly the order\'s hold and leaves the others', () => {
    const p = portfolio();
    const buy = asOrder(input({}), p);
    expect(dec(released(portfolio({ reservedCash: '5004.5' }), buy).reservedCash!).toFixed()).toBe('500');
    expect(dec(released(portfolio({ reservedCash: '4504.5' }), buy).reservedCash!).isZero()).toBe(true);

    const withEth = portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000' } } });
    const sell = asOrder(input({ side: 'sell', coinId: 'ethereum', coinLabel: 'ETH', amount: { kind: 'quantity', value: dec('0.4') } }), withEth);
    const held = (reserved: string) => portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000', reserved } } });
    expect(released(held('0.6'), sell).holdings.ethereum).toEqual({ coinId: 'ethereum', quantity: '1', costBasis: '3000', reserved: '0.2' });
    expect(released(held('0.4'), sell).holdings.ethereum).toEqual({ coinId: 'ethereum', quantity: '1', costBasis: '3000' });
    // Releasing changes nothing else; releasePlan adds the version bump.
    expect(releasePlan(sell)(held('0.4'))).toEqual({ ok: true, portfolio: { ...withEth, version: 4 } });
  });

  it('fillPlan releases the hold and trades from it in one plan', () => {
    const p = portfolio({ cash: '10000', reservedCash: '4504.5' });
    const buy = asOrder(input({}), p);
    const filled = fillPlan(buy, tradeTerms('44000'))(p);
    if (!filled.ok) throw new Error(filled.reason);
    // 0.1 x 44,000 = 4,400 plus fee 4.40: 10,000 - 4,404.40.
    expect(filled.portfolio).toMatchObject({ cash: '5595.6', version: 4, holdings: { bitcoin: { quantity: '0.1', costBasis: '4404.4' } } });
    expect(dec(filled.portfolio.reservedCash!).isZero()).toBe(true);
    expect(filled.transaction).toMatchObject({ type: 'buy', quantity: '0.1', price: '44000', amount: '4400', fee: '4.4', orderId: 'a1b2c3d4', marketPrice: '44000' });

    const withEth = portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000', reserved: '0.6' } } });
    const sell = asOrder(input({ side: 'sell', coinId: 'ethereum', coinLabel: 'ETH', amount: { kind: 'quantity', value: dec('0.4') } }), portfolio({ holdings: { ethereum: { coinId: 'ethereum', quantity: '1', costBasis: '3000' } } }));
    const sold = fillPlan(sell, tradeTerms('3500', { coinId: 'ethereum', coinLabel: 'ETH' }))(withEth);
    if (!sold.ok) throw new Error(sold.reason);
    // 0.4 x 3,500 = 1,400 less fee 1.40; basis released 1,200; the other order's 0.2 stays held.
    expect(sold.portfolio).toMatchObject({ cash: '11398.6', realizedPnl: '198.6', holdings: { ethereum: { quantity: '0.6', costBasis: '1800', reserved: '0.2' } } });
  });

  it('fillPlan refuses a stop buy whose price gapped past the free cash', () => {
    const p = portfolio({ cash: '5600', reservedCash: '5508.55' });
    const stop = asOrder(input({ type: 'stop', trigger: dec('55000') }), p);
    // At 60,000: 6,000 plus fee 6 > 5,600.
    const gapped = fillPlan(stop, tradeTerms('60000'))(p);
    expect(gapped.ok).toBe(false);
    expect(!gapped.ok && gapped.reason).toMatch(/Not enough cash/);
  });

  it('orderFillPrice: a stop pays the costed market; a limit no more than its limit', () => {
    const p = portfolio();
    const limit = asOrder(input({}), p);
    expect(orderFillPrice(limit, dec('44990'), COSTS).price.toFixed()).toBe('45000');
    expect(orderFillPrice(limit, dec('44000'), COSTS).price.toFixed()).toBe('44023.936');
    const stop = asOrder(input({ type: 'stop', trigger: dec('55000') }), p);
    // Worth 0.1 x 56,000 = 5,600 at the market: 5.56 bp; 56,000 x 1.000556 = 56,031.136.
    expect(orderFillPrice(stop, dec('56000'), COSTS).price.toFixed()).toBe('56031.136');
    const cashStop = asOrder(input({ type: 'stop', trigger: dec('55000'), amount: { kind: 'cash', value: dec('20000') } }), p);
    // Sized by its cash, 20,000: 5 + 2 bp.
    expect(orderFillPrice(cashStop, dec('56000'), COSTS).price.toFixed()).toBe('56039.2');
  });
});
