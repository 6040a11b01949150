import { describe, expect, it } from 'vitest';
import { DEFAULT_COINS, REFERENCE_FIAT_RATES } from '../core/coins';
import { Dec } from '../core/money';
import { SimulatedFeed, mulberry32 } from '../infra/prices/simulated-feed';

const ids = DEFAULT_COINS.map((c) => c.id);

function prices(feed: SimulatedFeed): string[] {
  return ids.map((id) => feed.quote(id)?.price ?? 'missing');
}

function walk(seed: number, steps: number): string[][] {
  const feed = new SimulatedFeed({ seed, clock: { now: () => 0 } });
  const history: string[][] = [];
  for (let i = 0; i < steps; i++) {
    feed.step();
    history.push(prices(feed));
  }
  return history;
}

describe('SimulatedFeed', () => {
  it('replays the same prices for the same seed', () => {
    expect(walk(42, 50)).toEqual(walk(42, 50));
    expect(walk(7, 50)).toEqual(walk(7, 50));
  });

  it('walks differently with another seed', () => {
    expect(walk(42, 5)).not.toEqual(walk(43, 5));
  });

  it('defaults to seed 42', () => {
    const a = new SimulatedFeed({ clock: { now: () => 0 } });
    const b = new SimulatedFeed({ seed: 42, clock: { now: () => 0 } });
    a.step();
    b.step();
    expect(prices(a)).toEqual(prices(b));
  });

  it('starts at the reference prices and marks everything simulated', async () => {
    const feed = new SimulatedFeed({ clock: { now: () => 1000 } });
    expect(feed.simulated).toBe(true);
    expect(feed.quote('bitcoin')).toEqual({
      coinId: 'bitcoin',
      price: '87000',
      change24hPercent: '0',
      receivedAt: 1000,
      simulated: true,
      source: 'simulated',
    });
    expect(feed.fiatRates()).toEqual({ rates: { ...REFERENCE_FIAT_RATES }, simulated: true });
  });

  it('moves each price by at most about half a percent per step, to 8 significant digits', () => {
    let now = 0;
    const feed = new SimulatedFeed({ clock: { now: () => now } });
    const before = ids.map((id) => new Dec(feed.quote(id)!.price));
    now = 5000;
    feed.step();
    ids.forEach((id, i) => {
      const quote = feed.quote(id)!;
      const price = new Dec(quote.price);
      expect(quote.receivedAt).toBe(5000);
      expect(price.sd()).toBeLessThanOrEqual(8);
      expect(price.div(before[i]!).minus(1).abs().lte('0.0051')).toBe(true);
      // change24h is the walk so far, relative to the reference price.
      const expected = price.div(before[i]!).minus(1).times(100).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
      expect(quote.change24hPercent).toBe(expected.toFixed());
    });
    expect(prices(feed)).not.toEqual(before.map((p) => p.toFixed()));
  });

  it('keeps prices positive (and plausible) over 10,000 steps', () => {
    const feed = new SimulatedFeed({ seed: 1234, clock: { now: () => 0 } });
    for (let i = 0; i < 10_000; i++) feed.step();
    for (const coin of DEFAULT_COINS) {
      const price = new Dec(feed.quote(coin.id)!.price);
      expect(price.gt(0)).toBe(true);
      const ratio = price.div(coin.referencePriceUsd);
      expect(ratio.gt('0.2') && ratio.lt(5)).toBe(true);
    }
  });

  it('starts coins outside DEFAULT_COINS at 1.00 and stops walking untracked coins', () => {
    const feed = new SimulatedFeed({ clock: { now: () => 0 }, coinIds: ['bitcoin'] });
    feed.track(['bitcoin', 'my-token']);
    expect(feed.quote('my-token')?.price).toBe('1');
    expect(feed.quote('ethereum')).toBeUndefined();
    feed.step();
    feed.track(['my-token']);
    const frozen = feed.quote('bitcoin');
    feed.step();
    expect(feed.quote('bitcoin')).toEqual(frozen);
    expect(feed.quote('my-token')?.price).not.toBe('1');
  });

  it('looks coins up in DEFAULT_COINS only', async () => {
    const feed = new SimulatedFeed();
    expect(await feed.lookupCoin('solana')).toEqual({ id: 'solana', symbol: 'sol', name: 'Solana' });
    expect(await feed.lookupCoin('no-such-coin')).toBeNull();
  });

  it('steps on a timer between start() and stop()', async () => {
    const feed = new SimulatedFeed({ clock: { now: () => 0 } });
    const start = feed.quote('bitcoin')?.price;
    feed.start(10);
    await new Promise((resolve) => setTimeout(resolve, 60));
    feed.stop();
    const after = feed.quote('bitcoin')?.price;
    expect(after).not.toBe(start);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(feed.quote('bitcoin')?.price).toBe(after);
  });

  it('uses a deterministic 32-bit PRNG', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 5 }, () => a());
    expect(draws).toEqual(Array.from({ length: 5 }, () => b()));
    for (const d of draws) expect(Number.isInteger(d) && d >= 0 && d < 2 ** 32).toBe(true);
  });
});
